// Parsing of Daraja's JSON messages with simdjson's DOM API. Each call owns its parser, so
// the functions are thread-safe and the returned structs own all their strings.

#include "mpesa/messages.hpp"

#include "detail/message_fields.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <simdjson.h>

namespace mpesa {
namespace {

using simdjson::dom::element;

constexpr std::int64_t kMaxTokenLifeSeconds = 86'400;
// Far above Daraja's 250,000 shilling limit, so only nonsense is rejected as unparseable.
constexpr std::int64_t kMaxAmountShillings = 1'000'000'000'000;

Error parse_error(std::string message) {
  Error error;
  error.kind = ErrorKind::Parse;
  error.message = std::move(message);
  return error;
}

// simdjson needs SIMDJSON_PADDING bytes after the input, so the body is copied into a
// padded_string. The document lives in `parser`, which the caller keeps alive.
std::optional<element> parse_json(simdjson::dom::parser& parser,
                                  const simdjson::padded_string& padded) {
  element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return std::nullopt;
  return root;
}

std::optional<element> member(element object, std::string_view key) {
  if (!object.is_object()) return std::nullopt;
  element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

std::optional<std::string> string_member(element object, std::string_view key) {
  const auto value = member(object, key);
  if (!value || !value->is_string()) return std::nullopt;
  return std::string(value->get_string().value_unsafe());
}

// A code such as ResultCode or ResponseCode, sent as a number or a string, as text.
std::optional<std::string> code_text(element value) {
  if (value.is_string()) return std::string(value.get_string().value_unsafe());
  if (value.is_int64()) return std::to_string(value.get_int64().value_unsafe());
  if (value.is_uint64()) return std::to_string(value.get_uint64().value_unsafe());
  if (value.is_double()) {
    const double number = value.get_double().value_unsafe();
    if (std::trunc(number) == number && std::abs(number) < 1e15) {
      return std::to_string(static_cast<std::int64_t>(number));
    }
  }
  return std::nullopt;
}

// A 64-bit integer sent as a JSON integer or as a string of digits.
std::optional<std::int64_t> integer_value(element value) {
  if (value.is_int64()) return value.get_int64().value_unsafe();
  if (value.is_string()) {
    const std::string_view text = value.get_string().value_unsafe();
    std::int64_t number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error == std::errc() && end == text.data() + text.size()) return number;
  }
  return std::nullopt;
}

// Amount as cents. Daraja writes `1`, `1.00` or `2.0`; a numeric string is accepted too.
std::optional<std::int64_t> amount_cents(element value) {
  if (value.is_int64()) {
    // The range check keeps the multiplication by 100 from overflowing.
    const std::int64_t shillings = value.get_int64().value_unsafe();
    if (shillings < 0 || shillings > kMaxAmountShillings) return std::nullopt;
    return shillings * 100;
  }
  double number = 0;
  if (value.is_double()) {
    number = value.get_double().value_unsafe();
  } else if (value.is_string()) {
    const std::string text(value.get_string().value_unsafe());
    char* end = nullptr;
    number = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(number) || number < 0 || number > kMaxAmountShillings) return std::nullopt;
  return std::llround(number * 100);
}

std::string lowercase(std::string_view text) {
  std::string lower(text);
  std::ranges::transform(lower, lower.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return lowercase(haystack).find(needle) != std::string::npos;
}

Result<std::string> required_string(element object, std::string_view key,
                                    std::string_view where) {
  auto value = string_member(object, key);
  if (!value) return fail(parse_error(fmt::format("{} has no {} string", where, key)));
  return std::move(*value);
}

// Reads one CallbackMetadata item into `callback`. Unknown names are ignored, and an item
// without Value (Balance often has none) leaves its field absent.
Result<void> read_metadata_item(element item, StkCallback& callback) {
  const auto name = string_member(item, "Name");
  if (!name) return fail(parse_error("a CallbackMetadata item has no Name string"));
  const auto value = member(item, "Value");
  if (!value || value->is_null()) return {};

  const auto mistyped = [&](std::string_view expected) {
    return fail(parse_error(
        fmt::format("CallbackMetadata item {} has a Value that is not {}", *name, expected)));
  };
  if (*name == "Amount") {
    callback.amount_cents = amount_cents(*value);
    if (!callback.amount_cents) return mistyped("a non-negative number");
  } else if (*name == "MpesaReceiptNumber") {
    if (!value->is_string()) return mistyped("a string");
    callback.receipt = std::string(value->get_string().value_unsafe());
  } else if (*name == "TransactionDate") {
    callback.transaction_date = integer_value(*value);
    if (!callback.transaction_date) return mistyped("a 14-digit number");
  } else if (*name == "PhoneNumber") {
    callback.phone = integer_value(*value);
    if (!callback.phone) return mistyped("a number");
  }
  return {};
}

Result<void> read_metadata(element stk_callback, StkCallback& callback) {
  const auto metadata = member(stk_callback, "CallbackMetadata");
  if (!metadata || metadata->is_null()) return {};
  const auto items = member(*metadata, "Item");
  if (!items || !items->is_array()) {
    return fail(parse_error("CallbackMetadata has no Item array"));
  }
  // value_unsafe() returns a reference into the temporary simdjson_result, so a range-for
  // directly over it would read a destroyed array. Keep the array in a named variable.
  const simdjson::dom::array item_array = items->get_array().value_unsafe();
  for (element item : item_array) {
    if (!item.is_object()) return fail(parse_error("a CallbackMetadata item is not an object"));
    auto read = read_metadata_item(item, callback);
    if (!read) return read;
  }
  return {};
}

bool is_being_processed(const DarajaError& error) {
  if (error.error_code != "500.001.1001") return false;
  return error.error_message.empty() || contains(error.error_message, "being processed");
}

std::optional<DarajaError> read_daraja_error(element root) {
  if (auto code = string_member(root, "errorCode")) {
    DarajaError error;
    error.error_code = std::move(*code);
    error.request_id = string_member(root, "requestId").value_or("");
    error.error_message = string_member(root, "errorMessage").value_or("");
    return error;
  }
  // Apigee's own policy errors (spike arrest, quota) use a different envelope:
  // {"fault":{"faultstring":"...","detail":{"errorcode":"policies.ratelimit..."}}}.
  const auto fault = member(root, "fault");
  if (!fault || !fault->is_object()) return std::nullopt;
  DarajaError error;
  error.error_message = string_member(*fault, "faultstring").value_or("");
  if (const auto detail = member(*fault, "detail")) {
    error.error_code = string_member(*detail, "errorcode").value_or("");
  }
  if (error.error_code.empty() && error.error_message.empty()) return std::nullopt;
  return error;
}

// The kind of a Daraja error, decided on code and message together because one code
// carries several meanings.
ErrorKind kind_for(int http_status, const DarajaError& daraja, bool is_push) {
  const std::string& code = daraja.error_code;
  const std::string& text = daraja.error_message;
  if (code == "404.001.03" || code == "404.001.04" || code.starts_with("400.008.") ||
      http_status == 401) {
    return ErrorKind::Auth;
  }
  if (http_status == 429 || code == "500.003.03" ||
      (code == "500.003.02" && contains(text, "spike")) || contains(code, "spikearrest") ||
      contains(code, "quota")) {
    return ErrorKind::RateLimited;
  }
  if (code == "500.003.02") return ErrorKind::Unavailable;
  if (code == "500.001.1001") {
    if (contains(text, "wrong credentials") || contains(text, "merchant does not exist") ||
        contains(text, "unable to lock subscriber")) {
      return ErrorKind::DarajaRejected;
    }
    if (contains(text, "does not exist")) return ErrorKind::NotFound;
  }
  if (http_status >= 500 || code.starts_with("500.")) {
    return is_push ? ErrorKind::OutcomeUnknown : ErrorKind::Unavailable;
  }
  return ErrorKind::DarajaRejected;
}

std::string_view advice_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Auth:
      return "check MPESA_CONSUMER_KEY, MPESA_CONSUMER_SECRET and that the app has the M-Pesa "
             "Express product";
    case ErrorKind::RateLimited: return "slow down and retry after a delay";
    case ErrorKind::Unavailable: return "Daraja is busy; retry later";
    case ErrorKind::OutcomeUnknown:
      return "the push may have been accepted; reconcile with STK Push Query, do not resend";
    case ErrorKind::NotFound: return "check the CheckoutRequestID";
    default: return "fix the request before sending it again";
  }
}

}  // namespace

