-- Payments initiated through STK Push and every result received for them.
--
-- A payment moves from pending to exactly one final state. The only change after
-- that is a success that arrives after a failure or timeout set by the reconciler
-- (learnt by query or by the deadline), because the money has moved.

CREATE TABLE stk_payments (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Opaque random id handed to frontends; the only key they can look a payment up by.
    public_id           text        NOT NULL UNIQUE,
    -- Caller-chosen key: a repeated create with the same key returns this row and sends no push.
    idempotency_key     text        UNIQUE,
    merchant_request_id text,
    -- NULL until Daraja acknowledges the push, and forever when the push outcome is unknown
    -- and no callback or query ever names it.
    checkout_request_id text        UNIQUE,
    account_reference   text        NOT NULL,
    description         text        NOT NULL,
    -- Normalised 12-digit MSISDN (2547XXXXXXXX or 2541XXXXXXXX).
    phone               text        NOT NULL,
    -- Whole shillings, Daraja's STK Push range.
    amount              bigint      NOT NULL CHECK (amount BETWEEN 1 AND 250000),
    shortcode           text        NOT NULL,
    transaction_type    text        NOT NULL
                        CHECK (transaction_type IN ('CustomerPayBillOnline', 'CustomerBuyGoodsOnline')),
    status              text        NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    -- ResultCode verbatim (Daraja sends numbers and, rarely, non-numeric strings), or the
    -- Daraja errorCode of a rejected push.
    result_code         text,
    result_desc         text,
    mpesa_receipt_number text       UNIQUE,
    -- What the callback reports as paid: amount in shillings with cents, and the payer's MSISDN.
    paid_amount         numeric(12, 2),
    paid_phone          text,
    -- TransactionDate of the callback, converted from Nairobi time.
    transaction_time    timestamptz,
    -- Daraja's CustomerMessage from the push acknowledgement.
    customer_message    text,
    -- How the final state was learnt: a callback, an STK Push Query, or the payment deadline.
    learnt_via          text        CHECK (learnt_via IN ('callback', 'query', 'deadline')),
    -- The push may have reached Daraja but no answer arrived. The payment stays pending until a
    -- callback (matched by phone and amount when no CheckoutRequestID is known) or query settles it.
    outcome_unknown     boolean     NOT NULL DEFAULT false,
    -- When the reconciler should next ask STK Push Query; NULL once the payment is final.
    next_reconcile_at   timestamptz,
    -- After this instant a still-pending payment becomes timed_out.
    deadline_at         timestamptz NOT NULL,
    reconcile_attempts  integer     NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    CHECK ((status = 'pending') = (completed_at IS NULL))
);

-- The reconciler claims due pending payments in next_reconcile_at order.
CREATE INDEX stk_payments_due_idx ON stk_payments (next_reconcile_at)
    WHERE status = 'pending';
-- Pending payments past their deadline.
CREATE INDEX stk_payments_deadline_idx ON stk_payments (deadline_at)
    WHERE status = 'pending';
-- Callbacks without a known CheckoutRequestID are matched to outcome-unknown pushes by phone
-- and amount.
CREATE INDEX stk_payments_outcome_unknown_idx ON stk_payments (phone, amount)
    WHERE outcome_unknown AND status = 'pending';

CREATE TABLE stk_callback_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The payment the event was matched to; NULL for unmatched and malformed events.
    payment_id          bigint      REFERENCES stk_payments (id),
    -- Where the result came from: a Daraja callback or an STK Push Query answer.
    source              text        NOT NULL DEFAULT 'callback'
                        CHECK (source IN ('callback', 'query')),
    checkout_request_id text,
    result_code         text,
    -- The body exactly as received, for review and replay.
    raw_body            text        NOT NULL,
    -- The client address after the X-Forwarded-For rules; NULL for query results.
    source_address      text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    -- What was done with the event:
    --   applied          settled a pending payment
    --   duplicate        repeated a result the payment already has
    --   unmatched        names no known payment
    --   amount_mismatch  amount differs from the request; no payment changed
    --   phone_mismatch   payer's phone differs from the request; no payment changed
    --   malformed        authentic request whose body is not a valid callback
    --   late_success     success after a failure or timeout set by the reconciler; it won
    --   receipt_added    callback filled the receipt of a success learnt by query
    --   conflict         a different final result for an already settled payment; ignored
    --   rematched        arrived before the push acknowledgement was stored (unmatched then),
    --                    and was applied once it was; the applying event is a separate row
    outcome             text        NOT NULL
                        CHECK (outcome IN ('applied', 'duplicate', 'unmatched', 'amount_mismatch',
                                           'phone_mismatch', 'malformed', 'late_success',
                                           'receipt_added', 'conflict', 'rematched'))
);

CREATE INDEX stk_callback_events_checkout_idx ON stk_callback_events (checkout_request_id);
CREATE INDEX stk_callback_events_payment_idx ON stk_callback_events (payment_id);
CREATE INDEX stk_callback_events_review_idx ON stk_callback_events (received_at)
    WHERE outcome IN ('unmatched', 'amount_mismatch', 'phone_mismatch', 'malformed', 'conflict');

-- Wakes long-poll waiters in every server instance sharing the database when a payment's
-- status or receipt changes. The payload is the payment's public id.
CREATE FUNCTION stk_payments_notify_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('stk_payment_status', NEW.public_id);
    RETURN NEW;
END;
$$;

CREATE TRIGGER stk_payments_status_changed
    AFTER UPDATE ON stk_payments
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.mpesa_receipt_number IS DISTINCT FROM NEW.mpesa_receipt_number)
    EXECUTE FUNCTION stk_payments_notify_status();
