// STK push rejections: each check Daraja applies, with Daraja's status, code and message,
// compared with the recorded samples.

#include "support.hpp"

using namespace mpesa::simulator;
using namespace mpesa::simulator::testing;

namespace {

constexpr std::string_view kPushPath = "/mpesa/stkpush/v1/processrequest";

// Pushes `body` and checks the response against the sample's code, message and shape.
void check_push_rejected(RunningSimulator& running, const std::string& token,
                         const PushBody& body, int status, const std::string& sample_file) {
  const auto result = running.push(body, token);
  REQUIRE(result);
  CHECK(result->status == status);
  CHECK(result->get_header_value("Content-Type") == "application/json;charset=UTF-8");
  check_error_like_sample(result->body, sample_file);
}

// Pushes `body` and checks for "400.002.02 Bad Request - Invalid <field>".
void check_invalid_field(RunningSimulator& running, const std::string& token,
                         const PushBody& body, std::string_view field) {
  const auto result = running.push(body, token);
  REQUIRE(result);
  INFO("field " << field << ", body " << body.json());
  CHECK(result->status == 400);
  CHECK(string_member(result->body, "errorCode") == "400.002.02");
  CHECK(string_member(result->body, "errorMessage") == fmt::format("Bad Request - Invalid {}", field));
  CHECK(member_types(result->body) == member_types(read_sample(
                                          "stkpush_error/04-400.002.02-invalid-phonenumber-compact.json")));
}

}  // namespace

TEST_CASE("push without a valid token is 404.001.03") {
  RunningSimulator running;
  SUBCASE("unknown token") {
    check_push_rejected(running, "Xq4TzP8mVb2RkL9wNc7YhJ3sDf6G", PushBody{}, 404,
                        "stkpush_error/07-404.001.03-invalid-access-token-2024-new-requestid.json");
  }
  SUBCASE("no Authorization header") {
    const auto result = running.client().Post(std::string(kPushPath), PushBody{}.json(),
                                              "application/json");
    REQUIRE(result);
    CHECK(result->status == 404);
    check_error_like_sample(result->body,
                            "stkpush_error/07-404.001.03-invalid-access-token-2024-new-requestid.json");
  }
  const std::string envelope =
      read_sample("transport/04-stkpush-http404-invalid-token-full-headers.json");
  CHECK(envelope.find("\"status\": 404") != std::string::npos);
}

TEST_CASE("push without JSON content type is Invalid BusinessShortCode") {
  RunningSimulator running;
  const auto result = running.post(std::string(kPushPath), PushBody{}.json(), running.token(),
                                   "text/plain");
  REQUIRE(result);
  CHECK(result->status == 400);
  check_error_like_sample(result->body,
                          "stkpush_error/01-400.002.02-invalid-businessshortcode-docs.json");
}

TEST_CASE("push body that is not JSON is Invalid BusinessShortCode") {
  RunningSimulator running;
  const auto result = running.post(std::string(kPushPath), "{\"BusinessShortCode\":", running.token());
  REQUIRE(result);
  CHECK(result->status == 400);
  check_error_like_sample(result->body,
                          "stkpush_error/01-400.002.02-invalid-businessshortcode-docs.json");
}

TEST_CASE("push invalid fields match Daraja samples") {
  RunningSimulator running;
  const std::string token = running.token();

  SUBCASE("BusinessShortCode") {
    PushBody body;
    body.shortcode = "17437A";
    check_push_rejected(running, token, body, 400,
                        "stkpush_error/01-400.002.02-invalid-businessshortcode-docs.json");
  }
  SUBCASE("CallBackURL with spaces") {
    PushBody body;
    body.callback_url = "https://shop.example.com/call backs";
    check_push_rejected(running, token, body, 400,
                        "stkpush_error/03-400.002.02-invalid-callbackurl-spaces-in-url.json");
  }
  SUBCASE("PhoneNumber in local form") {
    PushBody body;
    body.phone = "0708374149";
    check_push_rejected(running, token, body, 400,
                        "stkpush_error/04-400.002.02-invalid-phonenumber-compact.json");
  }
  SUBCASE("Timestamp not a date") {
    PushBody body;
    body.timestamp = "20241345250000";
    check_push_rejected(running, token, body, 400,
                        "stkpush_error/05-400.002.02-invalid-timestamp.json");
  }
}

