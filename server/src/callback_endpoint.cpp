#include "mpesa/server/callback_endpoint.hpp"

#include <algorithm>
#include <charconv>
#include <regex>

#include "mpesa/masking.hpp"
#include "mpesa/messages.hpp"
#include "mpesa/server/pg_pool.hpp"

namespace mpesa::server {
namespace {

std::string regex_escape(std::string_view text) {
  static const std::string_view special = R"(\^$.|?*+()[]{}-)";
  std::string escaped;
  for (const char c : text) {
    if (special.find(c) != std::string_view::npos) escaped += '\\';
    escaped += c;
  }
  return escaped;
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
}

// Joins every X-Forwarded-For header, in order, as one comma-separated list (RFC 7230 allows
// a list header to be split over several lines).
std::string forwarded_for(const httplib::Request& request) {
  std::string joined;
  const auto count = request.get_header_value_count("X-Forwarded-For");
  for (std::size_t i = 0; i < count; ++i) {
    if (!joined.empty()) joined += ',';
    joined += request.get_header_value("X-Forwarded-For", i);
  }
  return joined;
}

// An error PostgreSQL returns for this event's content (a bad value, a constraint) comes
// back on every retry, so the event is kept as malformed instead of blocking the spool.
// Connection loss (class 08), shutdown (57P) and resource errors (53) are transient.
bool is_permanent(const Error& error) {
  const auto& state = error.sqlstate;
  if (state.empty()) return false;
  return !(state.starts_with("08") || state.starts_with("57") || state.starts_with("53"));
}

// The Content-Length header as a number; nothing when it is missing or not a number.
std::optional<std::size_t> declared_length(const httplib::Request& request) {
  if (!request.has_header("Content-Length")) return std::nullopt;
  const auto text = request.get_header_value("Content-Length");
  std::size_t length = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return length;
}

}  // namespace

CallbackEndpoint::CallbackEndpoint(const ServerConfig& config, std::shared_ptr<PaymentStore> store,
                                   std::shared_ptr<Spool> spool, std::shared_ptr<Metrics> metrics,
                                   std::shared_ptr<spdlog::logger> logger)
    : path_(config.callback_path),
      secrets_(config.insecure_no_secret ? std::vector<Secret>{} : config.callback_secrets),
      allow_any_address_(config.allow_any_address),
      allowed_(config.allowed_addresses),
      trusted_proxies_(config.trusted_proxies),
      rate_limiter_(config.rate_limit, config.rate_burst),
      max_body_bytes_(config.max_body_bytes),
      store_(std::move(store)),
      spool_(std::move(spool)),
      metrics_(std::move(metrics)),
      logger_(std::move(logger)) {
  if (config.batch_max > 1) {
    batcher_ = std::make_unique<ResultBatcher>(store_, config.batch_max, config.batch_workers, logger_);
  }
}

void CallbackEndpoint::install(httplib::Server& server) {
  server.set_payload_max_length(max_body_bytes_);
  server.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    const auto rejection = screen(request);
    if (!rejection) return httplib::Server::HandlerResponse::Unhandled;
    metrics_->count_rejection(*rejection);
    switch (*rejection) {
      case Rejection::TooLarge: response.status = 413; break;
      case Rejection::BadSecret:
      case Rejection::AddressNotAllowed: response.status = 403; break;
      case Rejection::RateLimited: response.status = 429; break;
      case Rejection::NotJson: response.status = 415; break;
    }
    // The body was not read, so the connection cannot carry another request.
    response.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  // A content-reader handler reads the body itself, because cpp-httplib 0.11.4 applies
  // set_payload_max_length only to bodies with a Content-Length, not to chunked ones.
  const auto handler = [this](const httplib::Request& request, httplib::Response& response,
                              const httplib::ContentReader& content_reader) {
    std::string body;
    if (!read_capped_body(request, content_reader, body)) {
      metrics_->count_rejection(Rejection::TooLarge);
      response.status = 413;
      response.set_header("Connection", "close");
      return;
    }
    handle(request, std::move(body), response);
  };
  server.Post(regex_escape(path_), handler);
  server.Post(regex_escape(path_) + "/[^/]+", handler);
}

bool CallbackEndpoint::read_capped_body(const httplib::Request& request,
                                        const httplib::ContentReader& content_reader,
                                        std::string& body) const {
  bool too_large = false;
  body.reserve(std::min(max_body_bytes_, declared_length(request).value_or(0)));
  content_reader([&](const char* data, std::size_t length) {
    if (body.size() + length > max_body_bytes_) {
      too_large = true;
      return false;
    }
    body.append(data, length);
    return true;
  });
  // A read that failed for another reason (client gone) leaves a short body. It is stored
  // as malformed, and the acknowledgement goes nowhere.
  return !too_large;
}

bool CallbackEndpoint::matches_path(std::string_view path, std::string_view& path_secret) const {
  if (!path.starts_with(path_)) return false;
  const auto rest = path.substr(path_.size());
  if (rest.empty()) {
    path_secret = {};
    return true;
  }
  if (rest.size() < 2 || rest.front() != '/' || rest.find('/', 1) != std::string_view::npos) return false;
  path_secret = rest.substr(1);
  return true;
}

std::optional<Rejection> CallbackEndpoint::screen(const httplib::Request& request) {
  std::string_view path_secret;
  if (!matches_path(request.path, path_secret)) return std::nullopt;

  if (!body_size_allowed(request)) return Rejection::TooLarge;
  if (!secret_matches(request, path_secret)) return Rejection::BadSecret;
  const auto client = client_address(request);
  if (!source_allowed(client)) return Rejection::AddressNotAllowed;
  if (!rate_allowed(*client)) return Rejection::RateLimited;
  if (!content_type_is_json(request)) return Rejection::NotJson;
  return std::nullopt;
}

// Size first: it costs nothing, and a declared body past the cap is refused before any
// byte of it is read. Daraja's callbacks are under 2 KiB.
bool CallbackEndpoint::body_size_allowed(const httplib::Request& request) const {
  if (!request.has_header("Content-Length")) return true;  // chunked: read_capped_body stops it
  const auto length = declared_length(request);
  return length && *length <= max_body_bytes_;
}

// The secret is what makes a callback authentic, since Daraja signs nothing. Every active
// secret is compared in constant time against every place it may be sent (path segment,
// ?secret=, header), so the response time reveals nothing about how much of a guess was right.
bool CallbackEndpoint::secret_matches(const httplib::Request& request, std::string_view path_secret) const {
  if (secrets_.empty()) return true;  // --insecure-no-secret
  const std::string query_secret = request.get_param_value("secret");
  const std::string header_secret = request.get_header_value(std::string(kCallbackSecretHeader).c_str());
  bool matched = false;
  for (const auto& secret : secrets_) {
    const auto expected = secret.reveal();
    matched |= !path_secret.empty() && constant_time_equals(path_secret, expected);
    matched |= !query_secret.empty() && constant_time_equals(query_secret, expected);
    matched |= !header_secret.empty() && constant_time_equals(header_secret, expected);
  }
  return matched;
}

std::optional<IpAddress> CallbackEndpoint::client_address(const httplib::Request& request) const {
  return resolve_client_address(request.remote_addr, forwarded_for(request), trusted_proxies_);
}

// The allow list limits who can even try a secret: a leaked callback URL alone is not
// enough to forge a payment from outside Safaricom's network.
bool CallbackEndpoint::source_allowed(const std::optional<IpAddress>& client) const {
  if (!client) return false;
  return allow_any_address_ || allowed_.contains(*client);
}

// A per-address token bucket keeps one noisy or hostile sender from filling the worker pool
// and the database.
bool CallbackEndpoint::rate_allowed(const IpAddress& client) { return rate_limiter_.allow(client); }

// Daraja sends application/json, sometimes with ";charset=UTF-8". Anything else is not a
// callback, and rejecting it early keeps form posts and probes out of the parser.
bool CallbackEndpoint::content_type_is_json(const httplib::Request& request) const {
  const auto type = request.get_header_value("Content-Type");
  if (!iequals_prefix(type, "application/json")) return false;
  const auto rest = std::string_view(type).substr(std::string_view("application/json").size());
  return rest.empty() || rest.front() == ';' || rest.front() == ' ';
}

void CallbackEndpoint::handle(const httplib::Request& request, std::string body, httplib::Response& response) {
  const auto started = std::chrono::steady_clock::now();
  const auto client = client_address(request);
  SpooledEvent event{std::move(body), client ? to_string(*client) : request.remote_addr,
                     std::chrono::system_clock::now()};

  auto stored = store(event);
  const auto latency = std::chrono::steady_clock::now() - started;
  metrics_->observe_latency(latency);
  if (!stored) {
    logger_->error("callback from {} lost: neither the database nor the spool could store it: {}",
                   event.source_address, stored.error().describe());
    response.status = 503;
    return;
  }
  response.set_content(std::string(kCallbackAccepted), "application/json");
  log_callback(*stored, latency);
}

Result<StoredCallback> CallbackEndpoint::store(const SpooledEvent& event) {
  // While older events wait in the spool, newer ones queue behind them so that replay keeps
  // the order in which they arrived.
  if (spool_->backlog() > 0) return store_in_spool(event);
  auto stored = store_in_database(event, true);
  if (stored) return stored;
  metrics_->count_store_failure();
  logger_->warn("database could not store a callback, spooling it: {}", stored.error().describe());
  return store_in_spool(event);
}

Result<StoredCallback> CallbackEndpoint::store_in_database(const SpooledEvent& event, bool batched) {
  StoredCallback stored;
  auto parsed = parse_stk_callback(event.raw_body);
  if (!parsed) {
    auto recorded = store_->record_malformed(event.raw_body, event.source_address, event.received_at);
    if (!recorded) return fail(std::move(recorded.error()));
    stored.outcome = CallbackOutcome::Malformed;
    metrics_->count_outcome(CallbackOutcome::Malformed);
    return stored;
  }

  stored.checkout_request_id = parsed->checkout_request_id;
  if (parsed->phone) stored.phone = std::to_string(*parsed->phone);
  auto result = ReceivedResult::from_callback(*parsed, event.raw_body, event.source_address, event.received_at);
  auto applied = batched && batcher_ ? batcher_->apply(std::move(result)) : store_->apply_result(result);
  if (!applied) return fail(std::move(applied.error()));
  stored.outcome = applied->outcome;
  stored.status = applied->status;
  metrics_->count_outcome(applied->outcome);
  return stored;
}

Result<StoredCallback> CallbackEndpoint::store_in_spool(const SpooledEvent& event) {
  auto appended = spool_->append(event);
  if (!appended) return fail(std::move(appended.error()));
  metrics_->count_spooled();
  StoredCallback stored;
  if (auto parsed = parse_stk_callback(event.raw_body)) {
    stored.checkout_request_id = parsed->checkout_request_id;
    if (parsed->phone) stored.phone = std::to_string(*parsed->phone);
  }
  return stored;
}

Result<void> CallbackEndpoint::store_spooled(const SpooledEvent& event) {
  // Replay runs on one thread, so batching would gain nothing.
  auto stored = store_in_database(event, false);
  if (stored) return {};
  if (!is_permanent(stored.error())) return fail(std::move(stored.error()));

  logger_->error("spooled callback from {} cannot be applied, keeping it as malformed: {}",
                 event.source_address, stored.error().describe());
  auto recorded = store_->record_malformed(event.raw_body, event.source_address, event.received_at);
  if (!recorded) return fail(std::move(recorded.error()));
  metrics_->count_outcome(CallbackOutcome::Malformed);
  return {};
}

void CallbackEndpoint::log_callback(const StoredCallback& stored, std::chrono::nanoseconds latency) const {
  const double latency_ms = std::chrono::duration<double, std::milli>(latency).count();
  const std::string_view outcome = stored.outcome ? to_string(*stored.outcome) : "spooled";
  const std::string_view status = stored.status ? to_string(*stored.status) : "-";
  logger_->info("callback {} checkout={} phone={} status={} latency_ms={:.2f}", outcome,
                stored.checkout_request_id.empty() ? "-" : shorten_checkout_id(stored.checkout_request_id),
                stored.phone ? mask_phone(*stored.phone) : "-", status, latency_ms);
}

}  // namespace mpesa::server
