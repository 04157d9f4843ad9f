#include "mpesa/payment_status.hpp"

namespace mpesa {

std::string_view to_string(PaymentStatus status) noexcept {
  switch (status) {
    case PaymentStatus::Pending: return "pending";
    case PaymentStatus::Succeeded: return "succeeded";
    case PaymentStatus::Failed: return "failed";
    case PaymentStatus::Cancelled: return "cancelled";
    case PaymentStatus::TimedOut: return "timed_out";
  }
  return "pending";
}

std::optional<PaymentStatus> parse_payment_status(std::string_view text) noexcept {
  if (text == "pending") return PaymentStatus::Pending;
  if (text == "succeeded") return PaymentStatus::Succeeded;
  if (text == "failed") return PaymentStatus::Failed;
  if (text == "cancelled") return PaymentStatus::Cancelled;
  if (text == "timed_out") return PaymentStatus::TimedOut;
  return std::nullopt;
}

PaymentStatus status_for_result_code(std::string_view result_code) noexcept {
  // 1032: cancelled by the user; 1031: request cancelled (menu closed).
  if (result_code == "0") return PaymentStatus::Succeeded;
  if (result_code == "1032" || result_code == "1031") return PaymentStatus::Cancelled;
  // 1037: no response from the phone; 1036: SMSC acknowledgement timeout; 1019: expired.
  if (result_code == "1037" || result_code == "1036" || result_code == "1019") {
    return PaymentStatus::TimedOut;
  }
  return PaymentStatus::Failed;
}

}  // namespace mpesa
