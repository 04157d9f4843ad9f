// The control API: listing pushes and settling them by hand, and configuration checks.

#include "mpesa/config.hpp"
#include "mpesa/messages.hpp"
#include "mpesa/simulator/outcomes.hpp"
#include "support.hpp"

using namespace mpesa::simulator;
using namespace mpesa::simulator::testing;

namespace {

SimulatorConfig manual_config() {
  SimulatorConfig config = fast_config();
  config.manual = true;
  return config;
}

httplib::Result post_resolve(const RunningSimulator& running, const std::string& checkout_id,
                             const std::string& body) {
  return running.client().Post(fmt::format("/simulator/pushes/{}/resolve", checkout_id), body,
                               "application/json");
}

}  // namespace

TEST_CASE("control list shows pushes and outcomes") {
  RunningSimulator running;
  const std::string token = running.token();
  PushBody cancelled;
  cancelled.phone = "254700000002";
  const std::string first = running.accepted_push(PushBody{}, token);
  const std::string second = running.accepted_push(cancelled, token);

  const auto result = running.client().Get("/simulator/pushes");
  REQUIRE(result);
  CHECK(result->status == 200);
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(result->body);
  simdjson::dom::array pushes;
  REQUIRE(parser.parse(padded)["pushes"].get_array().get(pushes) == simdjson::SUCCESS);
  REQUIRE(pushes.size() == 2);
  CHECK(pushes.at(0)["CheckoutRequestID"].get_string().value() == first);
  CHECK(pushes.at(0)["Outcome"].get_string().value() == "success");
  CHECK(pushes.at(1)["CheckoutRequestID"].get_string().value() == second);
  CHECK(pushes.at(1)["Outcome"].get_string().value() == "cancelled");
  CHECK(pushes.at(1)["Amount"].get_int64().value() == 10);

  REQUIRE(eventually([&] { return running.simulator.pushes().at(1).state == "settled"; }));
  const auto later = running.client().Get("/simulator/pushes");
  REQUIRE(later);
  CHECK(later->body.find(R"("ResultCode":"1032")") != std::string::npos);
}

TEST_CASE("control manual mode waits for a resolve") {
  RunningSimulator running(manual_config());
  const std::string token = running.token();
  CallbackListener listener;
  PushBody body;
  body.callback_url = listener.url();
  const std::string checkout_id = running.accepted_push(body, token);

  // Far longer than the automatic answer delay: a manual push must still be pending.
  CHECK(listener.wait_for(1, std::chrono::milliseconds(200)) == 0);
  CHECK(running.simulator.pushes().front().state == "pending");
  CHECK(running.simulator.pushes().front().outcome == "manual");

  const auto resolved = post_resolve(running, checkout_id, R"({"ResultCode": 1032})");
  REQUIRE(resolved);
  CHECK(resolved->status == 200);
  CHECK(resolved->body.find(R"("State":"settled")") != std::string::npos);

  REQUIRE(listener.wait_for(1) == 1);
  const auto parsed = mpesa::parse_stk_callback(listener.bodies().front());
  REQUIRE(parsed);
  CHECK(parsed->result_code == "1032");
  CHECK(parsed->result_desc == "Request cancelled by user");
  CHECK(parsed->status() == mpesa::PaymentStatus::Cancelled);

  const auto queried = running.query(checkout_id, token);
  REQUIRE(queried);
  CHECK(string_member(queried->body, "ResultCode") == "1032");
}

TEST_CASE("control resolve with 0 is a success with a receipt") {
  RunningSimulator running(manual_config());
  CallbackListener listener;
  PushBody body;
  body.callback_url = listener.url();
  const std::string checkout_id = running.accepted_push(body, running.token());

  const auto resolved = post_resolve(running, checkout_id, R"({"ResultCode": 0})");
  REQUIRE(resolved);
  CHECK(resolved->status == 200);
  REQUIRE(listener.wait_for(1) == 1);
  const auto parsed = mpesa::parse_stk_callback(listener.bodies().front());
  REQUIRE(parsed);
  CHECK(parsed->status() == mpesa::PaymentStatus::Succeeded);
  CHECK(parsed->receipt.has_value());
  CHECK(parsed->amount_cents == 1000);
}

