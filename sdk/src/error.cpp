#include "mpesa/error.hpp"

#include <fmt/format.h>

#include "mpesa/masking.hpp"

namespace mpesa {

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::InvalidRequest: return "invalid_request";
    case ErrorKind::Network: return "network";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Tls: return "tls";
    case ErrorKind::Auth: return "auth";
    case ErrorKind::DarajaRejected: return "daraja_rejected";
    case ErrorKind::RateLimited: return "rate_limited";
    case ErrorKind::Unavailable: return "unavailable";
    case ErrorKind::OutcomeUnknown: return "outcome_unknown";
    case ErrorKind::Parse: return "parse";
    case ErrorKind::Storage: return "storage";
    case ErrorKind::Duplicate: return "duplicate";
    case ErrorKind::NotFound: return "not_found";
  }
  return "unknown";
}

bool Error::retryable() const noexcept {
  switch (kind) {
    case ErrorKind::Network:
    case ErrorKind::Timeout:
    case ErrorKind::RateLimited:
    case ErrorKind::Unavailable:
    case ErrorKind::Storage:
      return true;
    default:
      return false;
  }
}

std::string Error::describe() const {
  std::string text = fmt::format("{}: {}", to_string(kind), message);
  if (http_status != 0) text += fmt::format(" (http {}", http_status);
  if (!daraja_error_code.empty()) {
    text += http_status != 0 ? ", " : " (";
    text += fmt::format("errorCode {}", daraja_error_code);
  }
  if (!request_id.empty()) {
    text += (http_status != 0 || !daraja_error_code.empty()) ? ", " : " (";
    // Daraja echoes the CheckoutRequestID as requestId in some query answers; its tail is
    // the payer's phone number, so it is shortened before it can reach a log line.
    const bool is_checkout_id = request_id.starts_with("ws_CO_");
    text += fmt::format("requestId {}", is_checkout_id ? shorten_checkout_id(request_id) : request_id);
  }
  if (http_status != 0 || !daraja_error_code.empty() || !request_id.empty()) text += ")";
  return text;
}

Error invalid_request(std::string field, std::string message) {
  Error error;
  error.kind = ErrorKind::InvalidRequest;
  error.field = std::move(field);
  error.message = std::move(message);
  return error;
}

}  // namespace mpesa
