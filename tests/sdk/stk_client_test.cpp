// StkClient against the scripted fake Daraja, over real libcurl on loopback.

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "fake_clock.hpp"
#include "fake_daraja.hpp"
#include "mpesa/password.hpp"
#include "mpesa/stk_client.hpp"

using namespace std::chrono_literals;
using mpesa::ErrorKind;
using mpesa::testing::FakeClock;
using mpesa::testing::FakeDaraja;
using mpesa::testing::FakeReply;
using mpesa::testing::kOAuthPath;
using mpesa::testing::kPushPath;
using mpesa::testing::kQueryPath;

namespace {

constexpr const char* kConsumerKey = "test-consumer-key";
constexpr const char* kConsumerSecret = "test-consumer-secret-5e7a";
constexpr const char* kPasskey = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
constexpr const char* kCallbackUrl = "https://example.com/callbacks/mpesa/s3cr3t-path-token";
constexpr const char* kInvalidToken =
    R"({"requestId":"10219-2484793-1","errorCode":"404.001.03","errorMessage":"Invalid Access Token"})";

// 2026-12-04 10:10:10 UTC, 13:10:10 in Nairobi.
const auto kNow = std::chrono::sys_days{std::chrono::year{2026} / 12 / 4} + 10h + 10min + 10s;

mpesa::Config test_config(const std::string& base_url) {
  mpesa::Config config;
  config.base_url = base_url;
  config.consumer_key = kConsumerKey;
  config.consumer_secret = mpesa::Secret(kConsumerSecret);
  config.shortcode = "174379";
  config.passkey = mpesa::Secret(kPasskey);
  config.callback_url = kCallbackUrl;
  config.connect_timeout = 1000ms;
  config.request_timeout = 2000ms;
  return config;
}

mpesa::PushRequest valid_push() {
  mpesa::PushRequest request;
  request.phone = "0708 374 149";
  request.amount = 10;
  request.account_reference = "INV-42";
  request.description = "Order 42";
  return request;
}

std::shared_ptr<spdlog::logger> quiet_logger() {
  static auto logger = [] {
    auto created = std::make_shared<spdlog::logger>("quiet");
    created->set_level(spdlog::level::off);
    return created;
  }();
  return logger;
}

struct Fixture {
  FakeDaraja daraja;
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>(kNow);
  std::unique_ptr<mpesa::StkClient> client;

  explicit Fixture(const std::function<void(mpesa::Config&)>& adjust = {},
                   std::shared_ptr<spdlog::logger> logger = quiet_logger()) {
    mpesa::Config config = test_config(daraja.base_url());
    if (adjust) adjust(config);
    client = std::make_unique<mpesa::StkClient>(std::move(config), std::move(logger), clock);
  }
};

int free_loopback_port() {
  const FakeDaraja probe;
  return probe.port();
}

}  // namespace

