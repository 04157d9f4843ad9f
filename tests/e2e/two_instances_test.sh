#!/usr/bin/env bash
# Two `mpesa-stk serve` instances share one database, each with its reconciler, against the
# simulator. Every push's callback is lost (phone suffix 10), so only STK Push Query settles
# the payments: each must be settled exactly once and queried to its result by one instance.
source "$(dirname "$0")/lib.sh"
e2e_setup two_instances

payments=${MPESA_E2E_RECONCILE_PAYMENTS:-100}
export MPESA_CONSUMER_KEY=e2e-consumer-key MPESA_CONSUMER_SECRET=e2e-consumer-secret
api_key=e2e-api-key-0123456789abcdef

simulator_port=$(free_port 18600)
"$MPESA_STK" simulate --listen "127.0.0.1:$simulator_port" --answer-delay-ms 200 \
  >"$E2E_WORK/serve-simulator.log" 2>&1 &
E2E_PIDS+=("$!")
wait_for_port "$simulator_port" 30 || e2e_fail "the simulator did not listen on $simulator_port"

# Both instances query fast and early, so that they compete for the same due payments.
daraja=(MPESA_BASE_URL="http://127.0.0.1:$simulator_port" MPESA_SHORTCODE=174379
  MPESA_PASSKEY=bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919
  MPESA_API_KEY="$api_key" MPESA_RECONCILE_AFTER=1 MPESA_RECONCILE_QUERY_RATE=50)
a_callback=$(free_port 18610)
a_api=$(free_port $((a_callback + 1)))
start_serve a "$a_callback" "$a_api" "${daraja[@]}" \
  MPESA_CALLBACK_URL="http://127.0.0.1:$a_callback/mpesa/callback/$E2E_SECRET"
b_callback=$(free_port $((a_api + 1)))
b_api=$(free_port $((b_callback + 1)))
start_serve b "$b_callback" "$b_api" "${daraja[@]}" \
  MPESA_CALLBACK_URL="http://127.0.0.1:$b_callback/mpesa/callback/$E2E_SECRET"
wait_for_port "$a_api" 30 || e2e_fail "instance a's API did not listen"
wait_for_port "$b_api" 30 || e2e_fail "instance b's API did not listen"

e2e_log "creating $payments payments, alternating between the two instances"
for n in $(seq 1 "$payments"); do
  api=$a_api
  [ $((n % 2)) -eq 0 ] && api=$b_api
  phone=$(printf '2547%06d10' "$n")
  status=$(curl -s -o "$E2E_WORK/create.out" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
    -d "{\"phone\":\"$phone\",\"amount\":1,\"account_reference\":\"E2E$n\"}" \
    "http://127.0.0.1:$api/api/payments")
  case "$status" in
    200|201|202) ;;
    *) cat "$E2E_WORK/create.out" >&2; e2e_fail "POST /api/payments answered $status for payment $n" ;;
  esac
done

pending=$(wait_for_sql "SELECT count(*) FROM stk_payments WHERE status = 'pending'" 0 120)
expect_equal "payments still pending" "$pending" 0
# NOTE: both instances use one Daraja app, and a token issued to one invalidates the other's
# (the simulator does what Daraja may do), so a push can fail with an Auth error after the SDK
# has refreshed once. Those payments never reach Daraja; the checks below cover the others.
accepted=$(sql "SELECT count(*) FROM stk_payments WHERE checkout_request_id IS NOT NULL")
e2e_log "pushes accepted: $accepted of $payments; rejected before reaching the customer: $((payments - accepted))"
[ "$accepted" -ge $((payments / 2)) ] || e2e_fail "fewer than half of the pushes were accepted"
expect_equal "succeeded payments" "$(sql "SELECT count(*) FROM stk_payments WHERE status = 'succeeded'")" "$accepted"
expect_equal "payments learnt by query" \
  "$(sql "SELECT count(*) FROM stk_payments WHERE learnt_via = 'query'")" "$accepted"
expect_equal "applied results" \
  "$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'")" "$accepted"
expect_equal "payments with more than one applied or late result" \
  "$(sql "SELECT count(*) FROM (SELECT payment_id FROM stk_callback_events
            WHERE outcome IN ('applied', 'late_success') GROUP BY payment_id HAVING count(*) > 1) twice")" 0
# A final answer stored twice would show as a second query event (a duplicate).
expect_equal "payments with more than one query result" \
  "$(sql "SELECT count(*) FROM (SELECT payment_id FROM stk_callback_events WHERE source = 'query'
            GROUP BY payment_id HAVING count(*) > 1) twice")" 0
expect_equal "callback events (all callbacks were lost)" \
  "$(sql "SELECT count(*) FROM stk_callback_events WHERE source = 'callback'")" 0

a_settled=$(grep -c 'reconcile .*ResultCode' "$E2E_WORK/serve-a.log" || true)
b_settled=$(grep -c 'reconcile .*ResultCode' "$E2E_WORK/serve-b.log" || true)
e2e_log "results learnt by instance a: $a_settled, by instance b: $b_settled"
expect_equal "results learnt by the two instances together" "$((a_settled + b_settled))" "$accepted"
[ "$a_settled" -gt 0 ] && [ "$b_settled" -gt 0 ] \
  || e2e_fail "one instance settled every payment, so the two never competed"
stop_serves
e2e_log "two instances test passed"
