// POST /api/payments with a scripted StkApi: authentication, validation, idempotency and
// what each push result does to the stored payment.

#include <atomic>
#include <mutex>

#include <doctest/doctest.h>

#include "harness.hpp"

namespace mpesa::test {
namespace {

constexpr std::string_view kApiKey = "test-api-key-0123456789";

/// An StkApi whose push result the test chooses. It counts and records the pushes.
class ScriptedStk : public StkApi {
 public:
  std::function<Result<PushAck>(const PushRequest&)> answer = [](const PushRequest&) {
    PushAck ack;
    ack.merchant_request_id = "29115-34620561-1";
    ack.checkout_request_id = "ws_CO_191220191020363925";
    ack.response_code = "0";
    ack.customer_message = "Success. Request accepted for processing";
    return Result<PushAck>(ack);
  };

  Result<PushAck> push(const PushRequest& request) override {
    ++pushes;
    std::lock_guard lock(mutex_);
    requests.push_back(request);
    return answer(request);
  }
  Result<QueryResult> query(std::string_view) override {
    Error error;
    error.kind = ErrorKind::Unavailable;
    error.message = "queries are not scripted in this test";
    return fail(error);
  }

  std::atomic<int> pushes{0};
  std::vector<PushRequest> requests;

 private:
  std::mutex mutex_;
};

httplib::Headers bearer(std::string_view key = kApiKey) {
  return {{"Authorization", fmt::format("Bearer {}", key)}};
}

httplib::Result post_payment(TestServer& server, const std::string& body, const httplib::Headers& headers = bearer()) {
  auto client = server.api_client();
  return client.Post("/api/payments", headers, body, "application/json");
}

struct Harness {
  Harness() : stk(std::make_shared<ScriptedStk>()) {
    PgTestDatabase::instance().reset();
    server = std::make_unique<TestServer>(test_config(dir.path() / "spool.log"), stk);
  }
  TempDir dir;
  std::shared_ptr<ScriptedStk> stk;
  std::unique_ptr<TestServer> server;
};

std::string field_of(const std::string& json, std::string_view name) {
  const auto key = fmt::format("\"{}\":\"", name);
  const auto start = json.find(key);
  if (start == std::string::npos) return "";
  const auto value_start = start + key.size();
  return json.substr(value_start, json.find('"', value_start) - value_start);
}

constexpr std::string_view kValidBody =
    R"({"phone":"0708 374 149","amount":10,"account_reference":"INV-42","description":"Order 42"})";

}  // namespace

TEST_CASE("payments API: missing or wrong key is 401") {
  Harness harness;
  const auto missing = post_payment(*harness.server, std::string(kValidBody), {});
  REQUIRE(missing);
  CHECK(missing->status == 401);
  CHECK(missing->get_header_value("WWW-Authenticate") == "Bearer");
  const auto wrong = post_payment(*harness.server, std::string(kValidBody), bearer("test-api-key-0123456780"));
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(harness.stk->pushes == 0);
  CHECK(PgTestDatabase::instance().payment_count() == 0);
}

TEST_CASE("payments API: accepted push answers 201 pending") {
  Harness harness;
  const auto result = post_payment(*harness.server, std::string(kValidBody));
  REQUIRE(result);
  CHECK(result->status == 201);
  CHECK(field_of(result->body, "status") == "pending");
  CHECK(field_of(result->body, "message") == "Success. Request accepted for processing");
  const auto id = field_of(result->body, "id");
  CHECK(id.starts_with("pay_"));

  REQUIRE(harness.stk->requests.size() == 1);
  CHECK(harness.stk->requests[0].phone == "254708374149");
  CHECK(harness.stk->requests[0].amount == 10);
  CHECK(harness.stk->requests[0].account_reference == "INV-42");

  const auto payment = harness.server->store().find_by_public_id(id);
  REQUIRE(payment.has_value());
  CHECK(payment->checkout_request_id == "ws_CO_191220191020363925");
  CHECK(payment->phone == "254708374149");
  CHECK(payment->description == "Order 42");
  CHECK(payment->shortcode == "174379");
  CHECK(payment->next_reconcile_at.has_value());
}

TEST_CASE("payments API: repeated idempotency key sends one push") {
  Harness harness;
  const std::string body =
      R"({"phone":"254708374149","amount":"10","account_reference":"INV-42","idempotency_key":"order-42-try"})";
  const auto first = post_payment(*harness.server, body);
  const auto second = post_payment(*harness.server, body);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->status == 201);
  CHECK(second->status == 201);
  CHECK(second->get_header_value("Idempotent-Replayed") == "true");
  CHECK(field_of(first->body, "id") == field_of(second->body, "id"));
  CHECK(harness.stk->pushes == 1);
  CHECK(PgTestDatabase::instance().payment_count() == 1);

  const std::string other =
      R"({"phone":"254708374149","amount":99,"account_reference":"INV-42","idempotency_key":"order-42-try"})";
  const auto conflict = post_payment(*harness.server, other);
  REQUIRE(conflict);
  CHECK(conflict->status == 409);
  CHECK(harness.stk->pushes == 1);
}