TEST_CASE("push field checks name the field") {
  RunningSimulator running;
  const std::string token = running.token();
  struct Case {
    std::string field;
    std::function<void(PushBody&)> spoil;
  };
  const std::vector<Case> cases{
      {"TransactionType", [](PushBody& b) { b.transaction_type = "CustomerPayBill"; }},
      {"Amount", [](PushBody& b) { b.amount = "0"; }},
      {"Amount", [](PushBody& b) { b.amount = "250001"; }},
      {"Amount", [](PushBody& b) { b.amount = "10.5"; }},
      {"Amount", [](PushBody& b) { b.amount = "\"ten\""; }},
      {"PartyA", [](PushBody& b) { b.party_a = "25470837414"; }},
      {"PartyB", [](PushBody& b) { b.party_b = "600000"; }},
      {"PhoneNumber", [](PushBody& b) { b.phone = "255708374149"; }},
      {"CallBackURL", [](PushBody& b) { b.callback_url = "ftp://shop.example.com/cb"; }},
      {"CallBackURL", [](PushBody& b) { b.callback_url = ""; }},
      {"AccountReference", [](PushBody& b) { b.account_reference = "ABCDEFGHIJKLM"; }},
      {"AccountReference", [](PushBody& b) { b.account_reference = ""; }},
      {"TransactionDesc", [](PushBody& b) { b.transaction_desc = "ABCDEFGHIJKLMN"; }},
      {"TransactionDesc", [](PushBody& b) { b.transaction_desc = ""; }},
  };
  for (const Case& item : cases) {
    PushBody body;
    item.spoil(body);
    check_invalid_field(running, token, body, item.field);
  }
}

TEST_CASE("push with an empty Password is Invalid Password") {
  RunningSimulator running;
  // PushBody computes a Password when its field is empty, so blank it in the JSON text.
  std::string json = PushBody{}.json();
  const auto start = json.find("\"Password\":\"") + 12;
  json.erase(start, json.find('"', start) - start);
  REQUIRE(json.find("\"Password\":\"\"") != std::string::npos);

  const auto result = running.post(std::string(kPushPath), json, running.token());
  REQUIRE(result);
  CHECK(result->status == 400);
  CHECK(string_member(result->body, "errorCode") == "400.002.02");
  CHECK(string_member(result->body, "errorMessage") == "Bad Request - Invalid Password");
}

TEST_CASE("push accepts the longest AccountReference and TransactionDesc") {
  RunningSimulator running;
  PushBody body;
  body.account_reference = "ABCDEFGHIJKL";
  body.transaction_desc = "ABCDEFGHIJKLM";
  const auto result = running.push(body, running.token());
  REQUIRE(result);
  CHECK(result->status == 200);
}

TEST_CASE("push accepts numbers where Daraja's example has them") {
  RunningSimulator running;
  const auto now = std::chrono::system_clock::now();
  const auto credentials = mpesa::make_stk_credentials(kSandboxShortcode, kSandboxPasskey, now);
  // The shape of Daraja's own example: BusinessShortCode a number, the others strings.
  const std::string json = fmt::format(
      R"({{"BusinessShortCode": 174379, "Password": "{}", "Timestamp": "{}", )"
      R"("TransactionType": "CustomerPayBillOnline", "Amount": "1", "PartyA": "254708374149", )"
      R"("PartyB": "174379", "PhoneNumber": 254708374149, )"
      R"("CallBackURL": "https://mydomain.com/path", "AccountReference": "CompanyXLTD", )"
      R"("TransactionDesc": "Payment of X"}})",
      credentials.password, credentials.timestamp);
  const auto result = running.post(std::string(kPushPath), json, running.token());
  REQUIRE(result);
  CHECK(result->status == 200);
}