TEST_SUITE("stk_push") {
  TEST_CASE("sends the documented request and returns the acknowledgement") {
    Fixture fixture;
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_MESSAGE(ack.has_value(), ack.error().describe());
    CHECK(ack->checkout_request_id == FakeDaraja::kCheckoutRequestId);
    CHECK(ack->merchant_request_id == FakeDaraja::kMerchantRequestId);
    CHECK(ack->customer_message == "Success. Request accepted for processing");

    const auto requests = fixture.daraja.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].method == "GET");
    CHECK(requests[0].path == kOAuthPath);
    CHECK(requests[0].query == "grant_type=client_credentials");
    CHECK(requests[0].authorization ==
          "Basic " + mpesa::base64_encode(std::string(kConsumerKey) + ":" + kConsumerSecret));

    const auto& push = requests[1];
    CHECK(push.method == "POST");
    CHECK(push.path == kPushPath);
    CHECK(push.authorization == "Bearer fake-token-1");
    CHECK(push.content_type == "application/json");
    const auto credentials = mpesa::make_stk_credentials("174379", kPasskey, kNow);
    CHECK(credentials.timestamp == "20261204131010");
    const std::string expected_fields[] = {
        R"("BusinessShortCode":174379)",
        R"("Password":")" + credentials.password + "\"",
        R"("Timestamp":"20261204131010")",
        R"("TransactionType":"CustomerPayBillOnline")",
        R"("Amount":"10")",
        R"("PartyA":"254708374149")",
        R"("PartyB":"174379")",
        R"("PhoneNumber":"254708374149")",
        std::string(R"("CallBackURL":")") + kCallbackUrl + "\"",
        R"("AccountReference":"INV-42")",
        R"("TransactionDesc":"Order 42")",
    };
    for (const std::string& field : expected_fields) {
      INFO("field: ", field);
      CHECK(push.body.find(field) != std::string::npos);
    }
  }

  TEST_CASE("client construction validates the configuration") {
    mpesa::Config missing_passkey = test_config("http://127.0.0.1:9");
    missing_passkey.passkey = mpesa::Secret();
    CHECK_THROWS_WITH_AS(mpesa::StkClient(std::move(missing_passkey), quiet_logger()),
                         doctest::Contains("MPESA_PASSKEY"), mpesa::ConfigError);
    mpesa::Config bad_timeouts = test_config("http://127.0.0.1:9");
    bad_timeouts.request_timeout = 10ms;
    CHECK_THROWS_AS(mpesa::StkClient(std::move(bad_timeouts), quiet_logger()), mpesa::ConfigError);
  }

  TEST_CASE("timestamp crosses midnight in Nairobi time") {
    // 21:30 UTC on 31 December is 00:30 on 1 January in Nairobi (UTC+3).
    const auto late_evening_utc =
        std::chrono::sys_days{std::chrono::year{2026} / 12 / 31} + 21h + 30min;
    FakeDaraja daraja;
    mpesa::StkClient client(test_config(daraja.base_url()), quiet_logger(),
                            std::make_shared<FakeClock>(late_evening_utc));
    REQUIRE(client.push(valid_push()).has_value());
    const std::string body = daraja.requests().back().body;
    const auto credentials = mpesa::make_stk_credentials("174379", kPasskey, late_evening_utc);
    CHECK(credentials.timestamp == "20270101003000");
    CHECK(body.find(R"("Timestamp":"20270101003000")") != std::string::npos);
    CHECK(body.find(R"("Password":")" + credentials.password + "\"") != std::string::npos);
  }

  TEST_CASE("BuyGoods sends the till number as PartyB and a default description") {
    Fixture fixture([](mpesa::Config& config) {
      config.transaction_type = mpesa::TransactionType::CustomerBuyGoodsOnline;
      config.party_b = "600111";
    });
    mpesa::PushRequest request = valid_push();
    request.description.clear();
    REQUIRE(fixture.client->push(request).has_value());
    const std::string body = fixture.daraja.requests().back().body;
    CHECK(body.find(R"("TransactionType":"CustomerBuyGoodsOnline")") != std::string::npos);
    CHECK(body.find(R"("PartyB":"600111")") != std::string::npos);
    CHECK(body.find(R"("TransactionDesc":"Payment")") != std::string::npos);
  }

  TEST_CASE("invalid input fails before any HTTP call") {
    struct Row {
      const char* label;
      std::function<void(mpesa::PushRequest&)> change;
      const char* field;
    };
    const Row rows[] = {
        {"phone too short", [](auto& r) { r.phone = "07083741"; }, "phone"},
        {"phone not Kenyan", [](auto& r) { r.phone = "+255712345678"; }, "phone"},
        {"phone with letters", [](auto& r) { r.phone = "07o8374149"; }, "phone"},
        {"landline", [](auto& r) { r.phone = "0208374149"; }, "phone"},
        {"zero amount", [](auto& r) { r.amount = 0; }, "amount"},
        {"negative amount", [](auto& r) { r.amount = -5; }, "amount"},
        {"amount over 250000", [](auto& r) { r.amount = 250001; }, "amount"},
        {"empty reference", [](auto& r) { r.account_reference = ""; }, "account_reference"},
        {"reference of 13", [](auto& r) { r.account_reference = "ABCDEFGHIJKLM"; },
         "account_reference"},
        {"reference with &", [](auto& r) { r.account_reference = "A&B"; }, "account_reference"},
        {"description of 14", [](auto& r) { r.description = "ABCDEFGHIJKLMN"; }, "description"},
        {"relative callback", [](auto& r) { r.callback_url = "/callbacks"; }, "callback_url"},
        {"callback with space", [](auto& r) { r.callback_url = "https://example.com/a b"; },
         "callback_url"},
    };
    Fixture fixture;
    for (const Row& row : rows) {
      INFO("case: ", row.label);
      mpesa::PushRequest request = valid_push();
      row.change(request);
      const auto ack = fixture.client->push(request);
      REQUIRE_FALSE(ack.has_value());
      CHECK(ack.error().kind == ErrorKind::InvalidRequest);
      CHECK(ack.error().field == row.field);
      CHECK_FALSE(ack.error().retryable());
    }
    CHECK_MESSAGE(fixture.daraja.requests().empty(), "an invalid push reached the network");
  }

  TEST_CASE("a push without any callback URL is rejected before sending") {
    Fixture fixture([](mpesa::Config& config) { config.callback_url.clear(); });
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().field == "callback_url");
    CHECK(ack.error().message.find("MPESA_CALLBACK_URL") != std::string::npos);
    CHECK(fixture.daraja.requests().empty());
  }

  TEST_CASE("production refuses an http callback URL, and the sandbox warns and sends") {
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    auto logger = std::make_shared<spdlog::logger>("callback-warning", sink);
    Fixture sandbox({}, logger);
    mpesa::PushRequest request = valid_push();
    request.callback_url = "http://example.com/cb";
    REQUIRE(sandbox.client->push(request).has_value());
    bool warned = false;
    for (const auto& line : sink->last_formatted()) {
      warned = warned || line.find("callback URL uses http") != std::string::npos;
    }
    CHECK(warned);

    mpesa::Config config = test_config("");
    config.environment = mpesa::Environment::Production;
    mpesa::StkClient production(std::move(config), quiet_logger(),
                                std::make_shared<FakeClock>(kNow));
    const auto refused = production.push(request);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().field == "callback_url");
  }

  TEST_CASE("a Daraja rejection keeps code, request id and status and is not resent") {
    Fixture fixture;
    fixture.daraja.script(kPushPath, {{400, R"({"requestId":"9458-79414631-1","errorCode":)"
                                            R"("400.002.02","errorMessage":"Bad Request - )"
                                            R"(Invalid PhoneNumber"})"}});
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().kind == ErrorKind::DarajaRejected);
    CHECK(ack.error().http_status == 400);
    CHECK(ack.error().daraja_error_code == "400.002.02");
    CHECK(ack.error().request_id == "9458-79414631-1");
    CHECK(fixture.daraja.count(kPushPath) == 1);
  }

  TEST_CASE("spike arrest on a push is reported, not resent") {
    Fixture fixture;
    fixture.daraja.script(kPushPath, {{500, R"({"errorCode":"500.003.02","errorMessage":)"
                                            R"("Error Occurred: Spike Arrest Violation"})"}});
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().kind == ErrorKind::RateLimited);
    CHECK(fixture.daraja.count(kPushPath) == 1);
  }
}

