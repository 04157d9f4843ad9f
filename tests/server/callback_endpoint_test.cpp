// The callback route over HTTP: every rejection, every Daraja sample, secret rotation,
// X-Forwarded-For handling, and what the log lines may contain.

#include <filesystem>
#include <thread>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "mpesa/messages.hpp"

namespace mpesa::test {
namespace {

constexpr std::string_view kSuccessSample = "daraja/callback/01-docs-success-4-items-no-balance-amount-1.00.json";

struct SampleExpectation {
  std::string_view file;
  PaymentStatus status;
};

constexpr SampleExpectation kSamples[] = {
    {"01-docs-success-4-items-no-balance-amount-1.00.json", PaymentStatus::Succeeded},
    {"02-docs-1032-cancelled-uuidlike-ids.json", PaymentStatus::Cancelled},
    {"03-2017-safaricom-sample-balance-without-value.json", PaymentStatus::Succeeded},
    {"04-2018-live-compact-amount-1.00-balance-without-value.json", PaymentStatus::Succeeded},
    {"05-2019-dmz-checkoutid-success-compact.json", PaymentStatus::Succeeded},
    {"06-2019-2001-wrong-pin-mpesacb-prefix.json", PaymentStatus::Failed},
    {"07-2019-1032-cancelled-stkcb-prefix.json", PaymentStatus::Cancelled},
    {"08-2019-1036-smsc-ack-timeout.json", PaymentStatus::TimedOut},
    {"12-2021-17-rule-limited.json", PaymentStatus::Failed},
    {"14-2021-relayed-success-extra-fields-inside-stkCallback.json", PaymentStatus::Succeeded},
    {"17-2026-1037-no-response-from-user-sandbox.partial.json", PaymentStatus::TimedOut},
};

// Seeds the pending payment a sample callback settles: its CheckoutRequestID, its payer's
// phone when it names one, 1 shilling (every sample's amount).
std::string seed_for_sample(const std::string& body) {
  const auto parsed = parse_stk_callback(body);
  REQUIRE_MESSAGE(parsed.has_value(), "sample does not parse");
  const auto phone = parsed->phone ? std::to_string(*parsed->phone) : std::string("254708374149");
  return PgTestDatabase::instance().seed_payment(parsed->checkout_request_id, phone, 1);
}

int status_of(const httplib::Result& result) { return result ? result->status : -1; }

}  // namespace

TEST_CASE("callback: every Daraja sample settles its payment") {
  PgTestDatabase::instance().reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));

  for (const auto& sample : kSamples) {
    CAPTURE(sample.file);
    const auto body = read_test_file(std::string("daraja/callback/") + std::string(sample.file));
    const auto public_id = seed_for_sample(body);
    const auto result = server.post_callback(body);
    REQUIRE(status_of(result) == 200);
    CHECK(result->body == server::kCallbackAccepted);
    const auto payment = server.store().find_by_public_id(public_id);
    REQUIRE(payment.has_value());
    CHECK(payment->status == sample.status);
    CHECK(payment->learnt_via == server::LearntVia::Callback);
  }
  auto& database = PgTestDatabase::instance();
  CHECK(database.scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'") ==
        std::to_string(std::size(kSamples)));
}

TEST_CASE("callback: rejections write nothing") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  auto config = test_config(dir.path() / "spool.log");
  config.max_body_bytes = 4096;
  TestServer server(std::move(config));
  const auto body = read_test_file(std::string(kSuccessSample));
  database.seed_payment("ws_CO_191220191020363925", "254708374149", 1);
  auto client = server.callback_client();

  SUBCASE("no secret") { CHECK(status_of(client.Post("/mpesa/callback", body, "application/json")) == 403); }
  SUBCASE("wrong secret in the path") {
    CHECK(status_of(client.Post("/mpesa/callback/not-the-secret-at-all", body, "application/json")) == 403);
  }
  SUBCASE("secret with one character changed") {
    std::string almost(kSecretOne);
    almost.back() = almost.back() == 'b' ? 'c' : 'b';
    CHECK(status_of(client.Post("/mpesa/callback/" + almost, body, "application/json")) == 403);
  }
  SUBCASE("wrong secret in the query") {
    CHECK(status_of(client.Post("/mpesa/callback?secret=guess", body, "application/json")) == 403);
  }
  SUBCASE("body over the size cap") {
    const std::string large(5000, ' ');
    CHECK(status_of(client.Post(fmt::format("/mpesa/callback/{}", kSecretOne), body + large, "application/json")) == 413);
  }
  SUBCASE("chunked body over the size cap") {
    const std::string large = body + std::string(8000, ' ');
    const auto result = client.Post(
        fmt::format("/mpesa/callback/{}", kSecretOne),
        [&large](std::size_t offset, httplib::DataSink& sink) {
          sink.write(large.data() + offset, std::min<std::size_t>(1000, large.size() - offset));
          if (offset + 1000 >= large.size()) sink.done();
          return true;
        },
        "application/json");
    CHECK(status_of(result) == 413);
  }
  SUBCASE("form content type") {
    CHECK(status_of(client.Post(fmt::format("/mpesa/callback/{}", kSecretOne), body,
                                "application/x-www-form-urlencoded")) == 415);
  }
  SUBCASE("content type that only starts like JSON") {
    CHECK(status_of(client.Post(fmt::format("/mpesa/callback/{}", kSecretOne), body, "application/jsonp")) == 415);
  }

  CHECK(database.event_count() == 0);
  CHECK(database.scalar("SELECT status FROM stk_payments") == "pending");
  CHECK(std::filesystem::file_size(dir.path() / "spool.log") == 0);
}

