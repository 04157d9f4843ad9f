// Parsing of every Daraja sample message kept under tests/data/daraja, one row per file.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mpesa/messages.hpp"

namespace {

const std::filesystem::path kSamples = std::filesystem::path(MPESA_TEST_DATA_DIR) / "daraja";

std::string read_sample(const std::string& relative) {
  std::ifstream in(kSamples / relative, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing sample ", relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> files_in(const std::string& folder) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(kSamples / folder)) {
    names.insert(folder + "/" + entry.path().filename().string());
  }
  return names;
}

struct CallbackRow {
  const char* file;
  const char* checkout_request_id;
  const char* result_code;
  mpesa::PaymentStatus status;
  std::optional<std::int64_t> amount_cents;
  std::optional<std::string> receipt;
  std::optional<std::int64_t> transaction_date;
  std::optional<std::int64_t> phone;
};

using mpesa::PaymentStatus;

const std::vector<CallbackRow> kCallbackRows = {
    {"callback/01-docs-success-4-items-no-balance-amount-1.00.json",
     "ws_CO_191220191020363925", "0", PaymentStatus::Succeeded, 100, "NLJ4QK8ZWA",
     20191219102115, 254708374149},
    {"callback/02-docs-1032-cancelled-uuidlike-ids.json", "ws_CO_21072024125243250700000002",
     "1032", PaymentStatus::Cancelled, {}, {}, {}, {}},
    {"callback/03-2017-safaricom-sample-balance-without-value.json", "ws_CO_27072017154747416",
     "0", PaymentStatus::Succeeded, 100, "LGR3TQ8PZ1", 20170727154800, 254700000001},
    {"callback/04-2018-live-compact-amount-1.00-balance-without-value.json",
     "ws_CO_24012018144725647", "0", PaymentStatus::Succeeded, 100, "MAO5KD2WQE",
     20180124144754, 254700000002},
    {"callback/05-2019-dmz-checkoutid-success-compact.json",
     "ws_CO_DMZ_264695293_11032019122104433", "0", PaymentStatus::Succeeded, 100, "NCB2HV7LMX",
     20190311122121, 254700000003},
    {"callback/06-2019-2001-wrong-pin-mpesacb-prefix.json",
     "ws_CO_DMZ_264800546_11032019141837240", "2001", PaymentStatus::Failed, {}, {}, {}, {}},
    {"callback/07-2019-1032-cancelled-stkcb-prefix.json",
     "ws_CO_DMZ_401294732_11032019121308821", "1032", PaymentStatus::Cancelled, {}, {}, {}, {}},
    {"callback/08-2019-1036-smsc-ack-timeout.json", "ws_CO_DMZ_262987371_09032019203456095",
     "1036", PaymentStatus::TimedOut, {}, {}, {}, {}},
    {"callback/12-2021-17-rule-limited.json", "ws_CO_190520210856425749", "17",
     PaymentStatus::Failed, {}, {}, {}, {}},
    {"callback/14-2021-relayed-success-extra-fields-inside-stkCallback.json",
     "ws_CO_21042021114416028704", "0", PaymentStatus::Succeeded, 100, "PDL4N8XC2E",
     20210421114425, 254700000005},
    {"callback/17-2026-1037-no-response-from-user-sandbox.partial.json",
     "ws_CO_220920261335362708374149", "1037", PaymentStatus::TimedOut, {}, {}, {}, {}},
};

}  // namespace