TEST_CASE("control resolve accepts a string code and a description") {
  RunningSimulator running(manual_config());
  CallbackListener listener;
  PushBody body;
  body.callback_url = listener.url();
  const std::string checkout_id = running.accepted_push(body, running.token());

  const auto resolved =
      post_resolve(running, checkout_id, R"({"ResultCode": "17", "ResultDesc": "Rule limited."})");
  REQUIRE(resolved);
  CHECK(resolved->status == 200);
  REQUIRE(listener.wait_for(1) == 1);
  const auto parsed = mpesa::parse_stk_callback(listener.bodies().front());
  REQUIRE(parsed);
  CHECK(parsed->result_code == "17");
  CHECK(parsed->result_desc == "Rule limited.");
}

TEST_CASE("control resolve rejects bad requests") {
  RunningSimulator running(manual_config());
  const std::string checkout_id = running.accepted_push(PushBody{}, running.token());

  SUBCASE("unknown id") {
    const auto result = post_resolve(running, "ws_CO_nothing", R"({"ResultCode": 0})");
    REQUIRE(result);
    CHECK(result->status == 404);
  }
  SUBCASE("body without ResultCode") {
    const auto result = post_resolve(running, checkout_id, R"({"Code": 0})");
    REQUIRE(result);
    CHECK(result->status == 400);
    CHECK(running.simulator.pushes().front().state == "pending");
  }
  SUBCASE("already settled") {
    REQUIRE(post_resolve(running, checkout_id, R"({"ResultCode": 0})")->status == 200);
    const auto again = post_resolve(running, checkout_id, R"({"ResultCode": 1032})");
    REQUIRE(again);
    CHECK(again->status == 409);
    CHECK(running.simulator.pushes().front().result_code == "0");
  }
}

TEST_CASE("control resolve keeps the phone's delivery") {
  RunningSimulator running(manual_config());
  const std::string token = running.token();
  CallbackListener listener;
  PushBody body;
  body.phone = "254700000011";  // callback_twice
  body.callback_url = listener.url();
  const std::string checkout_id = running.accepted_push(body, token);
  REQUIRE(running.simulator.resolve(checkout_id, "1032"));
  CHECK(listener.wait_for(2) == 2);
}

TEST_CASE("outcome table covers every documented case") {
  std::vector<std::string> names;
  for (const OutcomeRule& rule : outcome_rules()) names.emplace_back(rule.name);
  const std::vector<std::string> expected{
      "success",           "success_with_balance", "cancelled",        "timed_out",
      "insufficient_funds", "wrong_pin",           "expired",          "subscriber_locked",
      "push_not_delivered", "non_numeric_code",    "callback_lost",    "callback_twice",
      "callback_late"};
  CHECK(names == expected);
  CHECK(outcome_for_phone("254708374149").name == "success");
  CHECK(outcome_for_phone("254700000003").result_code == "1037");
  CHECK(outcome_for_phone("254100000005").result_code == "2001");

  const std::string table = outcome_table_text();
  for (const std::string& name : expected) CHECK(table.find(name) != std::string::npos);
}

TEST_CASE("config rejects unusable values") {
  SimulatorConfig config = fast_config();
  SUBCASE("no consumer key") { config.consumer_key.clear(); }
  SUBCASE("no consumer secret") { config.consumer_secret = mpesa::Secret(); }
  SUBCASE("bad shortcode") { config.shortcode = "12"; }
  SUBCASE("zero token lifetime") { config.token_lifetime = std::chrono::seconds(0); }
  SUBCASE("negative rate limit") { config.rate_limit_per_second = -1; }
  CHECK_THROWS_AS(config.validate(), mpesa::ConfigError);
}

TEST_CASE("simulator start on a busy port is a config error") {
  RunningSimulator running;
  Simulator second(fast_config(), running.log.logger);
  CHECK_THROWS_AS(second.start("127.0.0.1", running.port), mpesa::ConfigError);
}

TEST_CASE("simulator stops with callbacks pending") {
  SimulatorConfig config = fast_config();
  config.answer_delay = std::chrono::seconds(60);
  auto running = std::make_unique<RunningSimulator>(config);
  running->accepted_push(PushBody{}, running->token());
  const int port = running->port;
  running->simulator.stop();
  running->simulator.stop();
  CHECK(running->log.text().find("1 scheduled answers, callbacks or timers dropped") != std::string::npos);
  running.reset();

  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(1));
  CHECK_FALSE(client.Get("/simulator/pushes"));
}
