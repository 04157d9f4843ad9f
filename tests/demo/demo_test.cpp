// Runs `mpesa-stk demo` as a user would, against the simulator and a ServerApp started in this
// process, and checks its exit status and its report.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include <doctest/doctest.h>

#include "harness.hpp"
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

/// The simulator and the server that `mpesa-stk demo` talks to.
struct DemoStack {
  DemoStack(bool reconcile, std::chrono::milliseconds late_callback_timeout) {
    PgTestDatabase::instance().reset();
    simulator::SimulatorConfig simulator_config;
    simulator_config.consumer_key = "demo-consumer-key";
    simulator_config.consumer_secret = Secret("demo-consumer-secret");
    simulator_config.answer_delay = std::chrono::milliseconds(100);
    simulator_config.callback_delay = std::chrono::milliseconds(10);
    simulator_config.late_callback_timeout = late_callback_timeout;
    daraja = std::make_unique<simulator::Simulator>(simulator_config, spdlog::default_logger());
    daraja->start();

    auto config = test_config(dir.path() / "spool.log");
    config.reconcile = reconcile;
    config.reconcile_after = std::chrono::seconds(1);
    config.payment_deadline = std::chrono::seconds(120);
    stk = std::make_shared<DeferredStk>();
    server = std::make_unique<TestServer>(std::move(config), stk);

    Config client_config;
    client_config.base_url = daraja->base_url();
    client_config.consumer_key = "demo-consumer-key";
    client_config.consumer_secret = Secret("demo-consumer-secret");
    client_config.shortcode = std::string(simulator::kSandboxShortcode);
    client_config.passkey = Secret(std::string(simulator::kSandboxPasskey));
    client_config.callback_url = callback_url();
    stk->client = std::make_shared<StkClient>(client_config);
  }
  ~DemoStack() {
    server.reset();
    daraja->stop();
  }

  [[nodiscard]] std::string callback_url() const {
    return fmt::format("http://127.0.0.1:{}/mpesa/callback/{}", server->app().callback_port(), kSecretOne);
  }

  TempDir dir;
  std::unique_ptr<simulator::Simulator> daraja;
  std::shared_ptr<DeferredStk> stk;
  std::unique_ptr<TestServer> server;
};

struct DemoRun {
  int exit_status = -1;
  std::string output;
};

// Runs the mpesa-stk binary with `arguments`. Secrets and the database URL go through the
// environment, as scripts/demo passes them.
DemoRun run_demo(const DemoStack& stack, const std::string& arguments) {
  setenv("MPESA_API_KEY", "test-api-key-0123456789", 1);
  setenv("MPESA_DATABASE_URL", PgTestDatabase::instance().url().c_str(), 1);
  setenv("MPESA_CALLBACK_SECRET", std::string(kSecretOne).c_str(), 1);
  const std::string command =
      fmt::format("{} demo --api-url http://127.0.0.1:{} --callback-url {} --samples {}/daraja/callback {} 2>&1",
                  MPESA_STK_BINARY, stack.server->app().api_port(), stack.callback_url(), MPESA_TEST_DATA_DIR,
                  arguments);
  DemoRun run;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (const auto read = fread(buffer.data(), 1, buffer.size(), pipe)) run.output.append(buffer.data(), read);
  const int status = pclose(pipe);
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::size_t count_of(const std::string& text, std::string_view needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

}  // namespace

TEST_CASE("demo settles every outcome and replays every sample") {
  DemoStack stack(true, std::chrono::milliseconds(30000));
  const auto run = run_demo(stack, "--timeout 60");
  INFO(run.output);

  CHECK(run.exit_status == 0);
  CHECK(run.output.find("8 of 8 payments reached the state their outcome implies") != std::string::npos);
  const auto payment_table = run.output.substr(0, run.output.find("payments reached"));
  CHECK(count_of(payment_table, "  yes  ") == 8);
  CHECK(run.output.find("callback applied, callback duplicate") != std::string::npos);
  // The lost callback can only be learnt by query. The late callback races the query result
  // it follows, so either source may settle that payment first.
  CHECK(run.output.find("callback lost       2547*****110      60  succeeded  query") != std::string::npos);
  CHECK(run.output.find("Every sample was handled by the server") != std::string::npos);
  CHECK(count_of(run.output, "  200  applied ") == 11);
  CHECK(run.output.find(std::string(kSecretOne)) == std::string::npos);
}

TEST_CASE("demo fails when a lost callback is never reconciled") {
  // No reconciler, and a late callback held longer than the demo waits: the two payments
  // whose result only a query reveals stay pending.
  DemoStack stack(false, std::chrono::milliseconds(60000));
  const auto run = run_demo(stack, "--timeout 5 --skip-replay");
  INFO(run.output);

  CHECK(run.exit_status == 1);
  CHECK(run.output.find("6 of 8 payments reached the state their outcome implies") != std::string::npos);
  CHECK(count_of(run.output, "expected succeeded, got pending") == 2);
}

TEST_CASE("demo rejects a missing API key before sending anything") {
  DemoStack stack(true, std::chrono::milliseconds(30000));
  const std::string command = fmt::format("env -u MPESA_API_KEY {} demo --api-url http://127.0.0.1:{} 2>&1",
                                          MPESA_STK_BINARY, stack.server->app().api_port());
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  std::array<char, 1024> buffer{};
  while (const auto read = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), read);
  const int status = pclose(pipe);
  INFO(output);

  CHECK(WEXITSTATUS(status) == 2);
  CHECK(output.find("MPESA_API_KEY") != std::string::npos);
  CHECK(PgTestDatabase::instance().payment_count() == 0);
}

}  // namespace mpesa::test