TEST_CASE("push to an unknown shortcode is Merchant does not exist") {
  RunningSimulator running;
  PushBody body;
  body.shortcode = body.party_b = "600999";
  check_push_rejected(running, running.token(), body, 500,
                      "stkpush_error/11-500.001.1001-merchant-does-not-exist.partial.json");
}

TEST_CASE("push with a wrong password is Wrong credentials") {
  RunningSimulator running;
  const std::string token = running.token();
  const std::string sample = "stkpush_error/09-500.001.1001-wrong-credentials.json";

  SUBCASE("password from another passkey") {
    PushBody body;
    body.password = mpesa::base64_encode("174379not-the-passkey20240101120000");
    check_push_rejected(running, token, body, 500, sample);
  }
  SUBCASE("password for another timestamp") {
    PushBody body;
    const auto now = std::chrono::system_clock::now();
    body.password =
        mpesa::make_stk_credentials(kSandboxShortcode, kSandboxPasskey, now - std::chrono::seconds(1))
            .password;
    body.timestamp = mpesa::nairobi_timestamp(now);
    check_push_rejected(running, token, body, 500, sample);
  }
  SUBCASE("timestamp ten minutes old") {
    const auto old = std::chrono::system_clock::now() - std::chrono::minutes(10);
    const auto result = running.post(std::string(kPushPath), PushBody{}.json(old), token);
    REQUIRE(result);
    CHECK(result->status == 500);
    check_error_like_sample(result->body, sample);
  }
  SUBCASE("timestamp in UTC instead of Nairobi time") {
    const auto utc_as_nairobi = std::chrono::system_clock::now() - std::chrono::hours(3);
    const auto result = running.post(std::string(kPushPath), PushBody{}.json(utc_as_nairobi), token);
    REQUIRE(result);
    CHECK(result->status == 500);
    check_error_like_sample(result->body, sample);
  }
}

TEST_CASE("push timestamp within tolerance is accepted") {
  RunningSimulator running;
  const auto slightly_old = std::chrono::system_clock::now() - std::chrono::minutes(2);
  const auto result =
      running.post(std::string(kPushPath), PushBody{}.json(slightly_old), running.token());
  REQUIRE(result);
  CHECK(result->status == 200);
}

TEST_CASE("push to a phone with one in flight is Unable to lock subscriber") {
  SimulatorConfig config = fast_config();
  config.manual = true;
  RunningSimulator running(config);
  const std::string token = running.token();
  const std::string first = running.accepted_push(PushBody{}, token);

  check_push_rejected(running, token, PushBody{}, 500,
                      "stkpush_error/10-500.001.1001-unable-to-lock-subscriber.json");

  SUBCASE("another phone is not locked") {
    PushBody other;
    other.phone = "254700000050";
    CHECK(running.push(other, token)->status == 200);
  }
  SUBCASE("the lock ends when the push is answered") {
    REQUIRE(running.simulator.resolve(first, "1032"));
    const auto again = running.push(PushBody{}, token);
    REQUIRE(again);
    CHECK(again->status == 200);
  }
}

TEST_CASE("push over the rate limit is spike arrest") {
  SimulatorConfig config = fast_config();
  config.rate_limit_per_second = 2;
  RunningSimulator running(config);
  const std::string token = running.token();

  int limited = 0;
  std::string limited_body;
  for (int i = 0; i < 6; ++i) {
    PushBody body;
    body.phone = fmt::format("2547000001{:02}", 20 + i);
    const auto result = running.push(body, token);
    REQUIRE(result);
    if (result->status == 500) {
      ++limited;
      limited_body = result->body;
    }
  }
  CHECK(limited >= 3);
  REQUIRE(!limited_body.empty());
  check_error_like_sample(limited_body,
                          "stkpush_error/12-500.003.02-spike-arrest.documented.partial.json");
}
