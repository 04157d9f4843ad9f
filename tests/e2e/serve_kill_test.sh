#!/usr/bin/env bash
# Fault: `mpesa-stk serve` is killed with SIGKILL while callbacks arrive, then started again
# with the same spool. Every callback it acknowledged must be applied in the database.
source "$(dirname "$0")/lib.sh"
e2e_setup serve_kill

count=${MPESA_E2E_FAULT_COUNT:-12000}
rate=${MPESA_E2E_FAULT_RATE:-400}
seed_payments 1 "$count"
callback_port=$(free_port 18500)
api_port=$(free_port $((callback_port + 1)))
start_serve main "$callback_port" "$api_port"
first_pid=$SERVE_PID

e2e_log "sending $count callbacks at $rate/s"
"$MPESA_E2E_LOAD" --port "$callback_port" --path "$(callback_path)" --plan steady --first 1 \
  --count "$count" --rate "$rate" --threads 32 --seconds 120 \
  --acked-file "$E2E_WORK/acked" >"$E2E_WORK/load.out" &
load_pid=$!

sleep 5
e2e_log "killing serve with SIGKILL"
kill -KILL "$first_pid"
wait "$first_pid" 2>/dev/null || true
before_restart=$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'")
sleep 2
start_serve main "$callback_port" "$api_port"
e2e_log "serve restarted after $before_restart applied callbacks"
wait "$load_pid" || e2e_fail "the load generator failed"
cat "$E2E_WORK/load.out"

acked=$(wc -l <"$E2E_WORK/acked")
[ "$before_restart" -gt 0 ] || e2e_fail "nothing was applied before the kill"
[ "$acked" -gt "$before_restart" ] || e2e_fail "nothing was acknowledged after the restart"
grep -Eq 'transport errors [1-9]' "$E2E_WORK/load.out" \
  || e2e_fail "no request failed, so the kill did not happen under load"

wait_for_sql "SELECT count(*) >= $acked FROM stk_callback_events WHERE outcome = 'applied'" t 60 >/dev/null
expect_equal "acknowledged callbacks missing from the database" "$(acked_missing "$E2E_WORK/acked")" 0
# A request in flight at the kill may have been committed without its answer arriving, so
# the database may hold a few more than the acknowledged set, never fewer, and each once.
applied=$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'")
succeeded=$(sql "SELECT count(*) FROM stk_payments WHERE status = 'succeeded'")
expect_equal "applied events match succeeded payments" "$applied" "$succeeded"
[ "$applied" -ge "$acked" ] || e2e_fail "applied $applied is below acknowledged $acked"
stop_serves
e2e_log "serve kill test passed ($acked acknowledged, $applied applied)"