TEST_SUITE("token_provider") {
  TEST_CASE("one token serves many pushes across threads") {
    Fixture fixture;
    constexpr int kThreads = 8;
    constexpr int kPushesPerThread = 5;
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kPushesPerThread; ++i) {
          if (fixture.client->push(valid_push())) ++accepted;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    CHECK(accepted == kThreads * kPushesPerThread);
    CHECK(fixture.daraja.count(kPushPath) == kThreads * kPushesPerThread);
    CHECK_MESSAGE(fixture.daraja.count(kOAuthPath) == 1, "each token fetch invalidates the last");
  }

  TEST_CASE("calls from one thread reuse one connection") {
    FakeDaraja daraja(0, true);
    mpesa::StkClient client(test_config(daraja.base_url()), quiet_logger(),
                            std::make_shared<FakeClock>(kNow));
    // A fresh thread has a fresh curl handle, so no connection from another test is reused.
    std::thread([&] {
      for (int i = 0; i < 5; ++i) REQUIRE(client.push(valid_push()).has_value());
      REQUIRE(client.query(FakeDaraja::kCheckoutRequestId).has_value());
    }).join();
    std::set<int> ports;
    for (const auto& request : daraja.requests()) ports.insert(request.remote_port);
    CHECK(daraja.requests().size() == 7);
    CHECK_MESSAGE(ports.size() == 1, "each call opened a new connection");
  }

  TEST_CASE("two clients with the same credentials share one token") {
    Fixture fixture;
    mpesa::StkClient second(test_config(fixture.daraja.base_url()), quiet_logger(),
                            fixture.clock);
    REQUIRE(fixture.client->push(valid_push()).has_value());
    REQUIRE(second.push(valid_push()).has_value());
    CHECK(fixture.daraja.count(kOAuthPath) == 1);
  }

  TEST_CASE("refreshes when less than the margin remains") {
    Fixture fixture;  // expires_in 3599, margin 60: refresh due 3539 s after the fetch
    REQUIRE(fixture.client->push(valid_push()).has_value());
    fixture.clock->advance(3538s);
    REQUIRE(fixture.client->push(valid_push()).has_value());
    CHECK(fixture.daraja.count(kOAuthPath) == 1);
    fixture.clock->advance(2s);
    REQUIRE(fixture.client->push(valid_push()).has_value());
    CHECK(fixture.daraja.count(kOAuthPath) == 2);
    CHECK(fixture.daraja.requests().back().authorization == "Bearer fake-token-2");
  }

  TEST_CASE("expires_in as a number is honoured") {
    Fixture fixture;
    fixture.daraja.script(kOAuthPath, {{200, R"({"access_token":"short-lived","expires_in":600})"}});
    REQUIRE(fixture.client->push(valid_push()).has_value());
    fixture.clock->advance(539s);
    REQUIRE(fixture.client->push(valid_push()).has_value());
    CHECK(fixture.daraja.count(kOAuthPath) == 1);
    fixture.clock->advance(2s);
    REQUIRE(fixture.client->push(valid_push()).has_value());
    CHECK(fixture.daraja.count(kOAuthPath) == 2);
  }

  TEST_CASE("an invalid-token answer refreshes once and resends once") {
    Fixture fixture;
    fixture.daraja.script(kPushPath, {{404, kInvalidToken}});
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_MESSAGE(ack.has_value(), ack.error().describe());
    CHECK(fixture.daraja.count(kOAuthPath) == 2);
    CHECK(fixture.daraja.count(kPushPath) == 2);
    CHECK(fixture.daraja.requests().back().authorization == "Bearer fake-token-2");
  }

  TEST_CASE("a second invalid-token answer is an authentication error, not a loop") {
    Fixture fixture;
    fixture.daraja.script(kPushPath, {{404, kInvalidToken}, {404, kInvalidToken}});
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().kind == ErrorKind::Auth);
    CHECK(ack.error().daraja_error_code == "404.001.03");
    CHECK(ack.error().message.find("M-Pesa Express product") != std::string::npos);
    CHECK(fixture.daraja.count(kPushPath) == 2);
    CHECK(fixture.daraja.count(kOAuthPath) == 2);
  }

  TEST_CASE("the invalid-token refresh also covers queries and 404.001.04") {
    Fixture fixture;
    fixture.daraja.script(kQueryPath, {{404, R"({"requestId":"r","errorCode":"404.001.04",)"
                                             R"("errorMessage":"Invalid Access Token"})"}});
    const auto result = fixture.client->query(FakeDaraja::kCheckoutRequestId);
    REQUIRE_MESSAGE(result.has_value(), result.error().describe());
    CHECK(fixture.daraja.count(kQueryPath) == 2);
    CHECK(fixture.daraja.count(kOAuthPath) == 2);
  }

  TEST_CASE("an HTML page with status 200 is not cached as a token") {
    Fixture fixture;
    fixture.daraja.script(kOAuthPath,
                          {{200, "<html><body>Service maintenance</body></html>", "text/html"}});
    const auto first = fixture.client->push(valid_push());
    REQUIRE_FALSE(first.has_value());
    CHECK(first.error().kind == ErrorKind::Parse);
    CHECK(fixture.daraja.count(kPushPath) == 0);

    const auto second = fixture.client->push(valid_push());
    REQUIRE_MESSAGE(second.has_value(), second.error().describe());
    CHECK(fixture.daraja.count(kOAuthPath) == 2);
    CHECK(fixture.daraja.requests().back().authorization == "Bearer fake-token-1");
  }

  TEST_CASE("an empty token is not cached") {
    Fixture fixture;
    fixture.daraja.script(kOAuthPath, {{200, R"({"access_token":"","expires_in":"3599"})"}});
    REQUIRE_FALSE(fixture.client->push(valid_push()).has_value());
    REQUIRE(fixture.client->push(valid_push()).has_value());
    CHECK(fixture.daraja.count(kOAuthPath) == 2);
  }

  TEST_CASE("wrong consumer credentials are an authentication error without retries") {
    Fixture fixture;
    fixture.daraja.script(kOAuthPath, {{400, ""}});
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().kind == ErrorKind::Auth);
    CHECK(ack.error().message.find("MPESA_CONSUMER_SECRET") != std::string::npos);
    CHECK(fixture.daraja.count(kOAuthPath) == 1);
    CHECK(fixture.clock->sleeps().empty());
  }

  TEST_CASE("a busy OAuth endpoint is retried with growing delays") {
    Fixture fixture;
    fixture.daraja.script(kOAuthPath, {{503, "busy", "text/plain"}, {503, "busy", "text/plain"}});
    REQUIRE(fixture.client->push(valid_push()).has_value());
    CHECK(fixture.daraja.count(kOAuthPath) == 3);
    const auto sleeps = fixture.clock->sleeps();
    REQUIRE(sleeps.size() == 2);
    // Base 200 ms, equal jitter: the first wait is 100..200 ms, the second 200..400 ms.
    CHECK(sleeps[0] >= 100ms);
    CHECK(sleeps[0] <= 200ms);
    CHECK(sleeps[1] >= 200ms);
    CHECK(sleeps[1] <= 400ms);
  }
}