TEST_SUITE("parse_stk_callback") {
  TEST_CASE("every callback sample parses to its expected fields") {
    std::set<std::string> covered;
    for (const CallbackRow& row : kCallbackRows) {
      INFO("sample: ", row.file);
      covered.insert(row.file);
      const auto callback = mpesa::parse_stk_callback(read_sample(row.file));
      REQUIRE_MESSAGE(callback.has_value(), callback.error().describe());
      CHECK(callback->checkout_request_id == row.checkout_request_id);
      CHECK_FALSE(callback->merchant_request_id.empty());
      CHECK(callback->result_code == row.result_code);
      CHECK(callback->status() == row.status);
      CHECK(callback->amount_cents == row.amount_cents);
      CHECK(callback->receipt == row.receipt);
      CHECK(callback->transaction_date == row.transaction_date);
      CHECK(callback->phone == row.phone);
    }
    CHECK_MESSAGE(covered == files_in("callback"), "a callback sample has no row in the table");
  }

  TEST_CASE("the inbound callback in the transport envelope parses") {
    // The envelope is ours; its body_json is the callback as Daraja sent it.
    const std::string body =
        R"({"Body":{"stkCallback":{"MerchantRequestID":"…","CheckoutRequestID":)"
        R"("ws_CO_220920261335362708374149","ResultCode":1037,"ResultDesc":"No response from user."}}})";
    CHECK(read_sample("transport/05-callback-inbound-request-sandbox-2026.json").find(body) !=
          std::string::npos);
    const auto callback = mpesa::parse_stk_callback(body);
    REQUIRE(callback.has_value());
    CHECK(callback->status() == PaymentStatus::TimedOut);
  }

  TEST_CASE("result code as a string and amount as 2.0") {
    const auto callback = mpesa::parse_stk_callback(
        R"({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1",)"
        R"("ResultCode":"0","ResultDesc":"ok","CallbackMetadata":{"Item":[)"
        R"({"Name":"Amount","Value":2.0},{"Name":"MpesaReceiptNumber","Value":"UAB1CD2EFG"}]}}}})");
    REQUIRE(callback.has_value());
    CHECK(callback->result_code == "0");
    CHECK(callback->amount_cents == 200);
    CHECK(callback->status() == PaymentStatus::Succeeded);
  }

  TEST_CASE("a non-numeric result code is kept verbatim and fails the payment") {
    const auto callback = mpesa::parse_stk_callback(
        R"({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1",)"
        R"("ResultCode":"SFC_IC0003","ResultDesc":"x"}}})");
    REQUIRE(callback.has_value());
    CHECK(callback->result_code == "SFC_IC0003");
    CHECK(callback->status() == PaymentStatus::Failed);
  }

  TEST_CASE("success without a receipt is not a success") {
    const auto callback = mpesa::parse_stk_callback(
        R"({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1",)"
        R"("ResultCode":0,"ResultDesc":"ok"}}})");
    REQUIRE(callback.has_value());
    CHECK(callback->status() == PaymentStatus::Failed);
  }

  TEST_CASE("malformed callbacks are parse errors naming what is wrong") {
    struct Row {
      const char* label;
      const char* body;
      const char* mentions;
    };
    const Row rows[] = {
        {"not JSON", "<html>", "not valid JSON"},
        {"empty", "", "not valid JSON"},
        {"no Body", R"({"stkCallback":{}})", "Body"},
        {"no stkCallback", R"({"Body":{}})", "stkCallback"},
        {"no CheckoutRequestID",
         R"({"Body":{"stkCallback":{"MerchantRequestID":"m","ResultCode":0}}})",
         "CheckoutRequestID"},
        {"no ResultCode",
         R"({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"c"}}})",
         "ResultCode"},
        {"Item not an array",
         R"({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"c",)"
         R"("ResultCode":0,"CallbackMetadata":{"Item":{}}}}})",
         "Item"},
        {"Amount beyond int64 cents",
         R"({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"c",)"
         R"("ResultCode":0,"CallbackMetadata":{"Item":[{"Name":"Amount","Value":9223372036854775807}]}}}})",
         "Amount"},
        {"Amount as text",
         R"({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"c",)"
         R"("ResultCode":0,"CallbackMetadata":{"Item":[{"Name":"Amount","Value":"one"}]}}}})",
         "Amount"},
    };
    for (const Row& row : rows) {
      INFO("case: ", row.label);
      const auto callback = mpesa::parse_stk_callback(row.body);
      REQUIRE_FALSE(callback.has_value());
      CHECK(callback.error().kind == mpesa::ErrorKind::Parse);
      CHECK_MESSAGE(callback.error().message.find(row.mentions) != std::string::npos,
                    callback.error().message);
    }
  }
}

