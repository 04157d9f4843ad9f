#include "mpesa/server/payment_service.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "mpesa/masking.hpp"
#include "mpesa/types.hpp"

namespace mpesa::server {
namespace {

constexpr std::size_t kMaxIdempotencyKeyLength = 200;

Result<void> check_idempotency_key(const std::optional<std::string>& key) {
  if (!key) return {};
  const bool printable = std::all_of(key->begin(), key->end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (key->empty() || key->size() > kMaxIdempotencyKeyLength || !printable) {
    return fail(invalid_request("idempotency_key",
                                fmt::format("idempotency_key must be 1 to {} printable ASCII characters "
                                            "without spaces", kMaxIdempotencyKeyLength)));
  }
  return {};
}

// A repeated key must describe the same payment; otherwise the caller reused a key by mistake.
bool same_payment(const PaymentRecord& existing, const NewPayment& requested) {
  return existing.phone == requested.phone && existing.amount == requested.amount &&
         existing.account_reference == requested.account_reference;
}

}  // namespace

std::string customer_message_for(const PaymentRecord& payment) {
  switch (payment.status) {
    case PaymentStatus::Pending:
      return payment.customer_message.value_or("Check your phone and enter your M-Pesa PIN to pay.");
    case PaymentStatus::Succeeded:
      return "Payment received. Thank you.";
    case PaymentStatus::Cancelled:
      return "You cancelled the payment on your phone.";
    case PaymentStatus::TimedOut:
      return "The payment request on your phone expired before it was answered.";
    case PaymentStatus::Failed:
      return payment.result_desc.value_or("The payment failed.");
  }
  return "";
}

PaymentService::PaymentService(std::shared_ptr<PaymentStore> store, std::shared_ptr<StkApi> stk,
                               PaymentSettings settings, std::shared_ptr<spdlog::logger> logger,
                               std::shared_ptr<Metrics> metrics, std::shared_ptr<const Clock> clock)
    : store_(std::move(store)),
      stk_(std::move(stk)),
      settings_(std::move(settings)),
      logger_(std::move(logger)),
      metrics_(std::move(metrics)),
      clock_(std::move(clock)) {}

Result<PaymentService::Validated> PaymentService::validate(const CreatePaymentRequest& request) const {
  auto phone = Msisdn::parse(request.phone);
  if (!phone) return fail(std::move(phone.error()));
  auto amount = Amount::of(request.amount);
  if (!amount) return fail(std::move(amount.error()));
  auto reference = AccountReference::parse(request.account_reference);
  if (!reference) return fail(std::move(reference.error()));
  auto description = TransactionDesc::parse(request.description.empty() ? "Payment" : request.description);
  if (!description) return fail(std::move(description.error()));
  if (auto key = check_idempotency_key(request.idempotency_key); !key) return fail(std::move(key.error()));

  const auto now = clock_->now_utc();
  Validated validated;
  validated.payment.idempotency_key = request.idempotency_key;
  validated.payment.account_reference = reference->value();
  validated.payment.description = description->value();
  validated.payment.phone = phone->digits();
  validated.payment.amount = amount->shillings();
  validated.payment.shortcode = settings_.shortcode;
  validated.payment.transaction_type = std::string(to_string(settings_.transaction_type));
  validated.payment.next_reconcile_at = now + settings_.reconcile_after;
  validated.payment.deadline_at = now + settings_.payment_deadline;
  validated.push.phone = phone->digits();
  validated.push.amount = amount->shillings();
  validated.push.account_reference = reference->value();
  validated.push.description = description->value();
  return validated;
}

Result<PaymentCreated> PaymentService::create(const CreatePaymentRequest& request) {
  auto validated = validate(request);
  if (!validated) return fail(std::move(validated.error()));

  auto stored = store_->create_payment(validated->payment);
  if (!stored) return fail(std::move(stored.error()));
  if (!stored->created) {
    if (!same_payment(stored->payment, validated->payment)) {
      Error error;
      error.kind = ErrorKind::Duplicate;
      error.field = "idempotency_key";
      error.message = "this idempotency_key was already used for a payment with another phone, "
                      "amount or account_reference; use a new key for a new payment";
      return fail(std::move(error));
    }
    logger_->info("payment {} repeated with its idempotency key; no second push sent",
                  stored->payment.public_id);
    return PaymentCreated{stored->payment, false, customer_message_for(stored->payment)};
  }
  if (metrics_) metrics_->count_payment_created();
  return push_and_record(stored->payment, validated->push);
}

Result<PaymentCreated> PaymentService::push_and_record(const PaymentRecord& payment,
                                                       const PushRequest& push) {
  auto ack = stk_->push(push);
  Result<void> recorded;
  if (ack) {
    recorded = store_->record_push_accepted(payment.id, *ack);
    logger_->info("payment {} pushed to {} (checkout {})", payment.public_id, mask_phone(payment.phone),
                  shorten_checkout_id(ack->checkout_request_id));
  } else if (ack.error().needs_reconciliation()) {
    recorded = store_->record_push_outcome_unknown(payment.id, ack.error().message);
    logger_->warn("payment {} push outcome unknown, left pending for reconciliation: {}",
                  payment.public_id, ack.error().describe());
  } else {
    const auto& error = ack.error();
    const auto code = error.daraja_error_code.empty() ? std::string(to_string(error.kind)) : error.daraja_error_code;
    recorded = store_->record_push_rejected(payment.id, code, error.message);
    logger_->warn("payment {} failed: push rejected: {}", payment.public_id, error.describe());
  }
  if (!recorded) {
    // NOTE: the push may be out and its result is not stored. The row stays pending, so the
    // deadline still settles it, but a callback for it arrives unmatched.
    logger_->error("payment {}: could not store the push answer: {}", payment.public_id,
                   recorded.error().describe());
    return fail(std::move(recorded.error()));
  }

  auto current = store_->find_by_public_id(payment.public_id);
  if (!current) return fail(std::move(current.error()));
  auto message = customer_message_for(*current);
  return PaymentCreated{std::move(*current), true, std::move(message)};
}

}  // namespace mpesa::server
