#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpesa/error.hpp"
#include "mpesa/messages.hpp"
#include "mpesa/payment_status.hpp"

namespace mpesa::server {

using TimePoint = std::chrono::system_clock::time_point;

/// The store's decision about one received result (a callback or an STK Push Query response).
enum class CallbackOutcome {
  /// Settled a pending payment.
  Applied,
  /// Repeated the result the payment already has; nothing changed.
  Duplicate,
  /// Named no known payment; kept for review.
  Unmatched,
  /// The paid amount differs from the requested amount; no payment changed.
  AmountMismatch,
  /// The payer's phone differs from the requested phone; no payment changed.
  PhoneMismatch,
  /// An authentic request whose body is not a valid callback; kept for review.
  Malformed,
  /// A success after a failure or timeout set by the reconciler. It wins, because the money
  /// has moved.
  LateSuccess,
  /// A callback filled in the receipt of a success first learnt by query.
  ReceiptAdded,
  /// A different final result for a payment that is already settled; ignored.
  Conflict,
};

/// Returns the outcome as stored in `stk_callback_events.outcome` ("amount_mismatch").
[[nodiscard]] std::string_view to_string(CallbackOutcome outcome) noexcept;
[[nodiscard]] std::optional<CallbackOutcome> parse_callback_outcome(std::string_view text) noexcept;

/// The source a payment's final state was learnt from.
enum class LearntVia { Callback, Query, Deadline };

/// Returns "callback", "query" or "deadline".
[[nodiscard]] std::string_view to_string(LearntVia via) noexcept;

/// One row of `stk_payments`.
struct PaymentRecord {
  std::int64_t id = 0;
  std::string public_id;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> merchant_request_id;
  std::optional<std::string> checkout_request_id;
  std::string account_reference;
  std::string description;
  /// Normalised 12-digit MSISDN. Mask it (mpesa::mask_phone) before logging or showing it.
  std::string phone;
  /// Whole shillings.
  std::int64_t amount = 0;
  std::string shortcode;
  std::string transaction_type;
  PaymentStatus status = PaymentStatus::Pending;
  std::optional<std::string> result_code;
  std::optional<std::string> result_desc;
  std::optional<std::string> receipt;
  /// The amount the callback reported as paid, in cents.
  std::optional<std::int64_t> paid_amount_cents;
  std::optional<std::string> paid_phone;
  std::optional<TimePoint> transaction_time;
  std::optional<std::string> customer_message;
  std::optional<LearntVia> learnt_via;
  bool outcome_unknown = false;
  std::optional<TimePoint> next_reconcile_at;
  TimePoint deadline_at;
  int reconcile_attempts = 0;
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<TimePoint> completed_at;
};

/// A validated payment about to be pushed.
struct NewPayment {
  /// Unique per payment; a second create with the same key returns the first payment.
  std::optional<std::string> idempotency_key;
  std::string account_reference;
  std::string description;
  std::string phone;
  std::int64_t amount = 0;
  std::string shortcode;
  std::string transaction_type;
  /// When the reconciler should first ask STK Push Query.
  TimePoint next_reconcile_at;
  /// When a still-pending payment becomes timed_out.
  TimePoint deadline_at;
};

/// The result of PaymentStore::create_payment.
struct CreatedPayment {
  PaymentRecord payment;
  /// False when the idempotency key already existed and `payment` is the earlier one.
  bool created = true;
};

/// A final result for one CheckoutRequestID, from a callback or from STK Push Query. Both go
/// through PaymentStore::apply_result, so they settle a payment in exactly the same way.
struct ReceivedResult {
  /// Callback or Query.
  LearntVia source = LearntVia::Callback;
  std::string checkout_request_id;
  std::string merchant_request_id;
  std::string result_code;
  std::string result_desc;
  /// The final state this result means; never Pending.
  PaymentStatus status = PaymentStatus::Failed;
  std::optional<std::string> receipt;
  std::optional<std::int64_t> paid_amount_cents;
  /// The payer's MSISDN as 12 digits.
  std::optional<std::string> paid_phone;
  std::optional<TimePoint> transaction_time;
  /// The body exactly as received.
  std::string raw_body;
  /// The client address of a callback; empty for a query.
  std::string source_address;
  TimePoint received_at;

