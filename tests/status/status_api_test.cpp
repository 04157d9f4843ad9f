// GET /api/payments/{id}: fields, masking, 404, ETag, long polls, the waiter cap, the
// LISTEN/NOTIFY wake from another instance, languages, CORS and the rate limit.

#include <doctest/doctest.h>

#include <future>

#include "harness.hpp"
#include "mpesa/server/status_api.hpp"
#include "mpesa/server/status_listener.hpp"

namespace mpesa::test {
namespace {

constexpr std::string_view kSuccessCallback = "daraja/callback/01-docs-success-4-items-no-balance-amount-1.00.json";
constexpr std::string_view kCheckoutId = "ws_CO_191220191020363925";
constexpr std::string_view kPhone = "254708374149";

struct StatusFixture {
  explicit StatusFixture(const std::function<void(server::ServerConfig&)>& adjust = {}) {
    PgTestDatabase::instance().reset();
    auto config = test_config(dir.path() / "spool.log");
    config.reconcile = false;
    if (adjust) adjust(config);
    server = std::make_unique<TestServer>(std::move(config));
    const auto seeded = PgTestDatabase::instance().seed_payment(kCheckoutId, kPhone, 1);
    public_id = server::generate_public_id();
    PgTestDatabase::instance().execute(
        fmt::format("UPDATE stk_payments SET public_id = '{}' WHERE public_id = '{}'", public_id, seeded));
  }

  httplib::Result get(const std::string& target, const httplib::Headers& headers = {}) const {
    auto client = server->api_client();
    client.set_read_timeout(40, 0);
    return client.Get(target, headers);
  }

  // Waits until `count` long polls are held, so the test acts while they wait.
  void wait_for_waiters(int count) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server->app().status_api().waiting() < count && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(server->app().status_api().waiting() == count);
  }

  void post_success_callback() const {
    const auto result = server->post_callback(read_test_file(std::string(kSuccessCallback)));
    REQUIRE(result);
    REQUIRE(result->status == 200);
  }

  TempDir dir;
  std::unique_ptr<TestServer> server;
  std::string public_id;
};

}  // namespace

TEST_CASE("status JSON fields and masking") {
  StatusFixture fixture;
  fixture.post_success_callback();
  const auto result = fixture.get("/api/payments/" + fixture.public_id);
  REQUIRE(result);
  CHECK(result->status == 200);
  const auto& body = result->body;
  INFO(body);
  for (const auto* field : {"\"id\":", "\"status\":\"succeeded\"", "\"amount\":1", "\"account_reference\":\"TEST\"",
                            "\"receipt\":\"NLJ4QK8ZWA\"", "\"result_code\":\"0\"", "\"result_desc\":",
                            "\"message\":\"Payment received. Thank you!\"", "\"created_at\":\"",
                            "\"updated_at\":\"", "\"reason\":\"succeeded\""}) {
    CHECK_MESSAGE(body.find(field) != std::string::npos, "missing " << field);
  }
  CHECK(body.find("\"phone\":\"2547*****149\"") != std::string::npos);
  CHECK(body.find(kPhone) == std::string::npos);
  CHECK(body.find(kCheckoutId) == std::string::npos);
  CHECK(body.find("29115-34620561-1") == std::string::npos);
  CHECK(result->get_header_value("Content-Type") == "application/json");
}

TEST_CASE("a pending payment has no receipt and says to check the phone") {
  StatusFixture fixture;
  const auto result = fixture.get("/api/payments/" + fixture.public_id);
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->body.find("\"status\":\"pending\"") != std::string::npos);
  CHECK(result->body.find("\"receipt\":null") != std::string::npos);
  CHECK(result->body.find("Check your phone") != std::string::npos);
}

TEST_CASE("unknown and over-long ids are 404") {
  StatusFixture fixture;
  const auto unknown = fixture.get("/api/payments/pay_00000000000000000000000000000000");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  const auto long_id = fixture.get("/api/payments/" + std::string(200, 'a'));
  REQUIRE(long_id);
  CHECK(long_id->status == 404);
  CHECK(unknown->body == long_id->body);
  const auto waiting = fixture.get("/api/payments/pay_00000000000000000000000000000000?wait=5");
  REQUIRE(waiting);
  CHECK(waiting->status == 404);
}

TEST_CASE("a bad wait value is refused with 400 naming the range") {
  StatusFixture fixture;
  for (const auto* value : {"31", "-1", "abc", "2.5"}) {
    const auto result = fixture.get(fmt::format("/api/payments/{}?wait={}", fixture.public_id, value));
    REQUIRE(result);
    CHECK(result->status == 400);
    CHECK(result->body.find("0 to 30") != std::string::npos);
  }
}

