// End to end: POST /api/payments through the real StkClient to the in-process Daraja
// simulator, whose callback then settles the payment through the guarded callback route.

#include <doctest/doctest.h>

#include "harness.hpp"
#include "mpesa/simulator/simulator.hpp"

namespace mpesa::test {
namespace {

constexpr std::string_view kApiKey = "test-api-key-0123456789";

/// Forwards to a client created once the callback port, and so the callback URL, is known.
class LateBoundStk : public StkApi {
 public:
  Result<PushAck> push(const PushRequest& request) override { return client->push(request); }
  Result<QueryResult> query(std::string_view id) override { return client->query(id); }
  std::shared_ptr<StkClient> client;
};

struct EndToEnd {
  EndToEnd() {
    PgTestDatabase::instance().reset();
    simulator::SimulatorConfig simulator_config;
    simulator_config.consumer_key = "e2e-consumer-key";
    simulator_config.consumer_secret = Secret("e2e-consumer-secret");
    simulator_config.answer_delay = std::chrono::milliseconds(50);
    simulator_config.callback_delay = std::chrono::milliseconds(10);
    simulator_config.seed = 42;
    daraja = std::make_unique<simulator::Simulator>(simulator_config, spdlog::default_logger());
    daraja->start();

    stk = std::make_shared<LateBoundStk>();
    server = std::make_unique<TestServer>(test_config(dir.path() / "spool.log"), stk);

    Config config;
    config.base_url = daraja->base_url();
    config.consumer_key = "e2e-consumer-key";
    config.consumer_secret = Secret("e2e-consumer-secret");
    config.shortcode = std::string(simulator::kSandboxShortcode);
    config.passkey = Secret(std::string(simulator::kSandboxPasskey));
    config.callback_url =
        fmt::format("http://127.0.0.1:{}/mpesa/callback/{}", server->app().callback_port(), kSecretOne);
    stk->client = std::make_shared<StkClient>(config);
  }
  ~EndToEnd() {
    server.reset();
    daraja->stop();
  }

  // Creates a payment and returns its public id.
  std::string create(std::string_view phone) {
    auto client = server->api_client();
    const auto body = fmt::format(R"({{"phone":"{}","amount":25,"account_reference":"E2E-1"}})", phone);
    const auto result = client.Post("/api/payments", {{"Authorization", fmt::format("Bearer {}", kApiKey)}}, body,
                                    "application/json");
    REQUIRE(result);
    REQUIRE_MESSAGE(result->status == 201, result->body);
    const auto start = result->body.find("\"id\":\"") + 6;
    return result->body.substr(start, result->body.find('"', start) - start);
  }

  // Waits for the payment to leave pending, woken by the store's status notifier.
  server::PaymentRecord wait_for_final(const std::string& public_id) {
    auto subscription = server->notifier().subscribe(public_id);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (true) {
      auto payment = server->store().find_by_public_id(public_id);
      REQUIRE(payment.has_value());
      if (payment->status != PaymentStatus::Pending || std::chrono::steady_clock::now() > deadline) return *payment;
      (void)subscription.wait_for(std::chrono::milliseconds(200));
    }
  }

  TempDir dir;
  std::unique_ptr<simulator::Simulator> daraja;
  std::shared_ptr<LateBoundStk> stk;
  std::unique_ptr<TestServer> server;
};

}  // namespace

TEST_CASE("end to end: simulator callbacks settle each outcome") {
  EndToEnd e2e;
  struct Case {
    std::string_view phone;
    PaymentStatus status;
    std::string_view result_code;
  };
  const Case cases[] = {
      {"0708374149", PaymentStatus::Succeeded, "0"},  {"0708374101", PaymentStatus::Succeeded, "0"},
      {"0708374102", PaymentStatus::Cancelled, "1032"}, {"0708374103", PaymentStatus::TimedOut, "1037"},
      {"0708374104", PaymentStatus::Failed, "1"},      {"0708374105", PaymentStatus::Failed, "2001"},
      {"0708374106", PaymentStatus::TimedOut, "1019"}, {"0708374107", PaymentStatus::Failed, "1001"},
      {"0708374108", PaymentStatus::Failed, "1025"},   {"0708374109", PaymentStatus::Failed, "SFC_IC0003"},
      {"0708374111", PaymentStatus::Succeeded, "0"},
  };
  for (const auto& item : cases) {
    CAPTURE(item.phone);
    const auto public_id = e2e.create(item.phone);
    const auto payment = e2e.wait_for_final(public_id);
    CHECK(payment.status == item.status);
    CHECK(payment.result_code == std::string(item.result_code));
    CHECK(payment.learnt_via == server::LearntVia::Callback);
    if (item.status == PaymentStatus::Succeeded) {
      CHECK(payment.receipt.has_value());
      CHECK(payment.paid_amount_cents == 2500);
    }
  }
  CHECK(PgTestDatabase::instance().scalar("SELECT count(*) FROM stk_callback_events WHERE outcome "
                                          "NOT IN ('applied', 'duplicate', 'rematched')") == "0");
}

TEST_CASE("end to end: duplicated callback is stored as a duplicate") {
  EndToEnd e2e;
  const auto public_id = e2e.create("0708374111");
  CHECK(e2e.wait_for_final(public_id).status == PaymentStatus::Succeeded);
  auto& database = PgTestDatabase::instance();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  const auto duplicates = [&] {
    return database.scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'duplicate'");
  };
  while (duplicates() == "0" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // A callback that beats the stored push acknowledgement is kept as 'rematched' and then
  // applied, so only the applied and duplicate rows are certain.
  CHECK(database.scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'") == "1");
  CHECK(database.scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'duplicate'") == "1");
  CHECK(database.scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'unmatched'") == "0");
}

TEST_CASE("end to end: lost callback leaves the payment pending") {
  EndToEnd e2e;
  const auto public_id = e2e.create("0708374110");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto payment = e2e.server->store().find_by_public_id(public_id);
  REQUIRE(payment.has_value());
  CHECK_MESSAGE(payment->status == PaymentStatus::Pending, "only STK Push Query can settle it");
  CHECK(payment->checkout_request_id.has_value());
  CHECK(PgTestDatabase::instance().event_count() == 0);
}

}  // namespace mpesa::test
