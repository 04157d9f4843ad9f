-- Inserts pending payments ws_CO_<first> .. ws_CO_<last> for the benchmarks and the
-- end-to-end tests: amount 1, phone 254700000001, public ids pay_bench_<n>. No reconcile
-- time is set and the deadline is a day away, so the reconciler leaves them alone.
-- usage: psql -v first=1 -v last=200000 -f seed_payments.sql
INSERT INTO stk_payments (public_id, merchant_request_id, checkout_request_id, account_reference,
                          description, phone, amount, shortcode, transaction_type, deadline_at)
SELECT 'pay_bench_' || g, '29115-34620561-1', 'ws_CO_' || g, 'BENCH', 'Bench', '254700000001', 1,
       '174379', 'CustomerPayBillOnline', now() + interval '1 day'
FROM generate_series(:first, :last) AS g;
ANALYZE stk_payments;
