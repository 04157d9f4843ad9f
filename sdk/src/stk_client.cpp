#include "mpesa/stk_client.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "detail/curl_transport.hpp"
#include "detail/message_fields.hpp"
#include "detail/retry.hpp"
#include "detail/token_cache.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/password.hpp"
#include "mpesa/types.hpp"

namespace mpesa {
namespace {

// NOTE: Daraja paths, from https://developer.safaricom.co.ke/apis/MpesaExpressSimulate and
// https://developer.safaricom.co.ke/apis/Authorization.
constexpr std::string_view kOAuthPath = "/oauth/v1/generate?grant_type=client_credentials";
constexpr std::string_view kPushPath = "/mpesa/stkpush/v1/processrequest";
constexpr std::string_view kQueryPath = "/mpesa/stkpushquery/v1/query";
constexpr std::size_t kMaxCheckoutIdLength = 64;

using detail::CallKind;

// A push after validation: every field in the form Daraja receives.
struct ValidatedPush {
  Msisdn phone;
  Amount amount;
  AccountReference reference;
  TransactionDesc description;
  CallbackUrl callback_url;
};

Error error_of(ErrorKind kind, std::string message) {
  Error error;
  error.kind = kind;
  error.message = std::move(message);
  return error;
}

bool is_invalid_token(const detail::HttpResponse& response) {
  if (response.status == 401) return true;
  const auto daraja = parse_daraja_error(response.body);
  return daraja && (daraja->error_code == "404.001.03" || daraja->error_code == "404.001.04");
}

Error transport_error(const detail::TransportFailure& failure, CallKind kind) {
  using detail::TransportFailureKind;
  switch (failure.kind) {
    case TransportFailureKind::NotSent:
      return error_of(ErrorKind::Network,
                      fmt::format("could not reach Daraja ({}): check MPESA_BASE_URL and the "
                                  "network; nothing was sent",
                                  failure.message));
    case TransportFailureKind::Tls:
      return error_of(ErrorKind::Tls, fmt::format("TLS with Daraja failed ({}): check "
                                                  "MPESA_CA_BUNDLE and MPESA_BASE_URL",
                                                  failure.message));
    case TransportFailureKind::TimedOutAfterSending:
    case TransportFailureKind::BrokenAfterSending:
      if (kind == CallKind::Push) {
        return error_of(ErrorKind::OutcomeUnknown,
                        fmt::format("the push was sent but no answer arrived ({}): do not "
                                    "resend it; check its state with STK Push Query",
                                    failure.message));
      }
      return error_of(failure.kind == TransportFailureKind::TimedOutAfterSending
                          ? ErrorKind::Timeout
                          : ErrorKind::Network,
                      fmt::format("Daraja did not answer ({})", failure.message));
  }
  return error_of(ErrorKind::Network, failure.message);
}

Result<ValidatedPush> validate_push(const PushRequest& request, const Config& config) {
  auto phone = Msisdn::parse(request.phone);
  if (!phone) return fail(std::move(phone.error()));
  auto amount = Amount::of(request.amount);
  if (!amount) return fail(std::move(amount.error()));
  auto reference = AccountReference::parse(request.account_reference);
  if (!reference) return fail(std::move(reference.error()));
  auto description =
      TransactionDesc::parse(request.description.empty() ? "Payment" : request.description);
  if (!description) return fail(std::move(description.error()));
  const std::string& url = request.callback_url.empty() ? config.callback_url : request.callback_url;
  if (url.empty()) {
    return fail(invalid_request(
        "callback_url", "no callback URL: set MPESA_CALLBACK_URL or PushRequest::callback_url"));
  }
  auto callback_url = CallbackUrl::parse(url, config.environment);
  if (!callback_url) return fail(std::move(callback_url.error()));
  return ValidatedPush{*phone, *amount, std::move(*reference), std::move(*description),
                       std::move(*callback_url)};
}

Result<std::string> validate_checkout_id(std::string_view id) {
  const bool safe = std::ranges::all_of(id, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
  });
  if (id.empty() || id.size() > kMaxCheckoutIdLength || !safe) {
    return fail(invalid_request(
        "checkout_request_id",
        fmt::format("CheckoutRequestID \"{}\" is not one Daraja issues: give the id from the "
                    "push acknowledgement, such as ws_CO_191220191020363925",
                    shorten_checkout_id(id))));
  }
  return std::string(id);
}

std::string push_body(const ValidatedPush& push, const Config& config,
                      const StkCredentials& credentials) {
  using detail::json_string;
  // NOTE: field names and types follow Daraja's own example request: BusinessShortCode is a
  // number, the other numeric fields are strings.
  return fmt::format(
      R"({{"BusinessShortCode":{},"Password":{},"Timestamp":{},"TransactionType":{},)"
      R"("Amount":"{}","PartyA":{},"PartyB":{},"PhoneNumber":{},"CallBackURL":{},)"
      R"("AccountReference":{},"TransactionDesc":{}}})",
      config.shortcode, json_string(credentials.password), json_string(credentials.timestamp),
      json_string(to_string(config.transaction_type)), push.amount.shillings(),
      json_string(push.phone.digits()), json_string(config.effective_party_b()),
      json_string(push.phone.digits()), json_string(push.callback_url.value()),
      json_string(push.reference.value()), json_string(push.description.value()));
}

std::string query_body(std::string_view checkout_request_id, const Config& config,
                       const StkCredentials& credentials) {
  using detail::json_string;
  return fmt::format(
      R"({{"BusinessShortCode":{},"Password":{},"Timestamp":{},"CheckoutRequestID":{}}})",
      config.shortcode, json_string(credentials.password), json_string(credentials.timestamp),
      json_string(checkout_request_id));
}

}  // namespace