TEST_CASE("payments API: idempotency key from the header") {
  Harness harness;
  auto headers = bearer();
  headers.emplace("Idempotency-Key", "header-key-1");
  REQUIRE(post_payment(*harness.server, std::string(kValidBody), headers));
  REQUIRE(post_payment(*harness.server, std::string(kValidBody), headers));
  CHECK(harness.stk->pushes == 1);
}

TEST_CASE("payments API: invalid fields are 422 with field and rule") {
  Harness harness;
  struct Case {
    std::string body;
    std::string field;
    std::string rule;
  };
  const std::vector<Case> cases = {
      {R"({"phone":"0812345678","amount":10,"account_reference":"A"})", "phone", "kenyan_mobile_number"},
      {R"({"phone":true,"amount":10,"account_reference":"A"})", "phone", "type"},
      {R"({"amount":10,"account_reference":"A"})", "phone", "required"},
      {R"({"phone":"0708374149","amount":0,"account_reference":"A"})", "amount", "whole_shillings_1_to_250000"},
      {R"({"phone":"0708374149","amount":250001,"account_reference":"A"})", "amount", "whole_shillings_1_to_250000"},
      {R"({"phone":"0708374149","amount":10.5,"account_reference":"A"})", "amount", "whole_shillings_1_to_250000"},
      {R"({"phone":"0708374149","amount":"ten","account_reference":"A"})", "amount", "whole_shillings_1_to_250000"},
      {R"({"phone":"0708374149","amount":10})", "account_reference", "required"},
      {R"({"phone":"0708374149","amount":10,"account_reference":"THIRTEEN-CHAR"})", "account_reference",
       "1_to_12_letters_digits_space_or_-_.#/"},
      {R"({"phone":"0708374149","amount":10,"account_reference":"A","description":"fourteen chars"})",
       "description", "1_to_13_letters_digits_space_or_-_.#/"},
      {R"({"phone":"0708374149","amount":10,"account_reference":"A","idempotency_key":"has space"})",
       "idempotency_key", "1_to_200_printable_ascii"},
  };
  for (const auto& item : cases) {
    CAPTURE(item.body);
    const auto result = post_payment(*harness.server, item.body);
    REQUIRE(result);
    CHECK(result->status == 422);
    CHECK(field_of(result->body, "field") == item.field);
    CHECK(field_of(result->body, "rule") == item.rule);
    CHECK_FALSE(field_of(result->body, "error").empty());
  }
  CHECK(harness.stk->pushes == 0);
  CHECK(PgTestDatabase::instance().payment_count() == 0);
}

TEST_CASE("payments API: body that is not JSON is 400") {
  Harness harness;
  const auto result = post_payment(*harness.server, "phone=0708374149");
  REQUIRE(result);
  CHECK(result->status == 400);
  CHECK(PgTestDatabase::instance().payment_count() == 0);
}

TEST_CASE("payments API: Daraja rejection marks the payment failed") {
  Harness harness;
  harness.stk->answer = [](const PushRequest&) -> Result<PushAck> {
    Error error;
    error.kind = ErrorKind::DarajaRejected;
    error.http_status = 400;
    error.daraja_error_code = "400.002.02";
    error.message = "Bad Request - Invalid PhoneNumber";
    return fail(error);
  };
  const auto result = post_payment(*harness.server, std::string(kValidBody));
  REQUIRE(result);
  CHECK(result->status == 201);
  CHECK(field_of(result->body, "status") == "failed");
  CHECK(field_of(result->body, "message") == "Bad Request - Invalid PhoneNumber");
  auto& database = PgTestDatabase::instance();
  CHECK(database.scalar("SELECT status FROM stk_payments") == "failed");
  CHECK(database.scalar("SELECT result_code FROM stk_payments") == "400.002.02");
}

TEST_CASE("payments API: unknown push outcome stays pending and flagged") {
  Harness harness;
  harness.stk->answer = [](const PushRequest&) -> Result<PushAck> {
    Error error;
    error.kind = ErrorKind::OutcomeUnknown;
    error.message = "no answer within 30000 ms after sending the push";
    return fail(error);
  };
  const auto result = post_payment(*harness.server, std::string(kValidBody));
  REQUIRE(result);
  CHECK(result->status == 201);
  CHECK(field_of(result->body, "status") == "pending");
  auto& database = PgTestDatabase::instance();
  CHECK(database.scalar("SELECT outcome_unknown FROM stk_payments") == "t");
  CHECK(database.scalar("SELECT checkout_request_id FROM stk_payments").empty());

  // The success callback names the phone and amount, which find the flagged payment.
  const auto callback = harness.server->post_callback(
      R"({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_never_acked","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{"Item":[{"Name":"Amount","Value":10.00},{"Name":"MpesaReceiptNumber","Value":"QWE123RTY9"},{"Name":"PhoneNumber","Value":254708374149}]}}}})");
  REQUIRE(callback);
  CHECK(callback->status == 200);
  CHECK(database.scalar("SELECT status FROM stk_payments") == "succeeded");
  CHECK(database.scalar("SELECT checkout_request_id FROM stk_payments") == "ws_CO_never_acked");
}

TEST_CASE("payments API: no Daraja client answers 503") {
  PgTestDatabase::instance().reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));
  const auto result = post_payment(server, std::string(kValidBody));
  REQUIRE(result);
  CHECK(result->status == 503);
}

}  // namespace mpesa::test