TEST_SUITE("retries") {
  TEST_CASE("a push that timed out after sending is outcome unknown and not resent") {
    Fixture fixture([](mpesa::Config& config) {
      config.connect_timeout = 200ms;
      config.request_timeout = 300ms;
    });
    fixture.daraja.script(kPushPath, {{200, "{}", "application/json", 1000ms}});
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().kind == ErrorKind::OutcomeUnknown);
    CHECK(ack.error().needs_reconciliation());
    CHECK_FALSE(ack.error().retryable());
    CHECK(fixture.daraja.count(kPushPath) == 1);
    CHECK(fixture.clock->sleeps().empty());
  }

  TEST_CASE("a 5xx after sending a push is outcome unknown and not resent") {
    Fixture fixture;
    fixture.daraja.script(kPushPath, {{502, "<html>Bad Gateway</html>", "text/html"}});
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().kind == ErrorKind::OutcomeUnknown);
    CHECK(ack.error().http_status == 502);
    CHECK(fixture.daraja.count(kPushPath) == 1);
  }

  TEST_CASE("a 200 push answer that is not an acknowledgement is outcome unknown") {
    Fixture fixture;
    fixture.daraja.script(kPushPath, {{200, "<html>ok</html>", "text/html"}});
    const auto ack = fixture.client->push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().kind == ErrorKind::OutcomeUnknown);
  }

  TEST_CASE("a refused connection is retried, and the push is sent once it connects") {
    const int port = free_loopback_port();
    std::unique_ptr<FakeDaraja> late;
    auto clock = std::make_shared<FakeClock>(kNow);
    clock->on_sleep([&] {
      if (!late) late = std::make_unique<FakeDaraja>(port);
    });
    mpesa::StkClient client(test_config(fmt::format("http://127.0.0.1:{}", port)),
                            quiet_logger(), clock);
    const auto ack = client.push(valid_push());
    REQUIRE_MESSAGE(ack.has_value(), ack.error().describe());
    REQUIRE(late != nullptr);
    CHECK(late->count(kPushPath) == 1);
    CHECK(clock->sleeps().size() == 1);
  }

  TEST_CASE("TLS failure is reported and never downgraded") {
    // https against a plain-HTTP server fails the handshake; the client must not fall back.
    FakeDaraja plain;
    auto clock = std::make_shared<FakeClock>(kNow);
    mpesa::StkClient client(test_config(fmt::format("https://127.0.0.1:{}", plain.port())),
                            quiet_logger(), clock);
    const auto ack = client.push(valid_push());
    REQUIRE_FALSE(ack.has_value());
    CHECK(ack.error().kind == ErrorKind::Tls);
    CHECK(ack.error().message.find("MPESA_CA_BUNDLE") != std::string::npos);
    CHECK(plain.count(kPushPath) == 0);
    CHECK(clock->sleeps().empty());
  }

  TEST_CASE("unreachable Daraja gives a network error") {
    const int port = free_loopback_port();
    auto clock = std::make_shared<FakeClock>(kNow);
    mpesa::StkClient client(test_config(fmt::format("http://127.0.0.1:{}", port)),
                            quiet_logger(), clock);
    const auto result = client.query(FakeDaraja::kCheckoutRequestId);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorKind::Network);
    CHECK(result.error().retryable());
    // Three token attempts inside each of three query attempts.
    CHECK(clock->sleeps().size() == 8);
  }
}