struct StkClient::Impl {
  Config config;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<const Clock> clock;
  std::shared_ptr<detail::TokenCache> tokens;
  Secret basic_credentials;

  Impl(Config config_in, std::shared_ptr<spdlog::logger> logger_in,
       std::shared_ptr<const Clock> clock_in)
      : config(std::move(config_in)),
        logger(logger_in ? std::move(logger_in) : spdlog::default_logger()),
        clock(clock_in ? std::move(clock_in) : system_clock()) {
    config.validate();
    tokens = detail::shared_token_cache(config.effective_base_url(), config.consumer_key,
                                        config.consumer_secret);
    std::string pair = config.consumer_key + ":" + std::string(config.consumer_secret.reveal());
    basic_credentials = Secret(base64_encode(pair));
    Secret wipe(std::move(pair));
  }

  // One HTTP exchange and its log line. `context` contains masked or shortened identifiers only.
  Result<detail::HttpResponse> exchange(std::string_view method, std::string_view path,
                                        std::vector<std::string> headers, std::string_view body,
                                        CallKind kind, std::string_view context) const {
    detail::HttpRequest request{method,
                                config.effective_base_url() + std::string(path),
                                std::move(headers),
                                body,
                                config.connect_timeout,
                                config.request_timeout,
                                config.ca_bundle};
    const auto started = std::chrono::steady_clock::now();
    auto response = detail::perform(request);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    const std::string_view bare_path = path.substr(0, path.find('?'));
    if (!response) {
      Error error = transport_error(response.error(), kind);
      logger->warn("daraja {} {} status=0 duration_ms={} error={}{}", method, bare_path,
                   elapsed.count(), to_string(error.kind), context);
      return fail(std::move(error));
    }
    // A "being processed" query answer echoes the CheckoutRequestID as its requestId, and
    // that id ends with the payer's phone digits, so such an id is shortened like the others.
    std::string request_id = detail::daraja_request_id(response->body);
    if (request_id.starts_with("ws_CO_")) request_id = shorten_checkout_id(request_id);
    logger->info("daraja {} {} status={} duration_ms={} request_id={}{}", method, bare_path,
                 response->status, elapsed.count(), request_id.empty() ? "-" : request_id,
                 context);
    return std::move(*response);
  }

  Result<TokenResponse> fetch_token() const {
    return detail::with_retries(
        CallKind::Idempotent, config.retry, *clock,
        [&]() -> Result<TokenResponse> {
          auto response = exchange("GET", kOAuthPath,
                                   {"Authorization: Basic " +
                                    std::string(basic_credentials.reveal())},
                                   {}, CallKind::Idempotent, "");
          if (!response) return fail(std::move(response.error()));
          if (response->status == 200) return parse_token_response(response->body);
          Error error = classify_daraja_error(response->status, response->body, false);
          // Daraja rejects wrong credentials with HTTP 400, often with an empty body.
          if (response->status == 400 || response->status == 401 || response->status == 403) {
            error.kind = ErrorKind::Auth;
            error.message = fmt::format(
                "Daraja refused the OAuth credentials (HTTP {}): check MPESA_CONSUMER_KEY and "
                "MPESA_CONSUMER_SECRET",
                response->status);
          }
          return fail(std::move(error));
        },
        [&](const Error& error, const detail::RetryDecision& decision, auto delay) {
          log_retry("GET", kOAuthPath.substr(0, kOAuthPath.find('?')), error, decision, delay);
        });
  }

  Result<Secret> current_token() const {
    return tokens->token(*clock, config.token_refresh_margin, [this] { return fetch_token(); });
  }

