#pragma once

#include <optional>
#include <string_view>

namespace mpesa {

/// The state of one STK payment. `Pending` moves to exactly one of the others.
enum class PaymentStatus { Pending, Succeeded, Failed, Cancelled, TimedOut };

/// Returns "pending", "succeeded", "failed", "cancelled" or "timed_out".
[[nodiscard]] std::string_view to_string(PaymentStatus status) noexcept;
[[nodiscard]] std::optional<PaymentStatus> parse_payment_status(std::string_view text) noexcept;

/// Maps a final STK ResultCode, kept as text because Daraja sometimes sends a string, to
/// the payment state: "0" succeeded (the caller checks the receipt), "1032" and "1031"
/// cancelled, "1037", "1036" and "1019" timed out, anything else failed.
[[nodiscard]] PaymentStatus status_for_result_code(std::string_view result_code) noexcept;

/// True for every state but Pending.
[[nodiscard]] constexpr bool is_final(PaymentStatus status) noexcept {
  return status != PaymentStatus::Pending;
}

}  // namespace mpesa