TEST_SUITE("parse_query_result") {
  struct QueryRow {
    const char* file;
    int http_status;
    bool ok;
    PaymentStatus status;
    const char* result_code;
    mpesa::ErrorKind error_kind;
  };

  TEST_CASE("every query sample parses to its expected state") {
    using mpesa::ErrorKind;
    const QueryRow rows[] = {
        {"stkquery/01-docs-success-resultcode-string.json", 200, true, PaymentStatus::Succeeded,
         "0", ErrorKind::Parse},
        {"stkquery/03-1032-cancelled-resultcode-string-2021.json", 200, true,
         PaymentStatus::Cancelled, "1032", ErrorKind::Parse},
        {"stkquery/04-1032-cancelled-resultcode-string-2023-relayed.json", 200, true,
         PaymentStatus::Cancelled, "1032", ErrorKind::Parse},
        {"stkquery/05-being-processed-500.001.1001-requestid-is-checkoutid.json", 500, true,
         PaymentStatus::Pending, "", ErrorKind::Parse},
        {"stkquery/08-unknown-checkoutid-does-not-exist-http500.partial.json", 500, false,
         PaymentStatus::Pending, "", ErrorKind::NotFound},
        {"stkquery/09-1037-ds-timeout-query-wording.partial.json", 200, true,
         PaymentStatus::TimedOut, "1037", ErrorKind::Parse},
        {"stkquery/10-1037-no-response-from-user-query-2026-09-18.partial.json", 200, true,
         PaymentStatus::TimedOut, "1037", ErrorKind::Parse},
        {"stkquery/12-success-0-after-4999-2026.partial.json", 200, true,
         PaymentStatus::Succeeded, "0", ErrorKind::Parse},
    };
    std::set<std::string> covered;
    for (const QueryRow& row : rows) {
      INFO("sample: ", row.file);
      covered.insert(row.file);
      const auto result = mpesa::parse_query_result(row.http_status, read_sample(row.file));
      REQUIRE(result.has_value() == row.ok);
      if (!row.ok) {
        CHECK(result.error().kind == row.error_kind);
        continue;
      }
      CHECK(result->status() == row.status);
      CHECK(result->result_code == row.result_code);
      CHECK(result->checkout_request_id.starts_with("ws_CO_"));
    }
    CHECK(covered == files_in("stkquery"));
  }

  TEST_CASE("result code 4999 and an empty being-processed message are pending") {
    const auto coded = mpesa::parse_query_result(
        200, R"({"CheckoutRequestID":"ws_CO_1","ResultCode":4999,"ResultDesc":"x"})");
    REQUIRE(coded.has_value());
    CHECK(coded->pending);
    CHECK(coded->status() == PaymentStatus::Pending);
    const auto empty = mpesa::parse_query_result(
        500, R"({"requestId":"r","errorCode":"500.001.1001","errorMessage":""})");
    REQUIRE(empty.has_value());
    CHECK(empty->pending);
  }

  TEST_CASE("an HTML page or other junk is a parse or unavailable error") {
    const auto junk = mpesa::parse_query_result(200, "<html>busy</html>");
    REQUIRE_FALSE(junk.has_value());
    CHECK(junk.error().kind == mpesa::ErrorKind::Parse);
    const auto gateway = mpesa::parse_query_result(503, "<html>busy</html>");
    REQUIRE_FALSE(gateway.has_value());
    CHECK(gateway.error().kind == mpesa::ErrorKind::Unavailable);
    CHECK(gateway.error().retryable());
  }
}

TEST_SUITE("parse_push_ack") {
  TEST_CASE("every push response sample parses") {
    for (const std::string& file : files_in("stkpush_response")) {
      INFO("sample: ", file);
      const auto ack = mpesa::parse_push_ack(read_sample(file));
      REQUIRE_MESSAGE(ack.has_value(), ack.error().describe());
      CHECK(ack->response_code == "0");
      CHECK(ack->checkout_request_id.starts_with("ws_CO_"));
      CHECK_FALSE(ack->merchant_request_id.empty());
      CHECK(ack->customer_message == "Success. Request accepted for processing");
    }
  }

  TEST_CASE("a non-zero ResponseCode is a rejection and a missing id a parse error") {
    const auto declined = mpesa::parse_push_ack(R"({"ResponseCode":"1","ResponseDescription":"no"})");
    REQUIRE_FALSE(declined.has_value());
    CHECK(declined.error().kind == mpesa::ErrorKind::DarajaRejected);
    const auto partial = mpesa::parse_push_ack(R"({"ResponseCode":"0","MerchantRequestID":"m"})");
    REQUIRE_FALSE(partial.has_value());
    CHECK(partial.error().kind == mpesa::ErrorKind::Parse);
  }
}