TEST_SUITE("stk_query") {
  TEST_CASE("returns the final result") {
    Fixture fixture;
    const auto result = fixture.client->query(FakeDaraja::kCheckoutRequestId);
    REQUIRE_MESSAGE(result.has_value(), result.error().describe());
    CHECK(result->status() == mpesa::PaymentStatus::Succeeded);
    CHECK(result->result_code == "0");
    const auto request = fixture.daraja.requests().back();
    CHECK(request.path == kQueryPath);
    const auto credentials = mpesa::make_stk_credentials("174379", kPasskey, kNow);
    CHECK(request.body.find(R"("Password":")" + credentials.password + "\"") != std::string::npos);
    CHECK(request.body.find(std::string(R"("CheckoutRequestID":")") +
                            std::string(FakeDaraja::kCheckoutRequestId) + "\"") !=
          std::string::npos);
  }

  TEST_CASE("being processed, in each form, is pending") {
    Fixture fixture;
    fixture.daraja.script(
        kQueryPath,
        {{500, R"({"requestId":"ws_CO_1","errorCode":"500.001.1001","errorMessage":"The transaction is being processed"})"},
         {200, R"({"ResponseCode":"0","CheckoutRequestID":"ws_CO_1","ResultCode":"4999","ResultDesc":"still"})"}});
    for (int i = 0; i < 2; ++i) {
      const auto result = fixture.client->query("ws_CO_1");
      REQUIRE_MESSAGE(result.has_value(), result.error().describe());
      CHECK(result->status() == mpesa::PaymentStatus::Pending);
    }
    CHECK(fixture.daraja.count(kQueryPath) == 2);
  }

  TEST_CASE("a busy answer is retried but an unknown id is not") {
    Fixture fixture;
    fixture.daraja.script(kQueryPath, {{503, "busy", "text/plain"}});
    REQUIRE(fixture.client->query(FakeDaraja::kCheckoutRequestId).has_value());
    CHECK(fixture.daraja.count(kQueryPath) == 2);

    fixture.daraja.script(kQueryPath, {{500, R"({"errorCode":"500.001.1001","errorMessage":)"
                                             R"("The transaction does not Exist"})"}});
    const auto unknown = fixture.client->query("ws_CO_404");
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error().kind == ErrorKind::NotFound);
    CHECK(fixture.daraja.count(kQueryPath) == 3);
  }

  TEST_CASE("a malformed CheckoutRequestID makes no HTTP call") {
    Fixture fixture;
    for (const char* id : {"", "ws_CO_1\"}", "ws CO", "ws_CO_123456789012345678901234567890123456789012345678901234567890"}) {
      INFO("id: ", id);
      const auto result = fixture.client->query(id);
      REQUIRE_FALSE(result.has_value());
      CHECK(result.error().kind == ErrorKind::InvalidRequest);
    }
    CHECK(fixture.daraja.requests().empty());
  }
}