PaymentStatus StkCallback::status() const noexcept {
  if (result_code == "0" && (!receipt || receipt->empty())) return PaymentStatus::Failed;
  return status_for_result_code(result_code);
}

PaymentStatus QueryResult::status() const noexcept {
  if (pending) return PaymentStatus::Pending;
  return status_for_result_code(result_code);
}

Result<StkCallback> parse_stk_callback(std::string_view body) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  const auto root = parse_json(parser, padded);
  if (!root) return fail(parse_error("callback body is not valid JSON"));
  const auto envelope = member(*root, "Body");
  if (!envelope || !envelope->is_object()) {
    return fail(parse_error("callback has no Body object"));
  }
  const auto stk = member(*envelope, "stkCallback");
  if (!stk || !stk->is_object()) {
    return fail(parse_error("callback has no Body.stkCallback object"));
  }

  StkCallback callback;
  auto merchant = required_string(*stk, "MerchantRequestID", "stkCallback");
  if (!merchant) return fail(std::move(merchant.error()));
  callback.merchant_request_id = std::move(*merchant);
  auto checkout = required_string(*stk, "CheckoutRequestID", "stkCallback");
  if (!checkout) return fail(std::move(checkout.error()));
  if (checkout->empty()) return fail(parse_error("stkCallback has an empty CheckoutRequestID"));
  callback.checkout_request_id = std::move(*checkout);
  const auto result_code = member(*stk, "ResultCode");
  const auto code = result_code ? code_text(*result_code) : std::nullopt;
  if (!code || code->empty()) {
    return fail(parse_error("stkCallback has no ResultCode number or string"));
  }
  callback.result_code = *code;
  callback.result_desc = string_member(*stk, "ResultDesc").value_or("");

  auto metadata = read_metadata(*stk, callback);
  if (!metadata) return fail(std::move(metadata.error()));
  return callback;
}