TEST_SUITE("parse_token_response") {
  TEST_CASE("expires_in as a number or as a string") {
    const auto number = mpesa::parse_token_response(
        read_sample("oauth/01-success-docs-expires-number.json"));
    REQUIRE(number.has_value());
    CHECK(number->access_token.reveal() == "Xq4TzP8mVb2RkL9wNc7YhJ3sDf6G");
    CHECK(number->expires_in_seconds == 3599);
    const auto text = mpesa::parse_token_response(
        read_sample("oauth/02-success-expires-string.json"));
    REQUIRE(text.has_value());
    CHECK(text->access_token.reveal() == "Hn5QaW2eRt8YuI4oPl7KjMs3Zx9C");
    CHECK(text->expires_in_seconds == 3599);
  }

  TEST_CASE("huge expires_in values are clamped to a day") {
    const char* bodies[] = {
        R"({"access_token":"abc","expires_in":99999999999})",
        R"({"access_token":"abc","expires_in":"99999999999"})",
        R"({"access_token":"abc","expires_in":5555555555.9})",
    };
    for (const char* body : bodies) {
      INFO("body: ", body);
      const auto token = mpesa::parse_token_response(body);
      REQUIRE(token.has_value());
      CHECK(token->expires_in_seconds == 86400);
    }
    const auto fractional = mpesa::parse_token_response(R"({"access_token":"abc","expires_in":3599.0})");
    REQUIRE(fractional.has_value());
    CHECK(fractional->expires_in_seconds == 3599);
    CHECK_FALSE(mpesa::parse_token_response(R"({"access_token":"abc","expires_in":5.5e86})"));
    CHECK_FALSE(mpesa::parse_token_response(R"({"access_token":"abc","expires_in":-1e300})"));
  }

  TEST_CASE("error bodies, HTML, empty tokens and bad expiries are parse errors") {
    const std::string bodies[] = {
        read_sample("oauth/04-error-400.008.01-invalid-authentication.json"),
        read_sample("oauth/05-error-400.008.02-invalid-grant.partial.json"),
        "<html><body>Welcome</body></html>",
        R"({"access_token":"","expires_in":"3599"})",
        R"({"access_token":"abc","expires_in":"soon"})",
        R"({"access_token":"abc","expires_in":0})",
        R"({"access_token":"abc"})",
    };
    for (const std::string& body : bodies) {
      INFO("body: ", body);
      const auto token = mpesa::parse_token_response(body);
      REQUIRE_FALSE(token.has_value());
      CHECK(token.error().kind == mpesa::ErrorKind::Parse);
    }
  }

  TEST_CASE("OAuth error samples classify as authentication errors") {
    for (const std::string& file : files_in("oauth")) {
      if (file.find("error") == std::string::npos) continue;
      INFO("sample: ", file);
      const mpesa::Error error = mpesa::classify_daraja_error(400, read_sample(file), false);
      CHECK(error.kind == mpesa::ErrorKind::Auth);
      CHECK(error.daraja_error_code.starts_with("400.008."));
    }
  }
}

