// The SDK's StkClient, over real libcurl, against the in-process simulator: a payment for
// each outcome, from push to final query result and callback.

#include "mpesa/messages.hpp"
#include "mpesa/simulator/outcomes.hpp"
#include "mpesa/stk_client.hpp"
#include "support.hpp"

using namespace mpesa::simulator;
using namespace mpesa::simulator::testing;

namespace {

mpesa::Config client_config(const RunningSimulator& running, const std::string& callback_url) {
  mpesa::Config config;
  config.base_url = running.simulator.base_url();
  config.consumer_key = std::string(kConsumerKey);
  config.consumer_secret = mpesa::Secret(std::string(kConsumerSecret));
  config.shortcode = std::string(kSandboxShortcode);
  config.passkey = mpesa::Secret(std::string(kSandboxPasskey));
  config.callback_url = callback_url;
  config.connect_timeout = std::chrono::milliseconds(1000);
  config.request_timeout = std::chrono::milliseconds(3000);
  return config;
}

// The SDK's log lines go to a buffer, so the test output shows only failures.
std::shared_ptr<spdlog::logger> quiet_logger() {
  static const CapturedLog log;
  return log.logger;
}

// The phone for `rule` in the local form an application would type, `07…`.
std::string local_phone_for(const OutcomeRule& rule) {
  return rule.phone_suffix.empty() ? "0708374149" : "07000000" + std::string(rule.phone_suffix);
}

mpesa::PushRequest push_request(std::string phone) {
  mpesa::PushRequest request;
  request.phone = std::move(phone);
  request.amount = 15;
  request.account_reference = "INV-7";
  request.description = "Order 7";
  return request;
}

// Queries until the result is final, for at most about three seconds.
mpesa::Result<mpesa::QueryResult> query_until_final(mpesa::StkClient& client,
                                                    const std::string& checkout_id) {
  auto result = client.query(checkout_id);
  eventually([&] {
    result = client.query(checkout_id);
    return !result || !result->pending;
  });
  return result;
}

}  // namespace

TEST_CASE("sdk client completes a payment for each outcome") {
  for (const auto form : {PendingQueryForm::ErrorBody, PendingQueryForm::ResultCode4999}) {
    SimulatorConfig config = fast_config();
    config.answer_delay = std::chrono::milliseconds(60);
    config.pending_query_form = form;
    RunningSimulator running(config);
    CallbackListener listener;
    mpesa::StkClient client(client_config(running, listener.url()), quiet_logger());

    std::size_t expected_callbacks = 0;
    for (const OutcomeRule& rule : outcome_rules()) {
      INFO("outcome " << rule.name << ", pending form " << to_string(form));
      const auto ack = client.push(push_request(local_phone_for(rule)));
      REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().describe()));
      CHECK(ack->response_code == "0");

      // The answer delay is long enough for a first query to find the push pending.
      const auto first = client.query(ack->checkout_request_id);
      REQUIRE_MESSAGE(first, (first ? "" : first.error().describe()));
      CHECK(first->pending);

      const auto final_result = query_until_final(client, ack->checkout_request_id);
      REQUIRE_MESSAGE(final_result, (final_result ? "" : final_result.error().describe()));
      CHECK_FALSE(final_result->pending);
      CHECK(final_result->result_code == rule.result_code);
      CHECK(final_result->result_desc == rule.query_desc);
      CHECK(final_result->checkout_request_id == ack->checkout_request_id);
      CHECK(final_result->status() == mpesa::status_for_result_code(rule.result_code));

      if (rule.delivery == Delivery::Lost) continue;
      expected_callbacks += rule.delivery == Delivery::Twice ? 2 : 1;
      REQUIRE(listener.wait_for(expected_callbacks) == expected_callbacks);
      const auto callback = mpesa::parse_stk_callback(listener.bodies().back());
      REQUIRE(callback);
      CHECK(callback->checkout_request_id == ack->checkout_request_id);
      CHECK(callback->merchant_request_id == ack->merchant_request_id);
      CHECK(callback->result_code == rule.result_code);
      if (rule.result_code == "0") {
        CHECK(callback->status() == mpesa::PaymentStatus::Succeeded);
        CHECK(callback->amount_cents == 1500);
      }
    }
  }
}

