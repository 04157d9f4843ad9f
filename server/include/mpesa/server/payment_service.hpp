#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "mpesa/clock.hpp"
#include "mpesa/stk_client.hpp"
#include "mpesa/server/metrics.hpp"
#include "mpesa/server/payment_store.hpp"

namespace mpesa::server {

/// A request to charge a customer, as the application sends it.
struct CreatePaymentRequest {
  /// Any accepted phone form; normalised to 12 digits.
  std::string phone;
  /// Whole shillings, 1 to 250,000.
  std::int64_t amount = 0;
  /// 1 to 12 characters, shown to the customer.
  std::string account_reference;
  /// Up to 13 characters; "Payment" when empty.
  std::string description;
  /// Makes a retried request safe: the same key returns the first payment and sends no
  /// second push. 1 to 200 printable ASCII characters.
  std::optional<std::string> idempotency_key;
};

/// The merchant account payments go to, and their time limits.
struct PaymentSettings {
  std::string shortcode;
  TransactionType transaction_type = TransactionType::CustomerPayBillOnline;
  std::chrono::seconds reconcile_after{30};
  std::chrono::seconds payment_deadline{600};
};

/// The result of PaymentService::create.
struct PaymentCreated {
  PaymentRecord payment;
  /// False when the idempotency key returned an earlier payment.
  bool created = true;
  /// The text for the customer: Daraja's CustomerMessage, or why the payment failed.
  std::string message;
};

/// Creates payments: stores the pending payment first, then pushes, then stores Daraja's
/// response, so a crash at any point leaves a row the reconciler can settle.
///
/// A push rejected by validation or by Daraja marks the payment failed with the reason. A
/// push whose outcome is unknown stays pending and flagged for the reconciler; it is never
/// sent again. Thread-safe.
class PaymentService {
 public:
  PaymentService(std::shared_ptr<PaymentStore> store, std::shared_ptr<StkApi> stk,
                 PaymentSettings settings, std::shared_ptr<spdlog::logger> logger,
                 std::shared_ptr<Metrics> metrics = nullptr,
                 std::shared_ptr<const Clock> clock = system_clock());

  /// Errors: InvalidRequest (field names the input, nothing stored), Duplicate (the
  /// idempotency key belongs to a payment with other details), Storage. A rejected push is
  /// not an error: the payment comes back failed.
  [[nodiscard]] Result<PaymentCreated> create(const CreatePaymentRequest& request);

 private:
  struct Validated {
    NewPayment payment;
    PushRequest push;
  };
  [[nodiscard]] Result<Validated> validate(const CreatePaymentRequest& request) const;
  [[nodiscard]] Result<PaymentCreated> push_and_record(const PaymentRecord& payment,
                                                       const PushRequest& push);

  std::shared_ptr<PaymentStore> store_;
  std::shared_ptr<StkApi> stk_;
  PaymentSettings settings_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<Metrics> metrics_;
  std::shared_ptr<const Clock> clock_;
};

/// Returns the customer message for a payment's current state, for API responses.
[[nodiscard]] std::string customer_message_for(const PaymentRecord& payment);

}  // namespace mpesa::server