TEST_SUITE("classify_daraja_error") {
  struct ErrorRow {
    const char* file;
    int http_status;
    const char* error_code;
    mpesa::ErrorKind push_kind;
    mpesa::ErrorKind query_kind;
  };

  TEST_CASE("every push error sample is classified by code and message") {
    using mpesa::ErrorKind;
    const ErrorRow rows[] = {
        {"stkpush_error/01-400.002.02-invalid-businessshortcode-docs.json", 400, "400.002.02",
         ErrorKind::DarajaRejected, ErrorKind::DarajaRejected},
        {"stkpush_error/02-400.002.02-invalid-businessshortcode-2023-raw-indent.json", 400,
         "400.002.02", ErrorKind::DarajaRejected, ErrorKind::DarajaRejected},
        {"stkpush_error/03-400.002.02-invalid-callbackurl-spaces-in-url.json", 400,
         "400.002.02", ErrorKind::DarajaRejected, ErrorKind::DarajaRejected},
        {"stkpush_error/04-400.002.02-invalid-phonenumber-compact.json", 400, "400.002.02",
         ErrorKind::DarajaRejected, ErrorKind::DarajaRejected},
        {"stkpush_error/05-400.002.02-invalid-timestamp.json", 400, "400.002.02",
         ErrorKind::DarajaRejected, ErrorKind::DarajaRejected},
        {"stkpush_error/06-404.001.03-invalid-access-token-2017.json", 404, "404.001.03",
         ErrorKind::Auth, ErrorKind::Auth},
        {"stkpush_error/07-404.001.03-invalid-access-token-2024-new-requestid.json", 404,
         "404.001.03", ErrorKind::Auth, ErrorKind::Auth},
        {"stkpush_error/09-500.001.1001-wrong-credentials.json", 500, "500.001.1001",
         ErrorKind::DarajaRejected, ErrorKind::DarajaRejected},
        {"stkpush_error/10-500.001.1001-unable-to-lock-subscriber.json", 500, "500.001.1001",
         ErrorKind::DarajaRejected, ErrorKind::DarajaRejected},
        {"stkpush_error/11-500.001.1001-merchant-does-not-exist.partial.json", 500,
         "500.001.1001", ErrorKind::DarajaRejected, ErrorKind::DarajaRejected},
        {"stkpush_error/12-500.003.02-spike-arrest.documented.partial.json", 500, "500.003.02",
         ErrorKind::RateLimited, ErrorKind::RateLimited},
        {"stkpush_error/13-500.003.02-system-busy.documented.partial.json", 500, "500.003.02",
         ErrorKind::Unavailable, ErrorKind::Unavailable},
        {"stkpush_error/14-500.003.03-quota-violation.documented.partial.json", 500,
         "500.003.03", ErrorKind::RateLimited, ErrorKind::RateLimited},
        {"stkpush_error/15-500.003.1001-internal-server-error.documented.partial.json", 500,
         "500.003.1001", ErrorKind::OutcomeUnknown, ErrorKind::Unavailable},
    };
    std::set<std::string> covered;
    for (const ErrorRow& row : rows) {
      INFO("sample: ", row.file);
      covered.insert(row.file);
      const std::string body = read_sample(row.file);
      const auto daraja = mpesa::parse_daraja_error(body);
      REQUIRE(daraja.has_value());
      CHECK(daraja->error_code == row.error_code);
      CHECK_FALSE(daraja->error_message.empty());
      const mpesa::Error push = mpesa::classify_daraja_error(row.http_status, body, true);
      CHECK(push.kind == row.push_kind);
      CHECK(push.http_status == row.http_status);
      CHECK(push.daraja_error_code == row.error_code);
      CHECK(push.request_id == daraja->request_id);
      CHECK(mpesa::classify_daraja_error(row.http_status, body, false).kind == row.query_kind);
    }
    CHECK(covered == files_in("stkpush_error"));
  }

  TEST_CASE("request id kept and bodiless 5xx push in doubt") {
    const mpesa::Error token = mpesa::classify_daraja_error(
        404, read_sample("stkpush_error/07-404.001.03-invalid-access-token-2024-new-requestid.json"),
        true);
    CHECK(token.request_id == "d5f6-4248-abac-c6b110aa939c34165579");
    const mpesa::Error gateway = mpesa::classify_daraja_error(503, "Service Unavailable", true);
    CHECK(gateway.kind == mpesa::ErrorKind::OutcomeUnknown);
    CHECK(gateway.needs_reconciliation());
    CHECK(mpesa::classify_daraja_error(503, "", false).kind == mpesa::ErrorKind::Unavailable);
  }

  TEST_CASE("Apigee's spike arrest fault with HTTP 429 is rate limited") {
    const mpesa::Error error = mpesa::classify_daraja_error(
        429,
        R"({"fault":{"faultstring":"Spike arrest violation. Allowed rate : 5ps",)"
        R"("detail":{"errorcode":"policies.ratelimit.SpikeArrestViolation"}}})",
        true);
    CHECK(error.kind == mpesa::ErrorKind::RateLimited);
    CHECK(error.daraja_error_code == "policies.ratelimit.SpikeArrestViolation");
  }

  TEST_CASE("transport samples: 404 invalid token and a bare 400 from OAuth") {
    const std::string envelope =
        read_sample("transport/04-stkpush-http404-invalid-token-full-headers.json");
    CHECK(envelope.find("\"404.001.03\"") != std::string::npos);
    const mpesa::Error token = mpesa::classify_daraja_error(
        404,
        R"({"requestId":"5031-1921185-1","errorCode":"404.001.03","errorMessage":"Invalid Access Token"})",
        true);
    CHECK(token.kind == mpesa::ErrorKind::Auth);
    CHECK(token.request_id == "5031-1921185-1");

    const std::string status_only =
        read_sample("transport/03-oauth-http400-wrong-credentials-status-only.json");
    CHECK(status_only.find("\"status\": 400") != std::string::npos);
    const mpesa::Error bare = mpesa::classify_daraja_error(400, "", false);
    CHECK(bare.kind == mpesa::ErrorKind::DarajaRejected);
    CHECK(bare.message.find("HTTP 400") != std::string::npos);
  }
}
