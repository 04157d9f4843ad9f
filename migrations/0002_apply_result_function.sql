-- Applies one final result (from a callback or an STK Push Query) in a single round trip:
-- locks the payment, decides the outcome, updates the payment when the outcome allows it,
-- and records the event. Called inside the caller's transaction, so the event row and the
-- payment update commit together.
--
-- p_status is the state the caller derived from the result: a callback's ResultCode 0
-- counts as succeeded only with a receipt, a query's ResultCode 0 counts as succeeded
-- without one. It must be final, never 'pending'.
CREATE FUNCTION stk_apply_result(
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
