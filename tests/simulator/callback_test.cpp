// Callbacks: one per outcome in Daraja's shape, and the lost, duplicated, late and failed
// deliveries.

#include "mpesa/messages.hpp"
#include "mpesa/simulator/outcomes.hpp"
#include "support.hpp"

using namespace mpesa::simulator;
using namespace mpesa::simulator::testing;

namespace {

// The phone number that selects `rule`: 2547000000 + its suffix, or the sandbox test number.
std::string phone_for(const OutcomeRule& rule) {
  return rule.phone_suffix.empty() ? std::string(kSuccessPhone)
                                   : "2547000000" + std::string(rule.phone_suffix);
}

// The members of Body.stkCallback, with their types.
std::map<std::string, std::string> stk_callback_members(const std::string& callback) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(callback);
  simdjson::dom::element inner;
  REQUIRE(parser.parse(padded)["Body"]["stkCallback"].get(inner) == simdjson::SUCCESS);
  return member_types(simdjson::minify(inner));
}

// Pushes to the phone of `rule` with its callback going to `listener`; returns the id.
std::string push_for(RunningSimulator& running, const std::string& token, const OutcomeRule& rule,
                     const CallbackListener& listener, std::string amount = "10") {
  PushBody body;
  body.phone = phone_for(rule);
  body.amount = std::move(amount);
  body.callback_url = listener.url("/callbacks/mpesa/path-token?secret=s3");
  return running.accepted_push(body, token);
}

const OutcomeRule& rule_named(std::string_view name) {
  for (const OutcomeRule& rule : outcome_rules()) {
    if (rule.name == name) return rule;
  }
  FAIL("no outcome rule named " << name);
  return outcome_rules().front();
}

PushSnapshot snapshot_of(const Simulator& simulator, const std::string& checkout_id) {
  for (const PushSnapshot& push : simulator.pushes()) {
    if (push.checkout_request_id == checkout_id) return push;
  }
  FAIL("no push " << checkout_id);
  return {};
}

}  // namespace

TEST_CASE("callback for each outcome has Daraja's shape") {
  RunningSimulator running;
  const std::string token = running.token();
  const std::string success_sample =
      read_sample("callback/01-docs-success-4-items-no-balance-amount-1.00.json");
  const std::string failure_sample = read_sample("callback/02-docs-1032-cancelled-uuidlike-ids.json");

  for (const OutcomeRule& rule : outcome_rules()) {
    if (rule.delivery != Delivery::Once) continue;
    INFO("outcome " << rule.name);
    CallbackListener listener;
    const std::string checkout_id = push_for(running, token, rule, listener, "25");
    REQUIRE(listener.wait_for(1) == 1);
    const std::string body = listener.bodies().front();
    INFO("callback " << body);

    CHECK(listener.content_types().front() == "application/json;charset=UTF-8");
    CHECK(listener.paths().front() == "/callbacks/mpesa/path-token");
    const auto parsed = mpesa::parse_stk_callback(body);
    REQUIRE(parsed);
    CHECK(parsed->checkout_request_id == checkout_id);
    CHECK(parsed->result_code == rule.result_code);
    CHECK(parsed->result_desc == rule.callback_desc);

    if (!is_numeric_result_code(rule.result_code)) {
      CHECK(body.find(fmt::format("\"ResultCode\":\"{}\"", rule.result_code)) != std::string::npos);
    } else {
      CHECK(body.find(fmt::format("\"ResultCode\":{},", rule.result_code)) != std::string::npos);
    }

    if (rule.result_code != "0") {
      auto expected = stk_callback_members(failure_sample);
      if (!is_numeric_result_code(rule.result_code)) expected["ResultCode"] = "string";
      CHECK(stk_callback_members(body) == expected);
      CHECK(parsed->status() == mpesa::status_for_result_code(rule.result_code));
      continue;
    }
    CHECK(stk_callback_members(body) == stk_callback_members(success_sample));
    CHECK(parsed->status() == mpesa::PaymentStatus::Succeeded);
    CHECK(parsed->amount_cents == 2500);
    CHECK(body.find(R"({"Name":"Amount","Value":25.00})") != std::string::npos);
    CHECK(parsed->phone == std::stoll(phone_for(rule)));
    REQUIRE(parsed->receipt);
    CHECK(*parsed->receipt == snapshot_of(running.simulator, checkout_id).receipt);
    REQUIRE(parsed->transaction_date);
    CHECK(std::to_string(*parsed->transaction_date).size() == 14);
    CHECK(std::to_string(*parsed->transaction_date).substr(0, 8) ==
          mpesa::nairobi_timestamp(std::chrono::system_clock::now()).substr(0, 8));
    const bool has_balance = body.find(R"({"Name":"Balance"})") != std::string::npos;
    CHECK(has_balance == rule.balance_item);
  }
}