  void log_retry(std::string_view method, std::string_view path, const Error& error,
                 const detail::RetryDecision& decision, std::chrono::milliseconds delay) const {
    logger->info("daraja {} {} retry in {} ms: {} ({})", method, path, delay.count(),
                 decision.reason, to_string(error.kind));
  }

  // POSTs `body` with a bearer token. An invalid-token response fetches a new token and resends
  // once. Daraja did not accept the request, so even a push is safe to resend.
  Result<detail::HttpResponse> post_authorized(std::string_view path, std::string_view body,
                                               CallKind kind, std::string_view context) const {
    auto token = current_token();
    if (!token) return fail(std::move(token.error()));
    auto response = post_with_token(path, body, *token, kind, context);
    if (!response || !is_invalid_token(*response)) return response;

    tokens->invalidate(*token);
    token = current_token();
    if (!token) return fail(std::move(token.error()));
    response = post_with_token(path, body, *token, kind, context);
    if (!response || !is_invalid_token(*response)) return response;
    Error error = classify_daraja_error(response->status, response->body, kind == CallKind::Push);
    error.kind = ErrorKind::Auth;
    error.message =
        "Daraja rejected a freshly issued access token: check that the Daraja app has the M-Pesa "
        "Express product and that MPESA_CONSUMER_KEY belongs to it";
    return fail(std::move(error));
  }

  Result<detail::HttpResponse> post_with_token(std::string_view path, std::string_view body,
                                               const Secret& token, CallKind kind,
                                               std::string_view context) const {
    return exchange("POST", path,
                    {"Authorization: Bearer " + std::string(token.reveal()),
                     "Content-Type: application/json"},
                    body, kind, context);
  }

  template <typename Attempt>
  auto retrying(CallKind kind, std::string_view path, Attempt&& attempt) const {
    return detail::with_retries(
        kind, config.retry, *clock, std::forward<Attempt>(attempt),
        [&](const Error& error, const detail::RetryDecision& decision, auto delay) {
          log_retry("POST", path, error, decision, delay);
        });
  }
};

StkClient::StkClient(Config config, std::shared_ptr<spdlog::logger> logger,
                     std::shared_ptr<const Clock> clock)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(logger), std::move(clock))) {}

StkClient::~StkClient() = default;

const Config& StkClient::config() const noexcept { return impl_->config; }

Result<PushAck> StkClient::push(const PushRequest& request) {
  const Config& config = impl_->config;
  auto push = validate_push(request, config);
  if (!push) return fail(std::move(push.error()));
  if (!push->callback_url.is_https()) {
    impl_->logger->warn("callback URL uses http: Daraja's sandbox accepts it, production "
                        "requires https");
  }

  // One clock reading gives both Timestamp and Password, so they always agree.
  const StkCredentials credentials =
      make_stk_credentials(config.shortcode, config.passkey.reveal(), impl_->clock->now_utc());
  const std::string body = push_body(*push, config, credentials);
  const std::string context =
      fmt::format(" phone={} amount={}", push->phone.masked(), push->amount.shillings());

  return impl_->retrying(CallKind::Push, kPushPath, [&]() -> Result<PushAck> {
    auto response = impl_->post_authorized(kPushPath, body, CallKind::Push, context);
    if (!response) return fail(std::move(response.error()));
    if (response->status < 200 || response->status >= 300) {
      return fail(classify_daraja_error(response->status, response->body, true));
    }
    auto ack = parse_push_ack(response->body);
    if (!ack && ack.error().kind == ErrorKind::Parse) {
      ack.error().kind = ErrorKind::OutcomeUnknown;
      ack.error().http_status = response->status;
      ack.error().message += ": Daraja may have accepted the push; check it with STK Push Query";
    }
    return ack;
  });
}

Result<QueryResult> StkClient::query(std::string_view checkout_request_id) {
  const Config& config = impl_->config;
  auto id = validate_checkout_id(checkout_request_id);
  if (!id) return fail(std::move(id.error()));

  const StkCredentials credentials =
      make_stk_credentials(config.shortcode, config.passkey.reveal(), impl_->clock->now_utc());
  const std::string body = query_body(*id, config, credentials);
  const std::string context = " checkout=" + shorten_checkout_id(*id);

  return impl_->retrying(CallKind::Idempotent, kQueryPath, [&]() -> Result<QueryResult> {
    auto response = impl_->post_authorized(kQueryPath, body, CallKind::Idempotent, context);
    if (!response) return fail(std::move(response.error()));
    return parse_query_result(response->status, response->body);
  });
}

}  // namespace mpesa
