#include "mpesa/server/status_api.hpp"

#include <charconv>
#include <ctime>

#include <fmt/format.h>
#include <simdjson.h>

#include "detail/json_writer.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/server/server_app.hpp"

namespace mpesa::server {
namespace {

using detail::JsonObject;

// Public ids are "pay_" and 32 hex digits. Anything much longer cannot be one, so it gets
// 404 without a lookup. That reveals only the format, which is public anyway.
constexpr std::size_t kMaxPublicIdLength = 64;
constexpr std::size_t kMaxCheckoutBodyBytes = 4096;
constexpr std::string_view kAllowedHeaders = "Content-Type, If-None-Match, Accept-Language, Idempotency-Key";
constexpr std::string_view kExposedHeaders = "ETag, Retry-After, X-Long-Poll";

std::string iso8601(TimePoint instant) {
  const auto since_epoch = instant.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t whole = seconds.count();
  std::tm utc{};
  gmtime_r(&whole, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

JsonObject& add_optional(JsonObject& json, std::string_view key, const std::optional<std::string>& value) {
  return value ? json.add(key, *value) : json.add_null(key);
}

void answer_json(httplib::Response& response, int status, const std::string& body) {
  response.status = status;
  response.set_content(body, "application/json");
}

void answer_error(httplib::Response& response, int status, std::string_view message) {
  answer_json(response, status, JsonObject().add("error", message).str());
}

// Reads ?wait=N: nothing when absent, an error text when it is not a whole number 0..30.
std::optional<int> read_wait(const httplib::Request& request, std::string& error) {
  if (!request.has_param("wait")) return 0;
  const auto text = request.get_param_value("wait");
  int seconds = -1;
  const auto [end, failed] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (failed != std::errc() || end != text.data() + text.size() || seconds < 0 ||
      seconds > kMaxStatusWaitSeconds) {
    error = fmt::format("wait must be a whole number of seconds from 0 to {}", kMaxStatusWaitSeconds);
    return std::nullopt;
  }
  return seconds;
}

Language request_language(const httplib::Request& request) {
  return choose_language(request.get_param_value("lang"), request.get_header_value("Accept-Language"));
}

struct CheckoutFields {
  CreatePaymentRequest create;
  std::string field;
  std::string error;
};

// Reads {"phone": "0712345678", "amount": 10, "account_reference": "...", "idempotency_key": "..."}.
// Field rules beyond the types are checked by PaymentService.
CheckoutFields read_checkout(std::string_view text, std::string_view default_reference) {
  CheckoutFields fields;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object body;
  if (parser.parse(text.data(), text.size()).get(body) != simdjson::SUCCESS) {
    fields.error = "the body must be a JSON object";
    return fields;
  }
  simdjson::dom::element value;
  std::string_view string_value;
  std::int64_t whole = 0;
  if (body["phone"].get(value) != simdjson::SUCCESS || value.get(string_value) != simdjson::SUCCESS) {
    return {{}, "phone", "phone is required, as a string such as \"0712345678\""};
  }
  fields.create.phone = std::string(string_value);
  if (body["amount"].get(value) != simdjson::SUCCESS) {
    return {{}, "amount", "amount is required: whole shillings from 1 to 250000"};
  }
  if (value.get(whole) == simdjson::SUCCESS) {
    fields.create.amount = whole;
  } else if (value.get(string_value) == simdjson::SUCCESS &&
             std::from_chars(string_value.data(), string_value.data() + string_value.size(), whole).ec ==
                 std::errc()) {
    fields.create.amount = whole;
  } else {
    return {{}, "amount", "amount must be whole shillings from 1 to 250000"};
  }
  fields.create.account_reference = std::string(default_reference);
  if (body["account_reference"].get(value) == simdjson::SUCCESS && value.get(string_value) == simdjson::SUCCESS &&
      !string_value.empty()) {
    fields.create.account_reference = std::string(string_value);
  }
  if (body["idempotency_key"].get(value) == simdjson::SUCCESS && value.get(string_value) == simdjson::SUCCESS &&
      !string_value.empty()) {
    fields.create.idempotency_key = std::string(string_value);
  }
  return fields;
}

bool is_json(const httplib::Request& request) {
  const auto type = request.get_header_value("Content-Type");
  return std::string_view(type).starts_with("application/json");
}

}  // namespace

std::string render_payment_status(const PaymentRecord& payment, Language language) {
  const auto reason = message_reason(payment.status, payment.result_code.value_or(""), payment.learnt_via);
  JsonObject json;
  json.add("id", payment.public_id)
      .add("status", to_string(payment.status))
      .add("reason", to_string(reason))
      .add("message", customer_message(reason, language))
      .add("language", to_string(language))
      .add("amount", payment.amount)
      .add("account_reference", payment.account_reference)
      .add("phone", mask_phone(payment.phone));
  if (payment.status == PaymentStatus::Succeeded) {
    add_optional(json, "receipt", payment.receipt);
  } else {
    json.add_null("receipt");
  }
  add_optional(json, "result_code", payment.result_code);
  add_optional(json, "result_desc", payment.result_desc);
  json.add("created_at", iso8601(payment.created_at)).add("updated_at", iso8601(payment.updated_at));
  return json.str();
}

std::string etag_for(std::string_view body) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : body) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return fmt::format("\"{:016x}\"", hash);
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept {
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    auto candidate = if_none_match.substr(0, comma);
    if_none_match = comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
    while (!candidate.empty() && candidate.front() == ' ') candidate.remove_prefix(1);
    while (!candidate.empty() && candidate.back() == ' ') candidate.remove_suffix(1);
    if (candidate.starts_with("W/")) candidate.remove_prefix(2);
    if (candidate == "*" || candidate == etag) return true;
  }
  return false;
}

/// Holds one of the limited long-poll places, or none when all are taken.
class StatusApi::WaiterSlot {
 public:
  WaiterSlot(std::atomic<int>& waiting, int limit) : waiting_(waiting) {
    int current = waiting_.load();
    while (current < limit) {
      if (waiting_.compare_exchange_weak(current, current + 1)) {
        held_ = true;
        return;
      }
    }
  }
  ~WaiterSlot() {
    if (held_) waiting_.fetch_sub(1);
  }
  WaiterSlot(const WaiterSlot&) = delete;
  WaiterSlot& operator=(const WaiterSlot&) = delete;
  [[nodiscard]] bool held() const noexcept { return held_; }

