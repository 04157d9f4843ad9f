-- A callback can arrive while the push acknowledgement that names its CheckoutRequestID is
-- being stored. When stk_apply_result finds no payment it now takes a transaction-level
-- advisory lock on the CheckoutRequestID (class 42101) and looks again. The acknowledgement
-- takes the same lock, so the early callback is either matched or found and applied by the
-- acknowledgement.
CREATE OR REPLACE FUNCTION stk_apply_result(
    p_source              text,
    p_checkout_request_id text,
    p_merchant_request_id text,
    p_result_code         text,
    p_result_desc         text,
    p_status              text,
    p_receipt             text,
    p_paid_amount         numeric,
    p_paid_phone          text,
    p_transaction_time    timestamptz,
    p_raw_body            text,
    p_source_address      text,
    p_received_at         timestamptz)
RETURNS TABLE (outcome text, public_id text, status text, status_changed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    pay       stk_payments%ROWTYPE;
    v_outcome text;
    v_status  text;
    v_changed boolean := false;
BEGIN
    IF p_status NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out') THEN
        RAISE EXCEPTION 'stk_apply_result needs a final status, got %', p_status
            USING ERRCODE = '22023';
    END IF;

    SELECT * INTO pay FROM stk_payments p
     WHERE p.checkout_request_id = p_checkout_request_id
       FOR UPDATE;

    -- Not found: the push acknowledgement naming this id may be committing right now. The
    -- lock waits for it, and the second look sees it; otherwise this event is committed as
    -- unmatched before the acknowledgement (which takes the same lock) searches for it.
    IF NOT FOUND THEN
        PERFORM pg_advisory_xact_lock(42101, hashtext(p_checkout_request_id));
        SELECT * INTO pay FROM stk_payments p
         WHERE p.checkout_request_id = p_checkout_request_id
           FOR UPDATE;
    END IF;

    -- A push whose answer was lost has no CheckoutRequestID. Only a success names the phone
    -- and the amount, so only a success can be matched to such a payment.
    IF NOT FOUND AND p_status = 'succeeded' AND p_paid_phone IS NOT NULL
       AND p_paid_amount IS NOT NULL THEN
        SELECT * INTO pay FROM stk_payments p
         WHERE p.outcome_unknown AND p.status = 'pending'
           AND p.checkout_request_id IS NULL
           AND p.phone = p_paid_phone AND p.amount = p_paid_amount
           AND p_received_at BETWEEN p.created_at AND p.deadline_at
         ORDER BY p.created_at
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
    END IF;

    IF NOT FOUND THEN
        v_outcome := 'unmatched';
    ELSIF p_paid_amount IS NOT NULL AND p_paid_amount <> pay.amount THEN
        v_outcome := 'amount_mismatch';
    ELSIF p_paid_phone IS NOT NULL AND p_paid_phone <> pay.phone THEN
        v_outcome := 'phone_mismatch';
    ELSIF pay.status = 'pending' THEN
        v_outcome := 'applied';
    ELSIF p_status = 'succeeded' AND pay.status IN ('failed', 'timed_out')
          AND pay.learnt_via IN ('query', 'deadline') THEN
        -- The money moved after the reconciler gave up: the success wins.
        v_outcome := 'late_success';
    ELSIF p_status = pay.status AND p_status = 'succeeded'
          AND pay.mpesa_receipt_number IS NULL AND p_receipt IS NOT NULL THEN
        v_outcome := 'receipt_added';
    ELSIF p_status = pay.status THEN
        v_outcome := 'duplicate';
    ELSE
        v_outcome := 'conflict';
    END IF;

    v_status := pay.status;
    IF v_outcome IN ('applied', 'late_success') THEN
        BEGIN
            UPDATE stk_payments p
               SET status = p_status,
                   result_code = p_result_code,
                   result_desc = p_result_desc,
                   mpesa_receipt_number = COALESCE(p_receipt, p.mpesa_receipt_number),
                   paid_amount = COALESCE(p_paid_amount, p.paid_amount),
                   paid_phone = COALESCE(p_paid_phone, p.paid_phone),
                   transaction_time = COALESCE(p_transaction_time, p.transaction_time),
                   learnt_via = p_source,
                   checkout_request_id = COALESCE(p.checkout_request_id, p_checkout_request_id),
                   merchant_request_id = COALESCE(p.merchant_request_id, p_merchant_request_id),
                   outcome_unknown = false,
                   next_reconcile_at = NULL,
                   updated_at = now(),
                   completed_at = now()
             WHERE p.id = pay.id
            RETURNING p.status INTO v_status;
            v_changed := true;
        EXCEPTION WHEN unique_violation THEN
            -- The receipt (or CheckoutRequestID) already belongs to another payment.
            v_outcome := 'conflict';
        END;
    ELSIF v_outcome = 'receipt_added' THEN
        BEGIN
            UPDATE stk_payments p
               SET mpesa_receipt_number = p_receipt,
                   paid_amount = COALESCE(p_paid_amount, p.paid_amount),
                   paid_phone = COALESCE(p_paid_phone, p.paid_phone),
                   transaction_time = COALESCE(p_transaction_time, p.transaction_time),
                   updated_at = now()
             WHERE p.id = pay.id;
        EXCEPTION WHEN unique_violation THEN
            v_outcome := 'conflict';
        END;
    END IF;

    INSERT INTO stk_callback_events
        (payment_id, source, checkout_request_id, result_code, raw_body, source_address,
         received_at, outcome)
    VALUES
        (CASE WHEN v_outcome = 'unmatched' THEN NULL ELSE pay.id END,
         CASE WHEN p_source = 'query' THEN 'query' ELSE 'callback' END,
         p_checkout_request_id, p_result_code, p_raw_body, p_source_address,
         p_received_at, v_outcome);

    RETURN QUERY SELECT v_outcome, pay.public_id, v_status, v_changed;
END;
$$;

-- Applies a batch of final results in one call, so many callbacks share one round trip and
-- one commit (group commit). Each element of p_batch is an object with the arguments of
-- stk_apply_result: source, checkout_request_id, merchant_request_id, result_code,
-- result_desc, status, receipt, paid_amount (text), paid_phone, transaction_time_us and
-- received_at_us (microseconds since the Unix epoch), raw_body and source_address.
-- Elements are applied in array order; the caller sorts them by CheckoutRequestID so that
-- concurrent batches lock payment rows in the same order and cannot deadlock.
CREATE FUNCTION stk_apply_results(p_batch jsonb)
RETURNS TABLE (item integer, outcome text, public_id text, status text, status_changed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    element  jsonb;
    position integer;
    applied  record;
BEGIN
    FOR element, position IN
        SELECT value, ordinality::integer FROM jsonb_array_elements(p_batch) WITH ORDINALITY
    LOOP
        SELECT * INTO applied FROM stk_apply_result(
            element->>'source',
            element->>'checkout_request_id',
            element->>'merchant_request_id',
            element->>'result_code',
            element->>'result_desc',
            element->>'status',
            element->>'receipt',
            (element->>'paid_amount')::numeric,
            element->>'paid_phone',
            to_timestamp((element->>'transaction_time_us')::bigint / 1000000.0),
            element->>'raw_body',
            element->>'source_address',
            to_timestamp((element->>'received_at_us')::bigint / 1000000.0));
        item := position;
        outcome := applied.outcome;
        public_id := applied.public_id;
        status := applied.status;
        status_changed := applied.status_changed;
        RETURN NEXT;
    END LOOP;
END;
$$;
