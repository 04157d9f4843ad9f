// The callback spool: its file format, torn and corrupt lines, and replay across a real
// PostgreSQL restart.

#include <fstream>
#include <thread>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "mpesa/server/spool.hpp"

namespace mpesa::test {
namespace {

server::SpooledEvent event_with_body(std::string body) {
  return server::SpooledEvent{std::move(body), "196.201.214.200",
                              std::chrono::system_clock::time_point(std::chrono::microseconds(1'764'000'000'123'456))};
}

void append_raw(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace

TEST_CASE("spool: line keeps body with newlines and backslashes") {
  const auto event = event_with_body("{\"a\":\"x\\\\y\"}\n\r\nend\\n");
  const auto line = server::encode_spool_line(event);
  CHECK(line.back() == '\n');
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);

  const auto decoded = server::decode_spool_line(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(decoded.has_value());
  CHECK(decoded->raw_body == event.raw_body);
  CHECK(decoded->source_address == event.source_address);
  CHECK(decoded->received_at == event.received_at);
}

TEST_CASE("spool: changed byte fails the checksum") {
  auto line = server::encode_spool_line(event_with_body("{\"ResultCode\":0}"));
  line.pop_back();
  line[line.size() - 3] = 'X';
  CHECK_FALSE(server::decode_spool_line(line).has_value());
}

TEST_CASE("spool: torn last line is cut off at open") {
  TempDir dir;
  const auto path = dir.path() / "spool.log";
  append_raw(path, server::encode_spool_line(event_with_body("first")));
  const auto second = server::encode_spool_line(event_with_body("second"));
  append_raw(path, second.substr(0, second.size() / 2));

  server::Spool spool(path);
  CHECK(spool.backlog() == 1);
  REQUIRE(spool.append(event_with_body("third")).has_value());
  CHECK(spool.backlog() == 2);

  std::vector<std::string> bodies;
  const auto replayed = spool.replay([&](const server::SpooledEvent& event) -> Result<void> {
    bodies.push_back(event.raw_body);
    return {};
  });
  REQUIRE(replayed.has_value());
  CHECK(*replayed == 2);
  CHECK(bodies == std::vector<std::string>{"first", "third"});
  CHECK(spool.backlog() == 0);
  CHECK(std::filesystem::file_size(path) == 0);
}

TEST_CASE("spool: replay stops at the first failure and keeps the rest") {
  TempDir dir;
  server::Spool spool(dir.path() / "spool.log");
  for (const auto* body : {"one", "two", "three"}) REQUIRE(spool.append(event_with_body(body)).has_value());

  int calls = 0;
  const auto replayed = spool.replay([&](const server::SpooledEvent& event) -> Result<void> {
    ++calls;
    if (event.raw_body == "two") {
      Error error;
      error.kind = ErrorKind::Storage;
      error.message = "database unreachable";
      return fail(error);
    }
    return {};
  });
  REQUIRE(replayed.has_value());
  CHECK(*replayed == 1);
  CHECK(calls == 2);
  CHECK(spool.backlog() == 2);

  std::vector<std::string> bodies;
  REQUIRE(spool.replay([&](const server::SpooledEvent& event) -> Result<void> {
    bodies.push_back(event.raw_body);
    return {};
  }).has_value());
  CHECK(bodies == std::vector<std::string>{"two", "three"});
}

TEST_CASE("spool: corrupt line in the middle is skipped") {
  TempDir dir;
  const auto path = dir.path() / "spool.log";
  append_raw(path, server::encode_spool_line(event_with_body("good")));
  append_raw(path, "0000000000000000 garbage line\n");
  append_raw(path, server::encode_spool_line(event_with_body("also good")));
  server::Spool spool(path);
  CHECK(spool.backlog() == 2);

  std::vector<std::string> bodies;
  REQUIRE(spool.replay([&](const server::SpooledEvent& event) -> Result<void> {
    bodies.push_back(event.raw_body);
    return {};
  }).has_value());
  CHECK(bodies == std::vector<std::string>{"good", "also good"});
  CHECK(spool.corrupt_lines() == 1);
}

TEST_CASE("spool: callbacks survive a database restart") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  REQUIRE_MESSAGE(std::getenv("MPESA_TEST_PG_BIN") != nullptr,
                  "MPESA_TEST_PG_BIN and MPESA_TEST_PG_DATA must name the test cluster (scripts/test sets them)");
  const auto public_id = database.seed_payment("ws_CO_191220191020363925", "254708374149", 1);
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));
  const auto success = read_test_file("daraja/callback/01-docs-success-4-items-no-balance-amount-1.00.json");
  const auto unmatched = read_test_file("daraja/callback/02-docs-1032-cancelled-uuidlike-ids.json");

  REQUIRE(PgTestDatabase::stop_cluster());
  // Brings the cluster back even when a check below fails, for the tests that follow.
  struct RestartOnExit {
    bool restarted = false;
    ~RestartOnExit() {
      if (!restarted) PgTestDatabase::start_cluster();
    }
  } restart_on_exit;

  const auto first = server.post_callback(success);
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->body == server::kCallbackAccepted);
  const auto second = server.post_callback(unmatched);
  REQUIRE(second);
  CHECK(second->status == 200);
  CHECK(server.app().context().spool->backlog() == 2);

  auto api = server.api_client();
  const auto ready = api.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 503);
  CHECK(ready->body.find(R"("spool_backlog":2)") != std::string::npos);
  CHECK(ready->body.find(R"("database":"unreachable")") != std::string::npos);

  restart_on_exit.restarted = PgTestDatabase::start_cluster();
  REQUIRE(restart_on_exit.restarted);
  CHECK_MESSAGE(wait_until([&] { return server.app().context().spool->backlog() == 0; }, std::chrono::seconds(20)),
                "the replayer must drain the spool once PostgreSQL is back");

  const auto payment = server.store().find_by_public_id(public_id);
  REQUIRE(payment.has_value());
  CHECK(payment->status == PaymentStatus::Succeeded);
  CHECK(database.scalar("SELECT string_agg(outcome, ',' ORDER BY id) FROM stk_callback_events") == "applied,unmatched");
  CHECK(std::filesystem::file_size(dir.path() / "spool.log") == 0);
  CHECK(server.log_text().find("replayed 2 spooled callbacks") != std::string::npos);
}

}  // namespace mpesa::test