TEST_CASE("ETag gives 304 until a change") {
  StatusFixture fixture;
  const auto first = fixture.get("/api/payments/" + fixture.public_id);
  REQUIRE(first);
  const auto etag = first->get_header_value("ETag");
  REQUIRE_FALSE(etag.empty());
  CHECK(first->get_header_value("Cache-Control") == "no-cache");

  const auto again = fixture.get("/api/payments/" + fixture.public_id, {{"If-None-Match", etag}});
  REQUIRE(again);
  CHECK(again->status == 304);
  CHECK(again->body.empty());
  CHECK(again->get_header_value("ETag") == etag);

  fixture.post_success_callback();
  const auto changed = fixture.get("/api/payments/" + fixture.public_id, {{"If-None-Match", etag}});
  REQUIRE(changed);
  CHECK(changed->status == 200);
  CHECK(changed->get_header_value("ETag") != etag);
}

TEST_CASE("ETag differs per language") {
  StatusFixture fixture;
  const auto english = fixture.get("/api/payments/" + fixture.public_id);
  REQUIRE(english);
  const auto swahili =
      fixture.get("/api/payments/" + fixture.public_id + "?lang=sw", {{"If-None-Match", english->get_header_value("ETag")}});
  REQUIRE(swahili);
  CHECK(swahili->status == 200);
}

TEST_CASE("a long poll is woken by the callback and returns the settled payment") {
  StatusFixture fixture;
  auto poll = std::async(std::launch::async, [&] {
    const auto started = std::chrono::steady_clock::now();
    auto result = fixture.get("/api/payments/" + fixture.public_id + "?wait=20");
    return std::pair{std::move(result), std::chrono::steady_clock::now() - started};
  });
  fixture.wait_for_waiters(1);
  fixture.post_success_callback();
  auto [result, elapsed] = poll.get();
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->get_header_value("X-Long-Poll") == "waited");
  CHECK(result->body.find("\"status\":\"succeeded\"") != std::string::npos);
  // Woken by the change, not by the 20 s wait running out.
  CHECK(elapsed < std::chrono::seconds(10));
  CHECK(fixture.server->app().status_api().waiting() == 0);
}

TEST_CASE("a long poll with an outdated ETag answers at once") {
  StatusFixture fixture;
  const auto result =
      fixture.get("/api/payments/" + fixture.public_id + "?wait=20", {{"If-None-Match", "\"0000000000000000\""}});
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->get_header_value("X-Long-Poll").empty());
}

TEST_CASE("a long poll on a final payment answers at once") {
  StatusFixture fixture;
  fixture.post_success_callback();
  const auto result = fixture.get("/api/payments/" + fixture.public_id + "?wait=20");
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->get_header_value("X-Long-Poll").empty());
  CHECK(result->body.find("succeeded") != std::string::npos);
}

TEST_CASE("waiter cap turns long poll plain") {
  StatusFixture fixture([](server::ServerConfig& config) { config.status_max_waiters = 1; });
  auto first = std::async(std::launch::async, [&] { return fixture.get("/api/payments/" + fixture.public_id + "?wait=20"); });
  fixture.wait_for_waiters(1);

  const auto second = fixture.get("/api/payments/" + fixture.public_id + "?wait=20");
  REQUIRE(second);
  CHECK(second->status == 200);
  CHECK(second->get_header_value("X-Long-Poll") == "declined");
  CHECK(second->body.find("\"status\":\"pending\"") != std::string::npos);
  CHECK(fixture.server->app().status_api().waiting() == 1);

  fixture.post_success_callback();
  const auto woken = first.get();
  REQUIRE(woken);
  CHECK(woken->get_header_value("X-Long-Poll") == "waited");
}

TEST_CASE("LISTEN/NOTIFY wakes long poll") {
  StatusFixture fixture;
  REQUIRE(fixture.server->app().status_listener() != nullptr);
  REQUIRE(fixture.server->app().status_listener()->wait_until_listening(std::chrono::seconds(10)));

  // A second instance: its own store and notifier, sharing only the database.
  auto other_notifier = std::make_shared<server::StatusNotifier>();
  server::PgPaymentStore other(Secret(PgTestDatabase::instance().url()), 1, other_notifier);

  auto poll = std::async(std::launch::async, [&] {
    const auto started = std::chrono::steady_clock::now();
    auto result = fixture.get("/api/payments/" + fixture.public_id + "?wait=20");
    return std::pair{std::move(result), std::chrono::steady_clock::now() - started};
  });
  fixture.wait_for_waiters(1);
  const auto callback = parse_stk_callback(read_test_file(std::string(kSuccessCallback)));
  REQUIRE(callback);
  const auto applied = other.apply_result(server::ReceivedResult::from_callback(
      *callback, "{}", "127.0.0.1", std::chrono::system_clock::now()));
  REQUIRE(applied);
  CHECK(applied->status_changed);

  auto [result, elapsed] = poll.get();
  REQUIRE(result);
  CHECK(result->body.find("\"status\":\"succeeded\"") != std::string::npos);
  CHECK(elapsed < std::chrono::seconds(10));
}

