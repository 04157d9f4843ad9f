#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace mpesa {

/// The category of a failure, named after the action it requires of the caller.
enum class ErrorKind {
  /// The request failed a local check before any network call. Fix the input; do not retry.
  InvalidRequest,
  /// The connection could not be made (DNS, refused, reset before sending). Nothing reached
  /// Daraja, so a retry is safe for every call, pushes included.
  Network,
  /// A token or query call took longer than the configured timeout. Retry with backoff.
  Timeout,
  /// The TLS handshake or certificate check failed. Fix the CA bundle or the base URL.
  Tls,
  /// Daraja rejected the credentials or the token twice in a row. Fix the consumer key,
  /// secret or app products; retrying does not help.
  Auth,
  /// Daraja returned an error for this request (bad field, wrong credentials, merchant
  /// missing, subscriber locked). The request was not accepted; change it before resending.
  DarajaRejected,
  /// Daraja's spike arrest or quota rejected the request. Retry after a delay.
  RateLimited,
  /// Daraja is busy or failed inside (5xx, "system busy") before the request was accepted.
  /// Retry later.
  Unavailable,
  /// A push may have reached Daraja, but no response arrived (timeout or 5xx after sending).
  /// Never resend it: reconcile with STK Push Query or wait for the callback.
  OutcomeUnknown,
  /// A response or callback body did not have the expected shape. Log it for review.
  Parse,
  /// The database failed. Retry when it is reachable again.
  Storage,
  /// A unique key already exists (repeated idempotency key or CheckoutRequestID).
  Duplicate,
  /// A lookup found nothing (unknown payment or CheckoutRequestID).
  NotFound,
};

/// Returns the enumerator's name in snake case, for logs and JSON ("outcome_unknown").
[[nodiscard]] std::string_view to_string(ErrorKind kind) noexcept;

/// The single error type of the SDK and the server. Fields are data for the caller to act
/// on; `message` is for people and is never parsed.
struct Error {
  ErrorKind kind = ErrorKind::InvalidRequest;
  /// HTTP status of Daraja's answer, 0 when none arrived.
  int http_status = 0;
  /// Daraja's `errorCode`, such as "400.002.02", or empty.
  std::string daraja_error_code;
  /// Daraja's `requestId`, or empty.
  std::string request_id;
  /// A sentence that names the failing value and the fix. Holds no secret and no full
  /// phone number.
  std::string message;
  /// For InvalidRequest: the field that failed ("phone", "amount", ...). Empty otherwise.
  std::string field;
  /// For Storage errors: the PostgreSQL SQLSTATE, or empty.
  std::string sqlstate;

  /// True when sending the same request again cannot cause a second payment prompt and
  /// may succeed (Network, Timeout, RateLimited, Unavailable, Storage).
  [[nodiscard]] bool retryable() const noexcept;
  /// True when a push may have been accepted and only a query or callback can tell.
  [[nodiscard]] bool needs_reconciliation() const noexcept {
    return kind == ErrorKind::OutcomeUnknown;
  }
  /// Formats "kind: message (http 400, errorCode 400.002.02, requestId ...)" for logs.
  [[nodiscard]] std::string describe() const;
};

/// Builds an InvalidRequest error for `field` with a message that names the rule.
[[nodiscard]] Error invalid_request(std::string field, std::string message);

/// The result of every fallible SDK call: a value or an Error, never an exception.
template <typename T>
using Result = std::expected<T, Error>;

/// Shorthand for returning an error from a function that returns Result<T>.
[[nodiscard]] inline std::unexpected<Error> fail(Error error) {
  return std::unexpected<Error>(std::move(error));
}

}  // namespace mpesa
