// OAuth: Daraja's response shapes, its errors, expiry and the one-token-per-key rule.

#include "support.hpp"

using namespace mpesa::simulator;
using namespace mpesa::simulator::testing;

TEST_CASE("oauth token has Daraja's shape") {
  RunningSimulator running;
  const auto result = running.get_token();
  REQUIRE(result);
  CHECK(result->status == 200);
  const std::string sample = read_sample("oauth/02-success-expires-string.json");
  CHECK(member_types(result->body) == member_types(sample));
  CHECK(string_member(result->body, "expires_in") == "3599");
  CHECK(string_member(result->body, "access_token").size() == 28);
}

TEST_CASE("oauth expires_in follows the configured lifetime") {
  SimulatorConfig config = fast_config();
  config.token_lifetime = std::chrono::seconds(5);
  RunningSimulator running(config);
  const auto result = running.get_token();
  REQUIRE(result);
  CHECK(string_member(result->body, "expires_in") == "5");
}

TEST_CASE("oauth without basic auth is 400.008.01") {
  RunningSimulator running;
  const httplib::Headers bearer{{"Authorization", "Baerer abc"}};
  const auto result =
      running.client().Get("/oauth/v1/generate?grant_type=client_credentials", bearer);
  REQUIRE(result);
  CHECK(result->status == 400);
  check_error_like_sample(result->body, "oauth/04-error-400.008.01-invalid-authentication.json");
}

TEST_CASE("oauth with a wrong grant type is 400.008.02") {
  RunningSimulator running;
  const auto result = running.get_token(kConsumerKey, kConsumerSecret, "client_credentialss");
  REQUIRE(result);
  CHECK(result->status == 400);
  check_error_like_sample(result->body, "oauth/05-error-400.008.02-invalid-grant.partial.json");
}

TEST_CASE("oauth with wrong credentials is a bare 400") {
  RunningSimulator running;
  const std::string sample = read_sample("transport/03-oauth-http400-wrong-credentials-status-only.json");
  REQUIRE(sample.find("\"status\": 400") != std::string::npos);

  SUBCASE("wrong secret") {
    const auto result = running.get_token(kConsumerKey, "not-the-secret");
    REQUIRE(result);
    CHECK(result->status == 400);
    CHECK(result->body.empty());
  }
  SUBCASE("wrong key") {
    const auto result = running.get_token("someone-else", kConsumerSecret);
    REQUIRE(result);
    CHECK(result->status == 400);
    CHECK(result->body.empty());
  }
}

TEST_CASE("oauth new token invalidates the previous one") {
  RunningSimulator running;
  const std::string first = running.token();
  const std::string second = running.token();
  REQUIRE(first != second);

  const auto with_first = running.push(PushBody{}, first);
  REQUIRE(with_first);
  CHECK(with_first->status == 404);
  check_error_like_sample(with_first->body,
                          "stkpush_error/07-404.001.03-invalid-access-token-2024-new-requestid.json");

  const auto with_second = running.push(PushBody{}, second);
  REQUIRE(with_second);
  CHECK(with_second->status == 200);
}

TEST_CASE("oauth token expires after its lifetime") {
  SimulatorConfig config = fast_config();
  config.token_lifetime = std::chrono::seconds(5);
  auto clock = std::make_shared<ShiftedClock>();
  RunningSimulator running(config, clock);
  const std::string token = running.token();

  PushBody body;
  body.phone = body.party_a = "254700000020";
  const auto before = running.push(body, token);
  REQUIRE(before);
  CHECK(before->status == 200);

  clock->advance(std::chrono::milliseconds(5001));
  body.phone = body.party_a = "254700000021";
  // The push's Timestamp must follow the shifted clock, or it would be stale.
  const auto after = running.post("/mpesa/stkpush/v1/processrequest", body.json(clock->now_utc()), token);
  REQUIRE(after);
  CHECK(after->status == 404);
  check_error_like_sample(after->body,
                          "stkpush_error/07-404.001.03-invalid-access-token-2024-new-requestid.json");
}

TEST_CASE("oauth log lines contain no secret") {
  RunningSimulator running;
  const std::string token = running.token();
  const std::string checkout_id = running.accepted_push(PushBody{}, token);
  const auto queried = running.query(checkout_id, token);
  REQUIRE(queried);

  const std::string log = running.log.text();
  CHECK(log.find("/oauth/v1/generate -> 200") != std::string::npos);
  CHECK(log.find(token) == std::string::npos);
  CHECK(log.find(kConsumerSecret) == std::string::npos);
  CHECK(log.find(kSandboxPasskey) == std::string::npos);
  CHECK(log.find(kSuccessPhone) == std::string::npos);
  CHECK(log.find(checkout_id) == std::string::npos);
  CHECK(log.find("grant_type") == std::string::npos);
}
