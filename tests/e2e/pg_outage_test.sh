#!/usr/bin/env bash
# Fault: PostgreSQL stops for 10 s while callbacks arrive, then starts again. Every callback
# the server acknowledged, spooled or not, must be applied in the database afterwards, once.
source "$(dirname "$0")/lib.sh"
e2e_setup pg_outage

count=${MPESA_E2E_FAULT_COUNT:-12000}
rate=${MPESA_E2E_FAULT_RATE:-400}
seed_payments 1 "$count"
callback_port=$(free_port 18400)
api_port=$(free_port $((callback_port + 1)))
start_serve main "$callback_port" "$api_port" MPESA_SPOOL_REPLAY_INTERVAL_MS=500

e2e_log "sending $count callbacks at $rate/s"
"$MPESA_E2E_LOAD" --port "$callback_port" --path "$(callback_path)" --plan steady --first 1 \
  --count "$count" --rate "$rate" --threads 32 --seconds 120 \
  --acked-file "$E2E_WORK/acked" >"$E2E_WORK/load.out" &
load_pid=$!

sleep 5
e2e_log "stopping PostgreSQL for 10 s"
stop_postgres
sleep 10
start_postgres
e2e_log "PostgreSQL is back"
wait "$load_pid" || e2e_fail "the load generator failed"
cat "$E2E_WORK/load.out"

acked=$(wc -l <"$E2E_WORK/acked")
[ "$acked" -gt 0 ] || e2e_fail "no callback was acknowledged"
grep -q 'spooling it' "$E2E_WORK/serve-main.log" \
  || e2e_fail "the server never spooled a callback, so the outage did not happen under load"

# The spool replays in the background; give it time to drain.
applied=$(wait_for_sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'" "$acked" 90)
e2e_log "applied events after the replay: $applied of $acked acknowledged"
expect_equal "acknowledged callbacks missing from the database" "$(acked_missing "$E2E_WORK/acked")" 0
expect_equal "applied events (one per acknowledged callback)" \
  "$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'")" "$acked"
expect_equal "succeeded payments" "$(sql "SELECT count(*) FROM stk_payments WHERE status = 'succeeded'")" "$acked"
stop_serves
e2e_log "PostgreSQL outage test passed"
