// Accepted pushes and STK Push Query: response shapes, id formats, pending and final results.

#include <regex>

#include "support.hpp"

using namespace mpesa::simulator;
using namespace mpesa::simulator::testing;

TEST_CASE("push accepted answer has Daraja's shape") {
  RunningSimulator running;
  const auto before = std::chrono::system_clock::now();
  const auto result = running.push(PushBody{}, running.token());
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(member_types(result->body) ==
        member_types(read_sample("stkpush_response/02-sandbox-2022-test-msisdn-in-checkoutid.json")));
  CHECK(string_member(result->body, "ResponseCode") == "0");
  CHECK(string_member(result->body, "ResponseDescription") == "Success. Request accepted for processing");
  CHECK(string_member(result->body, "CustomerMessage") == "Success. Request accepted for processing");

  const std::string checkout_id = string_member(result->body, "CheckoutRequestID");
  const std::regex modern(R"(ws_CO_(\d{2})(\d{2})(\d{4})(\d{6})(\d{1,3})(708374149))");
  std::smatch parts;
  REQUIRE_MESSAGE(std::regex_match(checkout_id, parts, modern), checkout_id);
  // The date part is in Nairobi time, read from the same clock as `before`.
  const std::string nairobi = mpesa::nairobi_timestamp(before);
  CHECK(parts[3].str() + parts[2].str() + parts[1].str() == nairobi.substr(0, 8));

  const std::regex merchant_id(R"([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d+)");
  CHECK(std::regex_match(string_member(result->body, "MerchantRequestID"), merchant_id));
}

TEST_CASE("push ids repeat with the same seed") {
  const auto merchant_ids = [] {
    RunningSimulator running;
    const std::string token = running.token();
    std::vector<std::string> ids{token};
    for (const char* phone : {"254700000060", "254700000061"}) {
      PushBody body;
      body.phone = phone;
      ids.push_back(string_member(running.push(body, token)->body, "MerchantRequestID"));
    }
    return ids;
  };
  CHECK(merchant_ids() == merchant_ids());
}

TEST_CASE("query while pending is the error body by default") {
  SimulatorConfig config = fast_config();
  config.manual = true;
  RunningSimulator running(config);
  const std::string token = running.token();
  const std::string checkout_id = running.accepted_push(PushBody{}, token);

  const auto result = running.query(checkout_id, token);
  REQUIRE(result);
  CHECK(result->status == 500);
  check_error_like_sample(result->body,
                          "stkquery/05-being-processed-500.001.1001-requestid-is-checkoutid.json");
  CHECK(string_member(result->body, "requestId") == checkout_id);
}

TEST_CASE("query while pending can be ResultCode 4999") {
  SimulatorConfig config = fast_config();
  config.manual = true;
  config.pending_query_form = PendingQueryForm::ResultCode4999;
  RunningSimulator running(config);
  const std::string token = running.token();
  const std::string checkout_id = running.accepted_push(PushBody{}, token);

  const auto result = running.query(checkout_id, token);
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(member_types(result->body) ==
        member_types(read_sample("stkquery/01-docs-success-resultcode-string.json")));
  CHECK(string_member(result->body, "ResultCode") == "4999");
  CHECK(string_member(result->body, "CheckoutRequestID") == checkout_id);
}

TEST_CASE("query after the answer returns the ResultCode as a string") {
  RunningSimulator running;
  const std::string token = running.token();
  PushBody body;
  body.phone = "254700000002";  // cancelled
  const std::string checkout_id = running.accepted_push(body, token);

  std::string answer;
  REQUIRE(eventually([&] {
    const auto result = running.query(checkout_id, token);
    if (!result || result->status != 200) return false;
    answer = result->body;
    return true;
  }));
  const std::string sample = read_sample("stkquery/03-1032-cancelled-resultcode-string-2021.json");
  CHECK(member_types(answer) == member_types(sample));
  CHECK(string_member(answer, "ResultCode") == "1032");
  CHECK(string_member(answer, "ResultDesc") == string_member(sample, "ResultDesc"));
  CHECK(string_member(answer, "ResponseDescription") ==
        string_member(sample, "ResponseDescription"));
  CHECK(string_member(answer, "MerchantRequestID") ==
        running.simulator.pushes().front().merchant_request_id);
}

TEST_CASE("query of an unknown id is does not Exist") {
  RunningSimulator running;
  const auto result = running.query("ws_CO_01012026000000000700000000", running.token());
  REQUIRE(result);
  CHECK(result->status == 500);
  check_error_like_sample(result->body,
                          "stkquery/08-unknown-checkoutid-does-not-exist-http500.partial.json");
}

TEST_CASE("query checks token, fields and credentials") {
  RunningSimulator running;
  const std::string token = running.token();

  SUBCASE("invalid token") {
    const auto result = running.query("ws_CO_x", "not-a-token");
    REQUIRE(result);
    CHECK(result->status == 404);
    CHECK(string_member(result->body, "errorCode") == "404.001.03");
  }
  SUBCASE("missing CheckoutRequestID") {
    const auto credentials = mpesa::make_stk_credentials(kSandboxShortcode, kSandboxPasskey,
                                                         std::chrono::system_clock::now());
    const std::string json =
        fmt::format(R"({{"BusinessShortCode":"174379","Password":"{}","Timestamp":"{}"}})",
                    credentials.password, credentials.timestamp);
    const auto result = running.post("/mpesa/stkpushquery/v1/query", json, token);
    REQUIRE(result);
    CHECK(result->status == 400);
    CHECK(string_member(result->body, "errorMessage") == "Bad Request - Invalid CheckoutRequestID");
  }
  SUBCASE("stale timestamp") {
    const auto old = std::chrono::system_clock::now() - std::chrono::hours(1);
    const auto result = running.post("/mpesa/stkpushquery/v1/query", query_json("ws_CO_x", old), token);
    REQUIRE(result);
    CHECK(result->status == 500);
    check_error_like_sample(result->body, "stkpush_error/09-500.001.1001-wrong-credentials.json");
  }
}