TEST_CASE("sdk client expected statuses per outcome") {
  const std::map<std::string, mpesa::PaymentStatus> expected{
      {"success", mpesa::PaymentStatus::Succeeded},
      {"cancelled", mpesa::PaymentStatus::Cancelled},
      {"timed_out", mpesa::PaymentStatus::TimedOut},
      {"expired", mpesa::PaymentStatus::TimedOut},
      {"insufficient_funds", mpesa::PaymentStatus::Failed},
      {"wrong_pin", mpesa::PaymentStatus::Failed},
      {"non_numeric_code", mpesa::PaymentStatus::Failed},
  };
  for (const OutcomeRule& rule : outcome_rules()) {
    const auto found = expected.find(std::string(rule.name));
    if (found == expected.end()) continue;
    INFO("outcome " << rule.name);
    CHECK(mpesa::status_for_result_code(rule.result_code) == found->second);
  }
}

TEST_CASE("sdk client refreshes a token another process invalidated") {
  RunningSimulator running;
  CallbackListener listener;
  mpesa::StkClient client(client_config(running, listener.url()), quiet_logger());
  REQUIRE(client.push(push_request("0700000070")));

  // Another process with the same credentials fetches a token, which replaces the client's
  // cached one, as on Daraja.
  running.token();
  const auto again = client.push(push_request("0700000072"));
  REQUIRE_MESSAGE(again, (again ? "" : again.error().describe()));
  INFO(running.log.text());
  CHECK(running.log.text().find("-> 404 errorCode=404.001.03") != std::string::npos);
}

TEST_CASE("sdk client sees Daraja rejections as errors") {
  SimulatorConfig config = fast_config();
  config.manual = true;
  RunningSimulator running(config);
  CallbackListener listener;

  SUBCASE("subscriber locked") {
    mpesa::StkClient client(client_config(running, listener.url()), quiet_logger());
    REQUIRE(client.push(push_request("0708374149")));
    const auto locked = client.push(push_request("0708374149"));
    REQUIRE_FALSE(locked);
    CHECK(locked.error().kind == mpesa::ErrorKind::DarajaRejected);
    CHECK(locked.error().daraja_error_code == "500.001.1001");
  }
  SUBCASE("unknown shortcode") {
    mpesa::Config client_settings = client_config(running, listener.url());
    client_settings.shortcode = "600999";
    mpesa::StkClient client(client_settings, quiet_logger());
    const auto rejected = client.push(push_request("0708374149"));
    REQUIRE_FALSE(rejected);
    CHECK(rejected.error().kind == mpesa::ErrorKind::DarajaRejected);
  }
  SUBCASE("wrong passkey") {
    mpesa::Config client_settings = client_config(running, listener.url());
    client_settings.passkey = mpesa::Secret("not-the-passkey");
    mpesa::StkClient client(client_settings, quiet_logger());
    const auto rejected = client.push(push_request("0708374149"));
    REQUIRE_FALSE(rejected);
    CHECK(rejected.error().kind == mpesa::ErrorKind::DarajaRejected);
  }
  SUBCASE("unknown CheckoutRequestID") {
    mpesa::StkClient client(client_config(running, listener.url()), quiet_logger());
    const auto missing = client.query("ws_CO_01012026000000000700000000");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == mpesa::ErrorKind::NotFound);
  }
  SUBCASE("wrong consumer secret") {
    mpesa::Config client_settings = client_config(running, listener.url());
    client_settings.consumer_secret = mpesa::Secret("wrong");
    mpesa::StkClient client(client_settings, quiet_logger());
    const auto rejected = client.push(push_request("0708374149"));
    REQUIRE_FALSE(rejected);
    CHECK(rejected.error().kind == mpesa::ErrorKind::Auth);
  }
}
