#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace mpesa::simulator::detail {

/// Makes the random-looking identifiers Daraja hands out. Not thread-safe: the simulator
/// calls it under its state mutex.
class IdGenerator {
 public:
  /// A fixed `seed` makes every sequence of calls produce the same ids.
  explicit IdGenerator(std::optional<std::uint64_t> seed);

  /// A modern Daraja request id, also used for MerchantRequestID:
  /// `1c5b-4ba8-815c-ac45c57a3db01495926` (hex groups and a decimal sequence number).
  [[nodiscard]] std::string request_id();
  /// A 28-character alphanumeric access token, as Daraja issues.
  [[nodiscard]] std::string access_token();
  /// A 10-character MpesaReceiptNumber whose first three characters encode the Nairobi
  /// date of `instant` (see receipt_date_prefix) followed by 7 random uppercase
  /// letters and digits.
  [[nodiscard]] std::string receipt(std::chrono::system_clock::time_point instant);

 private:
  [[nodiscard]] std::string random_chars(std::string_view alphabet, std::size_t count);

  std::mt19937_64 engine_;
  std::uint64_t sequence_;
};

/// The date code at the start of M-Pesa receipt numbers: a year letter (L = 2017, counting
/// on from A = 2006), a month letter (A = January) and a day (1-9, then A = 10 to V = 31).
/// The rule is inferred from real receipts, not documented by Safaricom.
[[nodiscard]] std::string receipt_date_prefix(std::chrono::system_clock::time_point instant);

/// A modern CheckoutRequestID: `ws_CO_` + ddMMyyyyHHmmss in Nairobi time + the milliseconds
/// without zero padding + the last 9 digits of `phone`.
[[nodiscard]] std::string checkout_request_id(std::chrono::system_clock::time_point instant,
                                              std::string_view phone);

}  // namespace mpesa::simulator::detail