TEST_CASE("callback: source address outside the allow list is 403") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  auto config = test_config(dir.path() / "spool.log");
  config.allowed_addresses = *server::AddressList::parse(server::kSafaricomCallbackAddresses);
  TestServer server(std::move(config));

  const auto result = server.post_callback(read_test_file(std::string(kSuccessSample)));
  CHECK(status_of(result) == 403);
  CHECK(result->body.empty());
  CHECK(database.event_count() == 0);
}

TEST_CASE("callback: X-Forwarded-For from an untrusted peer is ignored") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  auto config = test_config(dir.path() / "spool.log");
  config.allowed_addresses = *server::AddressList::parse("196.201.214.200");
  TestServer server(std::move(config));

  // The peer (127.0.0.1) is no trusted proxy, so the claimed Safaricom address is not believed.
  const auto result = server.post_callback(read_test_file(std::string(kSuccessSample)), kSecretOne,
                                           {{"X-Forwarded-For", "196.201.214.200"}});
  CHECK(status_of(result) == 403);
  CHECK(database.event_count() == 0);
}

TEST_CASE("callback: X-Forwarded-For through a trusted proxy") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  auto config = test_config(dir.path() / "spool.log");
  config.allowed_addresses = *server::AddressList::parse("196.201.214.200");
  config.trusted_proxies = *server::AddressList::parse("127.0.0.0/8, 10.0.0.0/8");
  TestServer server(std::move(config));
  const auto body = read_test_file(std::string(kSuccessSample));

  SUBCASE("right-most untrusted hop is the client") {
    CHECK(status_of(server.post_callback(body, kSecretOne, {{"X-Forwarded-For", "196.201.214.200, 10.1.2.3"}})) == 200);
    CHECK(database.scalar("SELECT source_address FROM stk_callback_events") == "196.201.214.200");
  }
  SUBCASE("a spoofed left-most entry does not help") {
    CHECK(status_of(server.post_callback(body, kSecretOne,
                                         {{"X-Forwarded-For", "196.201.214.200, 203.0.113.9, 10.1.2.3"}})) == 403);
    CHECK(database.event_count() == 0);
  }
  SUBCASE("garbage in the header is rejected") {
    CHECK(status_of(server.post_callback(body, kSecretOne, {{"X-Forwarded-For", "not-an-address"}})) == 403);
    CHECK(database.event_count() == 0);
  }
}

TEST_CASE("callback: both rotated secrets work in path and query and header") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));
  const auto body = read_test_file(std::string(kSuccessSample));
  auto client = server.callback_client();

  CHECK(status_of(server.post_callback(body, kSecretOne)) == 200);
  CHECK(status_of(server.post_callback(body, kSecretTwo)) == 200);
  CHECK(status_of(client.Post(fmt::format("/mpesa/callback?secret={}", kSecretTwo), body, "application/json")) == 200);
  CHECK(status_of(client.Post("/mpesa/callback", {{"X-Callback-Secret", std::string(kSecretOne)}}, body,
                              "application/json")) == 200);
  CHECK(database.event_count() == 4);
}

TEST_CASE("callback: rate limit answers 429 past the burst") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  auto config = test_config(dir.path() / "spool.log");
  config.rate_limit = 1;
  config.rate_burst = 3;
  TestServer server(std::move(config));
  const auto body = read_test_file(std::string(kSuccessSample));

  int accepted = 0;
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    const auto status = status_of(server.post_callback(body));
    if (status == 200) ++accepted;
    if (status == 429) ++limited;
  }
  CHECK(accepted >= 3);
  CHECK(accepted <= 4);
  CHECK(limited == 6 - accepted);
  CHECK(database.event_count() == accepted);
}

