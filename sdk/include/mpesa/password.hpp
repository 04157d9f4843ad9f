#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace mpesa {

/// The Timestamp and Password of one STK request, built from a single clock reading.
struct StkCredentials {
  /// `YYYYMMDDHHmmss` in Africa/Nairobi time (UTC+3, no daylight saving).
  std::string timestamp;
  /// base64(shortcode + passkey + timestamp). Treat it as a secret: never log it.
  std::string password;
};

/// Formats `instant` as Daraja's `YYYYMMDDHHmmss` in Nairobi time, whatever the host's
/// time zone.
[[nodiscard]] std::string nairobi_timestamp(std::chrono::system_clock::time_point instant);

/// Parses a 14-digit Nairobi-time timestamp (as in TransactionDate) into a UTC instant.
/// Returns false when the digits are not a valid date and time.
[[nodiscard]] bool parse_nairobi_timestamp(std::string_view digits,
                                           std::chrono::system_clock::time_point& instant);

/// Formats a UTC instant as ISO 8601 in Nairobi time: `2019-12-19T10:21:15+03:00`.
[[nodiscard]] std::string nairobi_iso8601(std::chrono::system_clock::time_point instant);

/// Builds the Timestamp and Password for one STK Push or STK Push Query request.
[[nodiscard]] StkCredentials make_stk_credentials(std::string_view shortcode,
                                                  std::string_view passkey,
                                                  std::chrono::system_clock::time_point instant);

/// Standard base64 with padding (OpenSSL's EVP_EncodeBlock).
[[nodiscard]] std::string base64_encode(std::string_view bytes);

}  // namespace mpesa
