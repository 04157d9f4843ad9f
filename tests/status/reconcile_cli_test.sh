#!/usr/bin/env bash
# `mpesa-stk reconcile --once` settles a payment whose callback the simulator withheld.
# Usage: reconcile_cli_test.sh MPESA_STK_BIN; needs MPESA_TEST_DATABASE_URL and psql.
set -euo pipefail
stk=$1
admin_url=${MPESA_TEST_DATABASE_URL:?MPESA_TEST_DATABASE_URL is not set: run this test through scripts/test}
database=mpesa_reconcile_cli_$$
url="${admin_url%/*}/$database"
work=$(mktemp -d /tmp/mpesa-reconcile-cli.XXXXXX)
simulator_pid=

cleanup() {
  [ -n "$simulator_pid" ] && kill -TERM "$simulator_pid" 2>/dev/null && wait "$simulator_pid" 2>/dev/null
  psql "$admin_url" -qtAc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

free_port() {
  local port=$((20000 + RANDOM % 20000))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

psql "$admin_url" -qtAc "CREATE DATABASE $database" >/dev/null
MPESA_DATABASE_URL=$url "$stk" migrate >/dev/null

port=$(free_port)
export MPESA_CONSUMER_KEY=cli-consumer-key MPESA_CONSUMER_SECRET=cli-consumer-secret
export MPESA_SHORTCODE=174379
export MPESA_PASSKEY=bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919
export MPESA_BASE_URL=http://127.0.0.1:$port
export MPESA_CALLBACK_URL=http://127.0.0.1:9/mpesa/callback
"$stk" simulate --listen "127.0.0.1:$port" --answer-delay-ms 200 >"$work/simulator.log" 2>&1 &
simulator_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# The phone ending in 10 pays, but the simulator never sends its callback.
"$stk" push --phone 0708374110 --amount 30 --reference CLI-1 >"$work/push.txt"
checkout=$(grep -o 'ws_CO_[A-Za-z0-9_]*' "$work/push.txt" | head -n 1)
[ -n "$checkout" ] || fail "no CheckoutRequestID in the push output: $(cat "$work/push.txt")"
psql "$url" -qtAc "
  INSERT INTO stk_payments (public_id, checkout_request_id, account_reference, description, phone, amount,
                            shortcode, transaction_type, next_reconcile_at, deadline_at)
  VALUES ('pay_cli_test', '$checkout', 'CLI-1', 'Payment', '254708374110', 30, '174379',
          'CustomerPayBillOnline', now(), now() + interval '10 minutes')" >/dev/null
sleep 0.5  # the simulated customer answers after 200 ms

output=$(MPESA_DATABASE_URL=$url "$stk" reconcile --once 2>"$work/reconcile.log")
echo "$output"
grep -q 'settled 1' <<<"$output" || fail "reconcile --once did not settle the payment: $output"
state=$(psql "$url" -qtAc "SELECT status || ' ' || learnt_via FROM stk_payments WHERE public_id = 'pay_cli_test'")
[ "$state" = "succeeded query" ] || fail "payment is '$state', expected 'succeeded query'"
grep -q "$checkout" "$work/reconcile.log" && fail "the reconcile log contains the full CheckoutRequestID"
echo "reconcile --once settled the payment by query"