  /// Builds the result of a parsed callback.
  [[nodiscard]] static ReceivedResult from_callback(const StkCallback& callback, std::string raw_body,
                                                    std::string source_address,
                                                    TimePoint received_at);
  /// Builds the result of a final (not pending) STK Push Query response.
  [[nodiscard]] static ReceivedResult from_query(const QueryResult& query, std::string raw_body,
                                                 TimePoint received_at);
};

/// The result of PaymentStore::apply_result.
struct AppliedResult {
  CallbackOutcome outcome = CallbackOutcome::Unmatched;
  /// The payment the result was matched to; empty when unmatched.
  std::optional<std::string> public_id;
  /// The payment's state after the call; empty when unmatched.
  std::optional<PaymentStatus> status;
  /// True when the payment's status changed (applied, late_success).
  bool status_changed = false;
};

/// Durable storage of payments and the events that settle them.
///
/// Every method is one short transaction and is safe to call from many threads at once.
/// Errors are ErrorKind::Storage (with `sqlstate` when PostgreSQL returned an error), Duplicate or
/// NotFound; the message never contains the connection string.
class PaymentStore {
 public:
  virtual ~PaymentStore() = default;

  /// Inserts a pending payment with a new public id. When `payment.idempotency_key` already
  /// exists, returns the earlier payment with `created = false` and changes nothing.
  [[nodiscard]] virtual Result<CreatedPayment> create_payment(const NewPayment& payment) = 0;

  /// Stores Daraja's acknowledgement of the push of payment `id`.
  [[nodiscard]] virtual Result<void> record_push_accepted(std::int64_t id, const PushAck& ack) = 0;

  /// Marks pending payment `id` failed because the push was rejected; `result_code` is the
  /// Daraja errorCode or a local code, `result_desc` the reason.
  [[nodiscard]] virtual Result<void> record_push_rejected(std::int64_t id, std::string_view result_code,
                                                          std::string_view result_desc) = 0;

  /// Flags pending payment `id` as "outcome unknown": the push may have reached Daraja but no
  /// response arrived. It stays pending until a callback or query settles it.
  [[nodiscard]] virtual Result<void> record_push_outcome_unknown(std::int64_t id,
                                                                 std::string_view reason) = 0;

  /// Applies a final result in one transaction: records the event and settles the payment
  /// when the outcome allows it. A repeated result is a Duplicate outcome, not an error.
  /// The notifier (when set) is notified after the commit when the payment changed.
  [[nodiscard]] virtual Result<AppliedResult> apply_result(const ReceivedResult& result) = 0;

  /// Applies several results in one transaction (group commit), with the same rules as
  /// apply_result; the answers are in the order of `results`. Either all are applied or, on
  /// error, none. This default calls apply_result for each result, one transaction each.
  [[nodiscard]] virtual Result<std::vector<AppliedResult>> apply_results(
      std::span<const ReceivedResult> results);

  /// Records an authentic request whose body is not a valid callback.
  [[nodiscard]] virtual Result<void> record_malformed(std::string_view raw_body,
                                                      std::string_view source_address,
                                                      TimePoint received_at) = 0;

  /// Looks a payment up by its public id. NotFound when there is none.
  [[nodiscard]] virtual Result<PaymentRecord> find_by_public_id(std::string_view public_id) = 0;

  /// Looks a payment up by CheckoutRequestID. NotFound when there is none.
  [[nodiscard]] virtual Result<PaymentRecord> find_by_checkout_request_id(
      std::string_view checkout_request_id) = 0;

  /// Claims up to `limit` pending payments whose next_reconcile_at has passed, skipping rows
  /// another instance has locked (FOR UPDATE SKIP LOCKED). Each claimed row gets
  /// reconcile_attempts + 1 and next_reconcile_at = now + `lease`, so a crashed claimer's rows
  /// come back after the lease.
  [[nodiscard]] virtual Result<std::vector<PaymentRecord>> claim_due_payments(
      int limit, std::chrono::seconds lease) = 0;

  /// Sets when the reconciler should next ask about pending payment `id`.
  [[nodiscard]] virtual Result<void> schedule_reconcile(std::int64_t id, TimePoint at) = 0;

  /// Returns the pending payments whose deadline has passed, oldest first, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<PaymentRecord>> find_overdue_payments(int limit) = 0;

  /// Marks payment `id` timed_out, learnt via the deadline, when it is still pending. Returns
  /// true when it changed the payment.
  [[nodiscard]] virtual Result<bool> time_out_payment(std::int64_t id, std::string_view result_desc) = 0;

  /// Checks that the database is reachable.
  [[nodiscard]] virtual Result<void> ping() = 0;

  /// Returns the highest migration version applied to the database (0 before any).
  [[nodiscard]] virtual Result<int> schema_version() = 0;
};

}  // namespace mpesa::server