TEST_SUITE("logging") {
  TEST_CASE("log lines carry no secret, token, password, full phone or full checkout id") {
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
    auto logger = std::make_shared<spdlog::logger>("leak-check", sink);
    logger->set_level(spdlog::level::trace);
    Fixture fixture({}, logger);
    fixture.daraja.script(kPushPath, {{404, kInvalidToken}});
    fixture.daraja.script(kQueryPath, {{503, "busy", "text/plain"}});

    REQUIRE(fixture.client->push(valid_push()).has_value());
    REQUIRE(fixture.client->query(FakeDaraja::kCheckoutRequestId).has_value());
    mpesa::PushRequest bad = valid_push();
    bad.phone = "0708374149999";
    REQUIRE_FALSE(fixture.client->push(bad).has_value());

    const auto lines = sink->last_formatted();
    REQUIRE(lines.size() >= 6);  // 2 tokens, 2 pushes, 2 queries
    const auto credentials = mpesa::make_stk_credentials("174379", kPasskey, kNow);
    std::vector<std::string> forbidden = {
        kConsumerSecret,
        kPasskey,
        credentials.password,
        mpesa::base64_encode(std::string(kConsumerKey) + ":" + kConsumerSecret),
        "254708374149",
        "708374149",
        std::string(FakeDaraja::kCheckoutRequestId),
        "s3cr3t-path-token",
    };
    for (const std::string& token : fixture.daraja.issued_tokens()) forbidden.push_back(token);
    REQUIRE(fixture.daraja.issued_tokens().size() == 2);
    bool saw_push_line = false;
    for (const std::string& line : lines) {
      INFO("log line: ", line);
      for (const std::string& secret : forbidden) CHECK(line.find(secret) == std::string::npos);
      if (line.find("POST /mpesa/stkpush/v1/processrequest status=200") != std::string::npos) {
        saw_push_line = true;
        CHECK(line.find("phone=2547*****149") != std::string::npos);
        CHECK(line.find("duration_ms=") != std::string::npos);
        CHECK(line.find("request_id=" + std::string(FakeDaraja::kMerchantRequestId)) !=
              std::string::npos);
      }
    }
    CHECK(saw_push_line);
  }
}