 private:
  std::atomic<int>& waiting_;
  bool held_ = false;
};

StatusApi::StatusApi(ServerContext& context)
    : context_(context),
      status_limiter_(context.config.status_rate_limit, context.config.status_rate_burst),
      checkout_limiter_(context.config.checkout_rate_limit, context.config.checkout_rate_burst),
      max_waiters_(context.config.status_max_waiters > 0 ? context.config.status_max_waiters
                                                         : std::max(1, context.config.api_threads / 2)) {}

void StatusApi::install(httplib::Server& server) {
  server.Get(R"(/api/payments/([^/]+))", [this](const httplib::Request& request, httplib::Response& response) {
    get_status(request, response);
  });
  server.Post("/api/checkout", [this](const httplib::Request& request, httplib::Response& response) {
    create_checkout(request, response);
  });
  const auto preflight_handler = [this](const httplib::Request& request, httplib::Response& response) {
    preflight(request, response);
  };
  server.Options(R"(/api/payments/([^/]+))", preflight_handler);
  server.Options("/api/checkout", preflight_handler);
}

std::optional<IpAddress> StatusApi::client_address(const httplib::Request& request) const {
  return resolve_client_address(request.remote_addr, request.get_header_value("X-Forwarded-For"),
                                context_.config.trusted_proxies);
}

bool StatusApi::admit(RateLimiter& limiter, const httplib::Request& request, httplib::Response& response) {
  if (!limiter.enabled()) return true;
  const auto client = client_address(request);
  if (client && limiter.allow(*client)) return true;
  response.set_header("Retry-After", "1");
  answer_error(response, 429, "too many requests from this address; wait a moment and try again");
  return false;
}

void StatusApi::add_cors_headers(const httplib::Request& request, httplib::Response& response) const {
  const auto& allowed = context_.config.cors_origins;
  if (allowed.empty()) return;
  response.set_header("Vary", "Origin, Accept-Language");
  const auto origin = request.get_header_value("Origin");
  if (origin.empty()) return;
  const bool any = std::ranges::find(allowed, "*") != allowed.end();
  if (!any && std::ranges::find(allowed, origin) == allowed.end()) return;
  response.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
  response.set_header("Access-Control-Expose-Headers", std::string(kExposedHeaders));
}

void StatusApi::preflight(const httplib::Request& request, httplib::Response& response) const {
  add_cors_headers(request, response);
  if (response.has_header("Access-Control-Allow-Origin")) {
    response.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    response.set_header("Access-Control-Allow-Headers", std::string(kAllowedHeaders));
    response.set_header("Access-Control-Max-Age", "600");
  }
  response.status = 204;
}

void StatusApi::get_status(const httplib::Request& request, httplib::Response& response) {
  add_cors_headers(request, response);
  if (!admit(status_limiter_, request, response)) return;
  std::string wait_error;
  const auto wait_seconds = read_wait(request, wait_error);
  if (!wait_seconds) {
    answer_error(response, 400, wait_error);
    return;
  }
  const std::string public_id = request.matches[1];
  if (public_id.size() > kMaxPublicIdLength) {
    answer_error(response, 404, "no payment has this id");
    return;
  }
  const auto language = request_language(request);
  const auto if_none_match = request.get_header_value("If-None-Match");

  // Subscribe before reading, so a change between the read and the wait is not missed.
  WaiterSlot slot(waiting_, *wait_seconds > 0 ? max_waiters_ : 0);
  std::optional<StatusNotifier::Subscription> subscription;
  if (slot.held()) subscription.emplace(context_.notifier->subscribe(public_id));
  if (*wait_seconds > 0 && !slot.held()) response.set_header("X-Long-Poll", "declined");

  auto payment = context_.store->find_by_public_id(public_id);
  if (!payment && payment.error().kind == ErrorKind::NotFound) {
    answer_error(response, 404, "no payment has this id");
    return;
  }
  if (!payment) {
    context_.logger->error("status of payment {} unavailable: {}", public_id, payment.error().describe());
    answer_error(response, 503, "the payment status is unavailable right now; try again shortly");
    return;
  }
  auto body = render_payment_status(*payment, language);
  auto etag = etag_for(body);

  // Wait only while the answer would tell the client nothing new: the payment is pending
  // and the client either sent no ETag or already holds this one.
  const bool client_is_current = if_none_match.empty() || etag_matches(if_none_match, etag);
  if (subscription && payment->status == PaymentStatus::Pending && client_is_current) {
    response.set_header("X-Long-Poll", "waited");
    blocked_.fetch_add(1);
    const bool changed = subscription->wait_for(std::chrono::seconds(*wait_seconds));
    blocked_.fetch_sub(1);
    if (changed) {
      auto fresh = context_.store->find_by_public_id(public_id);
      if (fresh) {
        body = render_payment_status(*fresh, language);
        etag = etag_for(body);
      }
    }
  }

  response.set_header("ETag", etag);
  response.set_header("Cache-Control", "no-cache");
  response.set_header("Content-Language", std::string(to_string(language)));
  if (!response.has_header("Vary")) response.set_header("Vary", "Accept-Language");
  if (!if_none_match.empty() && etag_matches(if_none_match, etag)) {
    response.status = 304;
    return;
  }
  answer_json(response, 200, body);
}

void StatusApi::create_checkout(const httplib::Request& request, httplib::Response& response) {
  add_cors_headers(request, response);
  if (!context_.config.public_checkout) {
    answer_error(response, 404, "the public checkout is off: set MPESA_PUBLIC_CHECKOUT=1 to enable it");
    return;
  }
  if (!admit(checkout_limiter_, request, response)) return;
  if (!context_.payments) {
    answer_error(response, 503, "payments cannot be created: the server has no Daraja settings");
    return;
  }
  if (request.body.size() > kMaxCheckoutBodyBytes) {
    answer_error(response, 413, "the body is too large");
    return;
  }
  // A JSON Content-Type forces a CORS preflight, so another site cannot post a plain form.
  if (!is_json(request)) {
    answer_error(response, 415, "send the body as application/json");
    return;
  }
  auto fields = read_checkout(request.body, context_.config.checkout_account_reference);
  if (!fields.error.empty()) {
    answer_json(response, fields.field.empty() ? 400 : 422,
                JsonObject().add("error", fields.error).add("field", fields.field).str());
    return;
  }
  if (!fields.create.idempotency_key && request.has_header("Idempotency-Key")) {
    fields.create.idempotency_key = request.get_header_value("Idempotency-Key");
  }
  auto created = context_.payments->create(fields.create);
  if (!created) {
    const auto& error = created.error();
    if (error.kind == ErrorKind::InvalidRequest || error.kind == ErrorKind::Duplicate) {
      answer_json(response, error.kind == ErrorKind::Duplicate ? 409 : 422,
                  JsonObject().add("error", error.message).add("field", error.field).str());
      return;
    }
    context_.logger->error("checkout could not create a payment: {}", error.describe());
    answer_error(response, 503, "the payment could not be started; try again shortly");
    return;
  }
  const auto language = request_language(request);
  response.set_header("Content-Language", std::string(to_string(language)));
  answer_json(response, 201, render_payment_status(created->payment, language));
}

}  // namespace mpesa::server