Result<QueryResult> parse_query_result(int http_status, std::string_view body) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  const auto root = parse_json(parser, padded);
  if (!root || !root->is_object()) {
    if (http_status < 200 || http_status >= 300) {
      return fail(classify_daraja_error(http_status, body, false));
    }
    return fail(parse_error("query answer is not a JSON object"));
  }

  if (const auto daraja = read_daraja_error(*root)) {
    if (!is_being_processed(*daraja)) {
      return fail(classify_daraja_error(http_status, body, false));
    }
    QueryResult pending;
    pending.pending = true;
    pending.response_code = daraja->error_code;
    pending.response_description = daraja->error_message;
    // NOTE: Daraja echoes the CheckoutRequestID as requestId in this response.
    if (daraja->request_id.starts_with("ws_CO_")) pending.checkout_request_id = daraja->request_id;
    return pending;
  }

  QueryResult result;
  result.merchant_request_id = string_member(*root, "MerchantRequestID").value_or("");
  result.checkout_request_id = string_member(*root, "CheckoutRequestID").value_or("");
  result.response_description = string_member(*root, "ResponseDescription").value_or("");
  if (const auto response = member(*root, "ResponseCode")) {
    result.response_code = code_text(*response).value_or("");
  }
  const auto result_code = member(*root, "ResultCode");
  const auto code = result_code ? code_text(*result_code) : std::nullopt;
  if (!code || code->empty()) {
    return fail(parse_error("query answer has neither a ResultCode nor an errorCode"));
  }
  result.result_desc = string_member(*root, "ResultDesc").value_or("");
  // NOTE: ResultCode 4999 is another form of "the transaction is being processed".
  if (*code == "4999") {
    result.pending = true;
    return result;
  }
  result.result_code = *code;
  return result;
}

