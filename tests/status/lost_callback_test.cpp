// End to end: the public checkout route pushes through the real StkClient to the in-process
// simulator, which drops the callback; the reconciler inside the server settles the payment
// by STK Push Query, and a long poll sees it succeed.

#include <doctest/doctest.h>

#include "harness.hpp"
#include "mpesa/server/reconciler.hpp"
#include "mpesa/server/status_api.hpp"
#include "mpesa/simulator/simulator.hpp"

namespace mpesa::test {
namespace {

/// Forwards to a client created once the callback port, and so the callback URL, is known.
class DeferredStk : public StkApi {
 public:
  Result<PushAck> push(const PushRequest& request) override { return client->push(request); }
  Result<QueryResult> query(std::string_view id) override { return client->query(id); }
  std::shared_ptr<StkClient> client;
};

std::string json_string(const std::string& body, const std::string& key) {
  const auto marker = "\"" + key + "\":\"";
  const auto start = body.find(marker);
  if (start == std::string::npos) return "";
  const auto from = start + marker.size();
  return body.substr(from, body.find('"', from) - from);
}

struct CheckoutFlow {
  CheckoutFlow() {
    PgTestDatabase::instance().reset();
    simulator::SimulatorConfig simulator_config;
    simulator_config.consumer_key = "status-consumer-key";
    simulator_config.consumer_secret = Secret("status-consumer-secret");
    simulator_config.answer_delay = std::chrono::milliseconds(100);
    simulator_config.callback_delay = std::chrono::milliseconds(10);
    daraja = std::make_unique<simulator::Simulator>(simulator_config, spdlog::default_logger());
    daraja->start();

    auto config = test_config(dir.path() / "spool.log");
    config.public_checkout = true;
    config.reconcile_after = std::chrono::seconds(1);
    config.payment_deadline = std::chrono::seconds(60);
    stk = std::make_shared<DeferredStk>();
    server = std::make_unique<TestServer>(std::move(config), stk);

    Config client_config;
    client_config.base_url = daraja->base_url();
    client_config.consumer_key = "status-consumer-key";
    client_config.consumer_secret = Secret("status-consumer-secret");
    client_config.shortcode = std::string(simulator::kSandboxShortcode);
    client_config.passkey = Secret(std::string(simulator::kSandboxPasskey));
    client_config.callback_url =
        fmt::format("http://127.0.0.1:{}/mpesa/callback/{}", server->app().callback_port(), kSecretOne);
    stk->client = std::make_shared<StkClient>(client_config);
  }
  ~CheckoutFlow() {
    server.reset();
    daraja->stop();
  }

  // Polls with wait=5 until the payment is final or 30 s pass; returns the last body.
  std::string poll_until_final(const std::string& public_id) const {
    auto client = server->api_client();
    client.set_read_timeout(15, 0);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string body;
    while (std::chrono::steady_clock::now() < until) {
      const auto result = client.Get("/api/payments/" + public_id + "?wait=5");
      REQUIRE(result);
      REQUIRE(result->status == 200);
      body = result->body;
      if (json_string(body, "status") != "pending") break;
    }
    return body;
  }

  TempDir dir;
  std::unique_ptr<simulator::Simulator> daraja;
  std::shared_ptr<DeferredStk> stk;
  std::unique_ptr<TestServer> server;
};

}  // namespace

TEST_CASE("lost callback settled by reconciler") {
  CheckoutFlow flow;
  REQUIRE(flow.server->app().reconciler() != nullptr);
  auto client = flow.server->api_client();
  // The simulator's phone ending in 10 pays but never sends the callback.
  const auto created = client.Post("/api/checkout", {{"Accept-Language", "sw"}},
                                   R"({"phone":"0708374110","amount":15})", "application/json");
  REQUIRE(created);
  REQUIRE_MESSAGE(created->status == 201, created->body);
  CHECK(json_string(created->body, "status") == "pending");
  CHECK(json_string(created->body, "language") == "sw");
  CHECK(json_string(created->body, "account_reference") == "Checkout");
  const auto public_id = json_string(created->body, "id");
  REQUIRE(public_id.starts_with("pay_"));

  const auto body = flow.poll_until_final(public_id);
  INFO(body);
  CHECK(json_string(body, "status") == "succeeded");
  CHECK(PgTestDatabase::instance().scalar(
            fmt::format("SELECT learnt_via FROM stk_payments WHERE public_id = '{}'", public_id)) == "query");
  const auto pushes = flow.daraja->pushes();
  REQUIRE(pushes.size() == 1);
  CHECK(pushes[0].callback_state == "withheld");
  CHECK(pushes[0].callbacks_delivered == 0);
}

TEST_CASE("a cancelled checkout settles by callback with the cancelled message") {
  CheckoutFlow flow;
  auto client = flow.server->api_client();
  const auto created =
      client.Post("/api/checkout", R"({"phone":"0708374102","amount":15,"account_reference":"INV-7"})", "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);
  const auto body = flow.poll_until_final(json_string(created->body, "id"));
  CHECK(json_string(body, "status") == "cancelled");
  CHECK(json_string(body, "reason") == "cancelled");
  CHECK(json_string(body, "account_reference") == "INV-7");
}

TEST_CASE("the checkout route checks its input and its content type") {
  CheckoutFlow flow;
  auto client = flow.server->api_client();
  const auto bad_phone = client.Post("/api/checkout", R"({"phone":"12345","amount":15})", "application/json");
  REQUIRE(bad_phone);
  CHECK(bad_phone->status == 422);
  CHECK(json_string(bad_phone->body, "field") == "phone");
  const auto bad_amount = client.Post("/api/checkout", R"({"phone":"0708374149","amount":0})", "application/json");
  REQUIRE(bad_amount);
  CHECK(bad_amount->status == 422);
  CHECK(json_string(bad_amount->body, "field") == "amount");
  const auto form = client.Post("/api/checkout", "phone=0708374149&amount=15", "application/x-www-form-urlencoded");
  REQUIRE(form);
  CHECK(form->status == 415);
  CHECK(PgTestDatabase::instance().payment_count() == 0);
}

}  // namespace mpesa::test