TEST_CASE("callback receipt number looks real") {
  RunningSimulator running;
  CallbackListener listener;
  push_for(running, running.token(), rule_named("success"), listener);
  REQUIRE(listener.wait_for(1) == 1);
  const auto parsed = mpesa::parse_stk_callback(listener.bodies().front());
  REQUIRE(parsed);
  REQUIRE(parsed->receipt);
  const std::string& receipt = *parsed->receipt;
  CHECK(receipt.size() == 10);
  for (const char c : receipt) CHECK(((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')));

  // Receipts start with the date: year letter (A = 2006), month letter, day (1-9, A = 10).
  const std::string today = mpesa::nairobi_timestamp(std::chrono::system_clock::now());
  const int year = std::stoi(today.substr(0, 4));
  const int month = std::stoi(today.substr(4, 2));
  const int day = std::stoi(today.substr(6, 2));
  CHECK(receipt[0] == static_cast<char>('A' + (year - 2006)));
  CHECK(receipt[1] == static_cast<char>('A' + month - 1));
  CHECK(receipt[2] == (day < 10 ? static_cast<char>('0' + day) : static_cast<char>('A' + day - 10)));
}

TEST_CASE("callback lost is only visible to a query") {
  RunningSimulator running;
  const std::string token = running.token();
  CallbackListener listener;
  const std::string checkout_id = push_for(running, token, rule_named("callback_lost"), listener);

  REQUIRE(eventually([&] {
    const auto result = running.query(checkout_id, token);
    return result && result->status == 200 && string_member(result->body, "ResultCode") == "0";
  }));
  // Ten times the callback delay: a callback that was going to come would have come.
  CHECK(listener.wait_for(1, std::chrono::milliseconds(200)) == 0);
  CHECK(snapshot_of(running.simulator, checkout_id).callback_state == "withheld");
}

TEST_CASE("callback delivered twice carries the same body") {
  RunningSimulator running;
  CallbackListener listener;
  const std::string checkout_id =
      push_for(running, running.token(), rule_named("callback_twice"), listener);
  REQUIRE(listener.wait_for(2) == 2);
  const auto bodies = listener.bodies();
  CHECK(bodies[0] == bodies[1]);
  const auto parsed = mpesa::parse_stk_callback(bodies[0]);
  REQUIRE(parsed);
  CHECK(parsed->status() == mpesa::PaymentStatus::Succeeded);
  CHECK(eventually([&] { return snapshot_of(running.simulator, checkout_id).callbacks_delivered == 2; }));
}

TEST_CASE("callback late arrives after the query answered") {
  RunningSimulator running;
  const std::string token = running.token();
  CallbackListener listener;
  const std::string checkout_id = push_for(running, token, rule_named("callback_late"), listener);

  REQUIRE(eventually([&] { return snapshot_of(running.simulator, checkout_id).state == "settled"; }));
  CHECK(listener.wait_for(1, std::chrono::milliseconds(200)) == 0);
  CHECK(snapshot_of(running.simulator, checkout_id).callback_state == "waiting_for_query");

  const auto answered = running.query(checkout_id, token);
  REQUIRE(answered);
  CHECK(answered->status == 200);
  CHECK(string_member(answered->body, "ResultCode") == "0");
  const auto query_answered_at = std::chrono::steady_clock::now();

  REQUIRE(listener.wait_for(1) == 1);
  CHECK(listener.arrival_times().front() >= query_answered_at);
  const auto parsed = mpesa::parse_stk_callback(listener.bodies().front());
  REQUIRE(parsed);
  CHECK(parsed->checkout_request_id == checkout_id);
  CHECK(parsed->receipt.has_value());
}

TEST_CASE("callback late is sent anyway when no query comes") {
  SimulatorConfig config = fast_config();
  config.late_callback_timeout = std::chrono::milliseconds(100);
  RunningSimulator running(config);
  CallbackListener listener;
  push_for(running, running.token(), rule_named("callback_late"), listener);
  CHECK(listener.wait_for(1) == 1);
}

TEST_CASE("callback failure is logged and not retried") {
  RunningSimulator running;
  CallbackListener listener(1);
  const std::string checkout_id = push_for(running, running.token(), rule_named("success"), listener);
  REQUIRE(eventually([&] { return snapshot_of(running.simulator, checkout_id).callback_state == "failed"; }));
  CHECK(listener.wait_for(2, std::chrono::milliseconds(200)) == 1);
  CHECK(running.log.text().find("not retried") != std::string::npos);
  CHECK(running.log.text().find("path-token") == std::string::npos);
}

TEST_CASE("callback to a closed port fails cleanly") {
  RunningSimulator running;
  int closed_port = 0;
  {
    CallbackListener closed_listener;
    const std::string url = closed_listener.url();
    closed_port = std::stoi(url.substr(17, url.find('/', 17) - 17));
  }
  PushBody body;
  body.callback_url = fmt::format("http://127.0.0.1:{}/callbacks", closed_port);
  const std::string checkout_id = running.accepted_push(body, running.token());
  CHECK(eventually([&] { return snapshot_of(running.simulator, checkout_id).callback_state == "failed"; }));
}

TEST_CASE("callback retries when asked") {
  SimulatorConfig config = fast_config();
  config.callback_retries = 2;
  config.callback_retry_delay = std::chrono::milliseconds(20);
  RunningSimulator running(config);
  CallbackListener listener(2);
  const std::string checkout_id = push_for(running, running.token(), rule_named("success"), listener);

  REQUIRE(listener.wait_for(3) == 3);
  CHECK(eventually([&] { return snapshot_of(running.simulator, checkout_id).callback_state == "delivered"; }));
  CHECK(snapshot_of(running.simulator, checkout_id).callbacks_delivered == 1);
  const auto bodies = listener.bodies();
  CHECK(bodies[0] == bodies[2]);
}