TEST_CASE("the language comes from ?lang=, then Accept-Language, then English") {
  StatusFixture fixture;
  const auto path = "/api/payments/" + fixture.public_id;
  const auto swahili_param = fixture.get(path + "?lang=sw");
  REQUIRE(swahili_param);
  CHECK(swahili_param->get_header_value("Content-Language") == "sw");
  CHECK(swahili_param->body.find("Angalia simu yako") != std::string::npos);

  const auto swahili_header = fixture.get(path, {{"Accept-Language", "sw-KE,sw;q=0.9,en;q=0.8"}});
  REQUIRE(swahili_header);
  CHECK(swahili_header->get_header_value("Content-Language") == "sw");

  const auto english_header = fixture.get(path, {{"Accept-Language", "en-GB,sw;q=0.5"}});
  REQUIRE(english_header);
  CHECK(english_header->get_header_value("Content-Language") == "en");

  const auto param_wins = fixture.get(path + "?lang=en", {{"Accept-Language", "sw"}});
  REQUIRE(param_wins);
  CHECK(param_wins->get_header_value("Content-Language") == "en");

  const auto unsupported = fixture.get(path, {{"Accept-Language", "fr-FR"}});
  REQUIRE(unsupported);
  CHECK(unsupported->get_header_value("Content-Language") == "en");
}

TEST_CASE("CORS headers go only to configured origins, and preflight is answered") {
  StatusFixture fixture([](server::ServerConfig& config) { config.cors_origins = {"https://shop.example.com"}; });
  const auto path = "/api/payments/" + fixture.public_id;
  const auto allowed = fixture.get(path, {{"Origin", "https://shop.example.com"}});
  REQUIRE(allowed);
  CHECK(allowed->get_header_value("Access-Control-Allow-Origin") == "https://shop.example.com");
  CHECK(allowed->get_header_value("Access-Control-Expose-Headers").find("ETag") != std::string::npos);

  const auto other = fixture.get(path, {{"Origin", "https://evil.example.net"}});
  REQUIRE(other);
  CHECK_FALSE(other->has_header("Access-Control-Allow-Origin"));

  auto client = fixture.server->api_client();
  const auto preflight = client.Options(path, {{"Origin", "https://shop.example.com"},
                                               {"Access-Control-Request-Method", "GET"}});
  REQUIRE(preflight);
  CHECK(preflight->status == 204);
  CHECK(preflight->get_header_value("Access-Control-Allow-Methods").find("GET") != std::string::npos);
  CHECK(preflight->get_header_value("Access-Control-Allow-Headers").find("If-None-Match") != std::string::npos);
}

TEST_CASE("status requests past the per-address rate get 429 with Retry-After") {
  StatusFixture fixture([](server::ServerConfig& config) {
    config.status_rate_limit = 0.01;
    config.status_rate_burst = 3;
  });
  const auto path = "/api/payments/" + fixture.public_id;
  for (int i = 0; i < 3; ++i) {
    const auto result = fixture.get(path);
    REQUIRE(result);
    CHECK(result->status == 200);
  }
  const auto limited = fixture.get(path);
  REQUIRE(limited);
  CHECK(limited->status == 429);
  CHECK(limited->get_header_value("Retry-After") == "1");
}

TEST_CASE("the public checkout route is off unless MPESA_PUBLIC_CHECKOUT is set") {
  StatusFixture fixture;
  auto client = fixture.server->api_client();
  const auto result = client.Post("/api/checkout", R"({"phone":"0712345678","amount":10})", "application/json");
  REQUIRE(result);
  CHECK(result->status == 404);
  CHECK(result->body.find("MPESA_PUBLIC_CHECKOUT") != std::string::npos);
}

TEST_CASE("etag_matches reads lists, weak validators and the wildcard") {
  CHECK(server::etag_matches("\"abc\"", "\"abc\""));
  CHECK(server::etag_matches("W/\"abc\"", "\"abc\""));
  CHECK(server::etag_matches("\"x\", \"abc\"", "\"abc\""));
  CHECK(server::etag_matches("*", "\"abc\""));
  CHECK_FALSE(server::etag_matches("\"abd\"", "\"abc\""));
  CHECK_FALSE(server::etag_matches("", "\"abc\""));
}

}  // namespace mpesa::test
