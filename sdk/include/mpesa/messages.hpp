#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mpesa/error.hpp"
#include "mpesa/payment_status.hpp"
#include "mpesa/secret.hpp"

namespace mpesa {

/// Daraja's acknowledgement of an accepted STK push (ResponseCode "0").
struct PushAck {
  std::string merchant_request_id;
  std::string checkout_request_id;
  std::string response_code;
  std::string response_description;
  /// The text Daraja suggests showing the customer ("Success. Request accepted for processing").
  std::string customer_message;
};

/// The body of an STK callback (`Body.stkCallback`), with metadata items looked up by Name.
/// Optional fields are empty when the item is missing or has no Value.
struct StkCallback {
  std::string merchant_request_id;
  std::string checkout_request_id;
  /// ResultCode as sent, as text: "0", "1032", or a non-numeric value kept verbatim.
  std::string result_code;
  std::string result_desc;
  /// Amount in cents: `1`, `1.00` and `1.0` all give 100.
  std::optional<std::int64_t> amount_cents;
  std::optional<std::string> receipt;
  /// TransactionDate as sent: 14 digits `YYYYMMDDHHmmss` in Nairobi time.
  std::optional<std::int64_t> transaction_date;
  std::optional<std::int64_t> phone;

  /// The state this callback moves a payment to. ResultCode "0" without a receipt is
  /// Failed, because a success must name the M-Pesa transaction.
  [[nodiscard]] PaymentStatus status() const noexcept;
};

/// The response of STK Push Query. "The transaction is being processed", whether it came as
/// the 500.001.1001 error body or as ResultCode 4999, sets `pending`.
struct QueryResult {
  bool pending = false;
  std::string merchant_request_id;
  std::string checkout_request_id;
  std::string response_code;
  std::string response_description;
  /// Final ResultCode as text; empty while pending.
  std::string result_code;
  std::string result_desc;

  /// Pending while `pending`, otherwise status_for_result_code(result_code).
  [[nodiscard]] PaymentStatus status() const noexcept;
};

/// An OAuth response from `/oauth/v1/generate`.
struct TokenResponse {
  Secret access_token;
  /// `expires_in` in seconds; Daraja sends it as a number or as a string. Values above one
  /// day are clamped to a day.
  std::int64_t expires_in_seconds = 0;
};

/// Daraja's error body `{requestId, errorCode, errorMessage}`.
struct DarajaError {
  std::string request_id;
  std::string error_code;
  std::string error_message;
};

/// Parses a callback body. Errors are ErrorKind::Parse with a message naming the missing or
/// mistyped field.
[[nodiscard]] Result<StkCallback> parse_stk_callback(std::string_view body);

/// Parses an STK Push Query response given its HTTP status and body. A "being processed" error
/// body returns a pending QueryResult; other Daraja errors return an Error classified like
/// push errors ("does not exist" is ErrorKind::NotFound).
[[nodiscard]] Result<QueryResult> parse_query_result(int http_status, std::string_view body);

/// Parses an accepted push acknowledgement.
[[nodiscard]] Result<PushAck> parse_push_ack(std::string_view body);

/// Parses an OAuth answer. An empty token, a missing or non-positive `expires_in`, and a
/// body that is not JSON (an HTML page with status 200 happens) are ErrorKind::Parse.
[[nodiscard]] Result<TokenResponse> parse_token_response(std::string_view body);

/// Parses a Daraja error body; returns nothing when the body is not of that shape.
[[nodiscard]] std::optional<DarajaError> parse_daraja_error(std::string_view body);

/// Classifies a non-success Daraja response into an Error.
/// - Invalid token (404.001.03, 404.001.04) is Auth.
/// - Spike arrest and quota (500.003.02 with "Spike", 500.003.03) are RateLimited.
/// - "System busy" and other 5xx are Unavailable.
/// - 500.001.1001 is read by its message: wrong credentials, merchant missing and subscriber
///   locked are DarajaRejected. 400.002.02 is DarajaRejected too.
/// When `is_push` is true, a 5xx without a recognised rejection is OutcomeUnknown, because
/// the push may have been accepted.
[[nodiscard]] Error classify_daraja_error(int http_status, std::string_view body, bool is_push);

}  // namespace mpesa
