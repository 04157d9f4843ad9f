// Daraja's OAuth, STK Push and STK Push Query endpoints: the checks Daraja applies, in the
// order it applies them, and its error bodies.

#include <fmt/format.h>

#include "detail/json_text.hpp"
#include "detail/simulator_impl.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/password.hpp"

namespace mpesa::simulator {

using detail::Reply;

namespace {

// NOTE: Daraja returns these codes and messages; see the Daraja API docs at
// https://developer.safaricom.co.ke/apis. 500.001.1001 carries several meanings, told apart
// by the message.
constexpr std::string_view kInvalidToken = "404.001.03";
constexpr std::string_view kBadRequest = "400.002.02";
constexpr std::string_view kRejected = "500.001.1001";
constexpr std::string_view kSpikeArrest = "500.003.02";

std::string bearer_token(const httplib::Request& request) {
  const std::string header = request.get_header_value("Authorization");
  constexpr std::string_view kPrefix = "Bearer ";
  if (!header.starts_with(kPrefix)) return {};
  return header.substr(kPrefix.size());
}

}  // namespace

Reply Simulator::Impl::daraja_error(int status, std::string_view code, std::string_view message) {
  std::lock_guard lock(mutex);
  return Reply{status, detail::daraja_error_body(ids.request_id(), code, message),
               fmt::format("errorCode={} \"{}\"", code, message)};
}

Reply Simulator::Impl::generate_token(const httplib::Request& request) {
  const std::string authorization = request.get_header_value("Authorization");
  if (!authorization.starts_with("Basic ")) {
    return daraja_error(400, "400.008.01", "Invalid Authentication passed");
  }
  if (request.get_param_value("grant_type") != "client_credentials") {
    return daraja_error(400, "400.008.02", "Invalid grant type passed");
  }
  // Daraja rejects wrong credentials with a bare HTTP 400 and no body.
  if (!constant_time_equals(authorization, expected_basic_auth.reveal())) {
    return Reply{400, "", "wrong consumer key or secret"};
  }

  std::lock_guard lock(mutex);
  std::string token = ids.access_token();
  tokens.issue(config.consumer_key, token, clock->now_steady());
  const std::string body =
      fmt::format("{{\n  \"access_token\": {},\n  \"expires_in\": \"{}\"\n}}",
                  detail::json_quote(token), config.token_lifetime.count());
  return Reply{200, body, fmt::format("token issued, expires_in={}", config.token_lifetime.count())};
}

// The gateway's checks, before the body is read: spike arrest, then the access token, then
// the media type. Daraja rejects a missing `Content-Type: application/json` with the
// "Invalid BusinessShortCode" error, because it cannot read the first field.
std::optional<Reply> Simulator::Impl::check_gateway(const httplib::Request& request) {
  bool allowed = false;
  bool token_valid = false;
  {
    std::lock_guard lock(mutex);
    const auto now = clock->now_steady();
    allowed = limiter.allow(now);
    token_valid = tokens.is_valid(bearer_token(request), now);
  }
  if (!allowed) return daraja_error(500, kSpikeArrest, "Error Occurred: Spike Arrest Violation");
  if (!token_valid) return daraja_error(404, kInvalidToken, "Invalid Access Token");
  if (!detail::is_json_content_type(request.get_header_value("Content-Type"))) {
    return daraja_error(400, kBadRequest, "Bad Request - Invalid BusinessShortCode");
  }
  return std::nullopt;
}

// The shortcode must exist, and the Password must be base64(shortcode + passkey +
// Timestamp) with a Timestamp close to the current Nairobi time.
std::optional<Reply> Simulator::Impl::check_merchant(const std::string& shortcode,
                                                     const std::string& password,
                                                     const std::string& timestamp) {
  if (shortcode != config.shortcode) {
    return daraja_error(500, kRejected, "Merchant does not exist.");
  }
  std::chrono::system_clock::time_point instant;
  if (!parse_nairobi_timestamp(timestamp, instant)) {
    return daraja_error(400, kBadRequest, "Bad Request - Invalid Timestamp");
  }
  const auto expected = make_stk_credentials(shortcode, config.passkey.reveal(), instant);
  const auto skew = clock->now_utc() - instant;
  const bool fresh = skew <= config.timestamp_tolerance && -skew <= config.timestamp_tolerance;
  if (!constant_time_equals(password, expected.password) || !fresh) {
    return daraja_error(500, kRejected, "Wrong credentials");
  }
  return std::nullopt;
}

Reply Simulator::Impl::process_push(const httplib::Request& request) {
  if (auto rejected = check_gateway(request)) return *rejected;

  const auto fields = detail::read_push_fields(request.body);
  if (!fields) return daraja_error(400, kBadRequest, "Bad Request - Invalid " + fields.error());

  if (auto rejected = check_merchant(fields->shortcode, fields->password, fields->timestamp)) {
    return *rejected;
  }
  return accept_push(*fields);
}

Reply Simulator::Impl::query_push(const httplib::Request& request) {
  if (auto rejected = check_gateway(request)) return *rejected;

  const auto fields = detail::read_query_fields(request.body);
  if (!fields) return daraja_error(400, kBadRequest, "Bad Request - Invalid " + fields.error());

  if (auto rejected = check_merchant(fields->shortcode, fields->password, fields->timestamp)) {
    return *rejected;
  }
  return answer_query(fields->checkout_request_id);
}

}  // namespace mpesa::simulator