TEST_CASE("callback: malformed but authentic body is stored and acknowledged") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));

  for (const std::string body : {std::string("not json"), std::string(R"({"Body":{}})"), std::string()}) {
    CAPTURE(body);
    const auto result = server.post_callback(body);
    REQUIRE(status_of(result) == 200);
    CHECK(result->body == server::kCallbackAccepted);
  }
  CHECK(database.scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'malformed'") == "3");
}

TEST_CASE("callback: unknown CheckoutRequestID is acknowledged and kept") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));
  const auto result = server.post_callback(read_test_file(std::string(kSuccessSample)));
  REQUIRE(status_of(result) == 200);
  CHECK(database.scalar("SELECT outcome FROM stk_callback_events") == "unmatched");
}

TEST_CASE("callback: concurrent duplicates over HTTP apply once") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));
  const auto body = read_test_file(std::string(kSuccessSample));
  database.seed_payment("ws_CO_191220191020363925", "254708374149", 1);

  std::vector<std::thread> senders;
  std::atomic<int> acknowledged{0};
  for (int i = 0; i < 6; ++i) {
    senders.emplace_back([&] {
      if (status_of(server.post_callback(body)) == 200) ++acknowledged;
    });
  }
  for (auto& sender : senders) sender.join();
  CHECK(acknowledged == 6);
  CHECK(database.scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'") == "1");
  CHECK(database.scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'duplicate'") == "5");
}

TEST_CASE("callback: logs hold no secret or query string or full phone") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));
  const auto body = read_test_file(std::string(kSuccessSample));
  database.seed_payment("ws_CO_191220191020363925", "254708374149", 1);
  auto client = server.callback_client();

  REQUIRE(status_of(server.post_callback(body)) == 200);
  REQUIRE(status_of(client.Post(fmt::format("/mpesa/callback?secret={}", kSecretTwo), body, "application/json")) == 200);
  REQUIRE(status_of(client.Post("/mpesa/callback/wrong-secret-guess", body, "application/json")) == 403);

  const auto log = server.log_text();
  CHECK_MESSAGE(log.find("callback applied") != std::string::npos, "one line per callback");
  CHECK(log.find("2547*****149") != std::string::npos);
  CHECK(log.find("254708374149") == std::string::npos);
  CHECK(log.find(kSecretOne) == std::string::npos);
  CHECK(log.find(kSecretTwo) == std::string::npos);
  CHECK(log.find("wrong-secret-guess") == std::string::npos);
  CHECK(log.find("ws_CO_191220191020363925") == std::string::npos);
  CHECK(log.find("NLJ4QK8ZWA") == std::string::npos);
  CHECK(log.find("secret=") == std::string::npos);
}

TEST_CASE("callback: health and readiness and metrics") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));
  REQUIRE(status_of(server.post_callback(read_test_file(std::string(kSuccessSample)))) == 200);
  REQUIRE(status_of(server.post_callback("{}", "bad-secret-value")) == 403);
  auto api = server.api_client();

  CHECK(status_of(api.Get("/healthz")) == 200);
  const auto ready = api.Get("/readyz");
  REQUIRE(status_of(ready) == 200);
  CHECK(ready->body.find(R"("migrations":"current")") != std::string::npos);
  CHECK(ready->body.find(R"("spool_backlog":0)") != std::string::npos);

  const auto metrics = api.Get("/metrics");
  REQUIRE(status_of(metrics) == 200);
  CHECK(metrics->body.find("mpesa_callbacks_total{outcome=\"unmatched\"} 1") != std::string::npos);
  CHECK(metrics->body.find("mpesa_callback_rejections_total{reason=\"bad_secret\"} 1") != std::string::npos);
  CHECK(metrics->body.find("mpesa_callback_duration_seconds_count 1") != std::string::npos);
  CHECK(metrics->body.find("mpesa_spool_backlog 0") != std::string::npos);
}

TEST_CASE("callback: server refuses to start without a secret") {
  TempDir dir;
  auto config = test_config(dir.path() / "spool.log");
  config.callback_secrets.clear();
  CHECK_THROWS_AS(server::ServerApp(config, nullptr, nullptr, {}), ConfigError);
  config.insecure_no_secret = true;
  CHECK_NOTHROW(server::ServerApp(config, nullptr, nullptr, {}));
}

}  // namespace mpesa::test
