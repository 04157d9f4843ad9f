#!/usr/bin/env bash
# Soak: 100,000 callbacks (MPESA_E2E_SOAK_COUNT) mixing valid ones, 10% duplicates (half of
# them sent at the same moment as the original), 5% unknown ids, 2% amount mismatches and 5%
# hostile requests. Afterwards the database must hold exactly the expected payment states and
# callback events.
source "$(dirname "$0")/lib.sh"
e2e_setup soak

count=${MPESA_E2E_SOAK_COUNT:-100000}
# The generator derives the mix from the count; seed enough payments for every role.
seed_payments 1 "$count"

callback_port=$(free_port 18300)
api_port=$(free_port $((callback_port + 1)))
start_serve main "$callback_port" "$api_port"

e2e_log "sending $count callbacks"
"$MPESA_E2E_LOAD" --port "$callback_port" --path "$(callback_path)" --plan soak --first 1 \
  --count "$count" --threads 32 --seconds 420 \
  --acked-file "$E2E_WORK/acked" --expect-file "$E2E_WORK/expect" | tee "$E2E_WORK/load.out"
grep -q 'unexpected answers 0$' "$E2E_WORK/load.out" || e2e_fail "some requests got an unexpected answer (above)"
grep -q 'transport errors 0,' "$E2E_WORK/load.out" || e2e_fail "some requests failed in transport (above)"

# shellcheck disable=SC1091
source "$E2E_WORK/expect"
mismatch_first=$((first + valid))
decoy_first=$((mismatch_first + mismatches))
decoy_last=$((decoy_first + decoys - 1))

expect_equal "sent count" "$(sed -E 's/^sent ([0-9]+) of.*/\1/' "$E2E_WORK/load.out")" "$count"
expect_equal "acknowledged distinct valid ids" "$(wc -l <"$E2E_WORK/acked")" "$valid"
expect_equal "missing acknowledged ids" "$(acked_missing "$E2E_WORK/acked")" 0

in_range() { printf "substring(checkout_request_id from 7)::bigint BETWEEN %s AND %s" "$1" "$2"; }
numbered="checkout_request_id ~ '^ws_CO_[0-9]+$'"
expect_equal "succeeded payments" \
  "$(sql "SELECT count(*) FROM stk_payments WHERE status = 'succeeded'")" "$valid"
expect_equal "succeeded payments with their own receipt" \
  "$(sql "SELECT count(*) FROM stk_payments WHERE status = 'succeeded' AND $numbered
            AND mpesa_receipt_number = 'QA' || lpad(substring(checkout_request_id from 7), 8, '0')")" "$valid"
expect_equal "pending payments with an amount mismatch" \
  "$(sql "SELECT count(*) FROM stk_payments WHERE status = 'pending' AND $numbered
            AND $(in_range "$mismatch_first" $((decoy_first - 1)))")" "$mismatches"
expect_equal "decoy payments still pending" \
  "$(sql "SELECT count(*) FROM stk_payments WHERE status = 'pending' AND $numbered
            AND $(in_range "$decoy_first" "$decoy_last")")" "$decoys"
expect_equal "payments that are not pending" \
  "$(sql "SELECT count(*) FROM stk_payments WHERE status <> 'pending'")" "$valid"

expect_equal "applied events" "$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'")" "$valid"
expect_equal "duplicate events" "$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'duplicate'")" "$duplicates"
expect_equal "unmatched events" "$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'unmatched'")" "$unknown"
expect_equal "amount mismatch events" \
  "$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'amount_mismatch'")" "$mismatches"
expect_equal "events for decoy payments" \
  "$(sql "SELECT count(*) FROM stk_callback_events e JOIN stk_payments p ON p.id = e.payment_id
            WHERE $(in_range "$decoy_first" "$decoy_last" | sed 's/checkout_request_id/p.checkout_request_id/')")" 0
expect_equal "events of other kinds" \
  "$(sql "SELECT count(*) FROM stk_callback_events
            WHERE outcome NOT IN ('applied', 'duplicate', 'unmatched', 'amount_mismatch', 'malformed')")" 0
# Authentic requests whose body is not a callback are kept for review, one event each.
expect_equal "malformed events" \
  "$(sql "SELECT count(*) FROM stk_callback_events WHERE outcome = 'malformed'")" "$authentic_malformed"
stop_serves
e2e_log "soak passed"