Result<PushAck> parse_push_ack(std::string_view body) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  const auto root = parse_json(parser, padded);
  if (!root || !root->is_object()) return fail(parse_error("push answer is not a JSON object"));

  PushAck ack;
  const auto response = member(*root, "ResponseCode");
  const auto code = response ? code_text(*response) : std::nullopt;
  if (!code) return fail(parse_error("push answer has no ResponseCode"));
  ack.response_code = *code;
  ack.response_description = string_member(*root, "ResponseDescription").value_or("");
  ack.customer_message = string_member(*root, "CustomerMessage").value_or("");
  if (ack.response_code != "0") {
    Error error;
    error.kind = ErrorKind::DarajaRejected;
    error.message = fmt::format("Daraja declined the push with ResponseCode {}: {}",
                                ack.response_code, ack.response_description);
    return fail(std::move(error));
  }
  auto merchant = required_string(*root, "MerchantRequestID", "push answer");
  if (!merchant) return fail(std::move(merchant.error()));
  ack.merchant_request_id = std::move(*merchant);
  auto checkout = required_string(*root, "CheckoutRequestID", "push answer");
  if (!checkout) return fail(std::move(checkout.error()));
  if (checkout->empty()) return fail(parse_error("push answer has an empty CheckoutRequestID"));
  ack.checkout_request_id = std::move(*checkout);
  return ack;
}

Result<TokenResponse> parse_token_response(std::string_view body) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  const auto root = parse_json(parser, padded);
  if (!root || !root->is_object()) {
    return fail(parse_error(
        "OAuth response is not a JSON object (an HTML page or a proxy error?); check "
        "MPESA_BASE_URL"));
  }
  auto token = string_member(*root, "access_token");
  if (!token || token->empty()) return fail(parse_error("OAuth response has no access_token"));

  const auto expires = member(*root, "expires_in");
  std::optional<std::int64_t> seconds = expires ? integer_value(*expires) : std::nullopt;
  if (!seconds && expires && expires->is_double()) {
    // Converting a double outside the int64 range is undefined, so check the range first.
    const double number = expires->get_double().value_unsafe();
    if (std::isfinite(number) && number >= 1 && number <= 1e12) {
      seconds = static_cast<std::int64_t>(number);
    }
  }
  if (!seconds || *seconds <= 0) {
    return fail(parse_error("OAuth response has no positive expires_in"));
  }
  TokenResponse response;
  response.access_token = Secret(std::move(*token));
  // Daraja tokens last 3599 s. A larger value is clamped to a day, so expiry arithmetic on
  // steady_clock cannot overflow.
  response.expires_in_seconds = std::min(*seconds, kMaxTokenLifeSeconds);
  return response;
}

std::optional<DarajaError> parse_daraja_error(std::string_view body) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  const auto root = parse_json(parser, padded);
  if (!root || !root->is_object()) return std::nullopt;
  return read_daraja_error(*root);
}

Error classify_daraja_error(int http_status, std::string_view body, bool is_push) {
  const DarajaError daraja = parse_daraja_error(body).value_or(DarajaError{});
  Error error;
  error.kind = kind_for(http_status, daraja, is_push);
  error.http_status = http_status;
  error.daraja_error_code = daraja.error_code;
  error.request_id = daraja.request_id;
  const std::string what = daraja.error_message.empty()
                               ? fmt::format("HTTP {}", http_status)
                               : fmt::format("\"{}\"", daraja.error_message);
  error.message = fmt::format("Daraja returned {}: {}", what, advice_for(error.kind));
  return error;
}

}  // namespace mpesa

namespace mpesa::detail {

std::string daraja_request_id(std::string_view body) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  const auto root = parse_json(parser, padded);
  if (!root || !root->is_object()) return {};
  if (auto id = string_member(*root, "requestId")) return std::move(*id);
  return string_member(*root, "MerchantRequestID").value_or("");
}

std::string json_string(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\r': quoted += "\\r"; break;
      case '\t': quoted += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          quoted += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          quoted += c;
        }
    }
  }
  quoted += '"';
  return quoted;
}

}  // namespace mpesa::detail
