// The reconciler against PostgreSQL with scripted STK Push Query answers, and end to end
// against the simulator with a callback that never comes.

#include <doctest/doctest.h>

#include <future>

#include "harness.hpp"
#include "mpesa/server/reconciler.hpp"
#include "mpesa/simulator/simulator.hpp"
#include "scripted_stk.hpp"

namespace mpesa::test {
namespace {

QueryResult query_sample(int http_status, const std::string& file) {
  auto parsed = parse_query_result(http_status, read_test_file("daraja/stkquery/" + file));
  REQUIRE_MESSAGE(parsed.has_value(), file);
  return *parsed;
}

Result<QueryResult> query_error_sample(int http_status, const std::string& file) {
  return parse_query_result(http_status, read_test_file("daraja/stkquery/" + file));
}

QueryResult final_answer(const std::string& checkout_request_id, const std::string& result_code) {
  QueryResult answer;
  answer.checkout_request_id = checkout_request_id;
  answer.response_code = "0";
  answer.result_code = result_code;
  answer.result_desc = "scripted";
  return answer;
}

Error error_of(ErrorKind kind, int http_status) {
  Error error;
  error.kind = kind;
  error.http_status = http_status;
  error.message = "scripted";
  return error;
}

struct ReconcileFixture {
  ReconcileFixture() {
    PgTestDatabase::instance().reset();
    store = std::make_shared<server::PgPaymentStore>(Secret(PgTestDatabase::instance().url()), 2);
    stk = std::make_shared<ScriptedStk>();
    logger->set_level(spdlog::level::debug);
  }

  // A pending payment already due for its first query.
  std::string seed_due(const std::string& checkout_request_id) const {
    auto public_id = PgTestDatabase::instance().seed_payment(checkout_request_id, "254708374149", 1);
    make_due(public_id);
    return public_id;
  }
  static void make_due(const std::string& public_id) {
    PgTestDatabase::instance().execute(fmt::format(
        "UPDATE stk_payments SET next_reconcile_at = now() - interval '1 second' WHERE public_id = '{}'", public_id));
  }
  static std::string column(const std::string& public_id, const std::string& name) {
    return PgTestDatabase::instance().scalar(
        fmt::format("SELECT {}::text FROM stk_payments WHERE public_id = '{}'", name, public_id));
  }

  server::Reconciler make_reconciler(server::ReconcilerSettings settings = {}) {
    return server::Reconciler(store, stk, settings, logger);
  }

  std::ostringstream log_stream;
  std::shared_ptr<spdlog::logger> logger =
      std::make_shared<spdlog::logger>("reconciler-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream));
  std::shared_ptr<server::PgPaymentStore> store;
  std::shared_ptr<ScriptedStk> stk;
};

}  // namespace

TEST_CASE("final query result settles payment") {
  ReconcileFixture fixture;
  const std::string checkout = "ws_CO_13012021093521236557";
  const auto public_id = fixture.seed_due(checkout);
  fixture.stk->script(checkout, query_sample(200, "01-docs-success-resultcode-string.json"));

  auto reconciler = fixture.make_reconciler();
  const auto pass = reconciler.run_once();
  CHECK(pass.claimed == 1);
  CHECK(pass.queried == 1);
  CHECK(pass.settled == 1);
  CHECK(ReconcileFixture::column(public_id, "status") == "succeeded");
  CHECK(ReconcileFixture::column(public_id, "learnt_via") == "query");
  CHECK(ReconcileFixture::column(public_id, "next_reconcile_at").empty());
  CHECK(PgTestDatabase::instance().scalar("SELECT source || ':' || outcome FROM stk_callback_events") == "query:applied");

  // Settled payments are not asked about again.
  CHECK(reconciler.run_once().queried == 0);
  CHECK(fixture.stk->total() == 1);
}

TEST_CASE("a cancelled answer from the query settles as cancelled") {
  ReconcileFixture fixture;
  const std::string checkout = "ws_CO_cancelled_1";
  const auto public_id = fixture.seed_due(checkout);
  fixture.stk->script(checkout, final_answer(checkout, "1032"));
  auto reconciler = fixture.make_reconciler();
  CHECK(reconciler.run_once().settled == 1);
  CHECK(ReconcileFixture::column(public_id, "status") == "cancelled");
}

TEST_CASE("being processed reschedules with backoff") {
  ReconcileFixture fixture;
  const std::string error_form = "ws_CO_20022018230142206";
  const std::string code_form = "ws_CO_4999_form";
  const auto first = fixture.seed_due(error_form);
  const auto second = fixture.seed_due(code_form);
  fixture.stk->script(error_form, query_sample(500, "05-being-processed-500.001.1001-requestid-is-checkoutid.json"));
  QueryResult pending_4999;
  pending_4999.pending = true;
  pending_4999.result_desc = "The transaction is being processed";
  fixture.stk->script(code_form, pending_4999);

  server::ReconcilerSettings settings;
  settings.reconcile_after = std::chrono::seconds(30);
  auto reconciler = fixture.make_reconciler(settings);
  const auto pass = reconciler.run_once();
  CHECK(pass.still_pending == 2);
  CHECK(pass.settled == 0);
  for (const auto& id : {first, second}) {
    CHECK(ReconcileFixture::column(id, "status") == "pending");
    CHECK(ReconcileFixture::column(id, "reconcile_attempts") == "1");
    // Next question 30 s on: between 20 and 40 s from now.
    const auto delay = PgTestDatabase::instance().scalar(fmt::format(
        "SELECT extract(epoch FROM next_reconcile_at - now())::int FROM stk_payments WHERE public_id = '{}'", id));
    CHECK(std::stoi(delay) > 20);
    CHECK(std::stoi(delay) <= 30);
  }
  CHECK(PgTestDatabase::instance().event_count() == 0);
  // Not due yet: the next pass asks nothing.
  CHECK(reconciler.run_once().queried == 0);
}

TEST_CASE("backoff doubles with each attempt and stops at the deadline") {
  ReconcileFixture fixture;
  const std::string checkout = "ws_CO_backoff";
  const auto public_id = fixture.seed_due(checkout);
  PgTestDatabase::instance().execute(fmt::format(
      "UPDATE stk_payments SET reconcile_attempts = 2, deadline_at = now() + interval '45 seconds' "
      "WHERE public_id = '{}'", public_id));
  QueryResult pending;
  pending.pending = true;
  fixture.stk->script(checkout, pending);
  server::ReconcilerSettings settings;
  settings.reconcile_after = std::chrono::seconds(10);
  auto reconciler = fixture.make_reconciler(settings);
  (void)reconciler.run_once();
  // Third attempt: 10 × 2² = 40 s; below the 45 s deadline.
  auto delay = std::stoi(PgTestDatabase::instance().scalar(fmt::format(
      "SELECT extract(epoch FROM next_reconcile_at - now())::int FROM stk_payments WHERE public_id = '{}'", public_id)));
  CHECK(delay > 30);
  CHECK(delay <= 40);

  ReconcileFixture::make_due(public_id);
  (void)reconciler.run_once();
  // Fourth attempt would be 80 s; the deadline comes first.
  CHECK(PgTestDatabase::instance().scalar(fmt::format(
            "SELECT next_reconcile_at = deadline_at FROM stk_payments WHERE public_id = '{}'", public_id)) == "t");
}

TEST_CASE("spike arrest, 5xx and 'does not exist' never settle a payment") {
  ReconcileFixture fixture;
  const std::string checkout = "ws_CO_transient";
  const auto public_id = fixture.seed_due(checkout);
  fixture.stk->script(checkout, fail(error_of(ErrorKind::RateLimited, 429)));
  fixture.stk->script(checkout, fail(error_of(ErrorKind::Unavailable, 503)));
  const auto not_found = query_error_sample(500, "08-unknown-checkoutid-does-not-exist-http500.partial.json");
  REQUIRE_FALSE(not_found.has_value());
  CHECK(not_found.error().kind == ErrorKind::NotFound);
  fixture.stk->script(checkout, not_found);

  // Spike arrest empties the query pacer; a fast refill lets the next pass ask at once.
  server::ReconcilerSettings settings;
  settings.query_rate = 1000;
  auto reconciler = fixture.make_reconciler(settings);
  int errors = 0;
  for (int pass = 0; pass < 3; ++pass) {
    ReconcileFixture::make_due(public_id);
    errors += reconciler.run_once().transient_errors;
    CHECK(ReconcileFixture::column(public_id, "status") == "pending");
  }
  CHECK(errors == 3);
  CHECK(fixture.stk->queries(checkout) == 3);
  CHECK(PgTestDatabase::instance().event_count() == 0);
  CHECK(ReconcileFixture::column(public_id, "reconcile_attempts") == "3");
}

TEST_CASE("spike arrest stops the pass and leaves the other payments due") {
  ReconcileFixture fixture;
  for (int i = 0; i < 3; ++i) {
    const auto checkout = fmt::format("ws_CO_spike_{}", i);
    fixture.seed_due(checkout);
    fixture.stk->script(checkout, fail(error_of(ErrorKind::RateLimited, 429)));
  }
  server::ReconcilerSettings settings;
  settings.query_rate = 0.001;
  settings.query_burst = 10;
  auto reconciler = fixture.make_reconciler(settings);
  const auto pass = reconciler.run_once();
  CHECK(pass.claimed == 3);
  CHECK(pass.queried == 1);
  CHECK(fixture.stk->total() == 1);
  CHECK(PgTestDatabase::instance().scalar(
            "SELECT count(*) FROM stk_payments WHERE status = 'pending' AND next_reconcile_at <= now()") == "2");
  CHECK(reconciler.run_once().queried == 0);
}

TEST_CASE("deadline times out, later success wins") {
  ReconcileFixture fixture;
  const std::string checkout = "ws_CO_191220191020363925";
  const auto public_id = fixture.seed_due(checkout);
  PgTestDatabase::instance().execute(fmt::format(
      "UPDATE stk_payments SET deadline_at = now() - interval '1 second' WHERE public_id = '{}'", public_id));
  QueryResult pending;
  pending.pending = true;
  fixture.stk->script(checkout, pending);

  auto reconciler = fixture.make_reconciler();
  const auto pass = reconciler.run_once();
  CHECK(pass.queried == 1);
  CHECK(pass.timed_out == 1);
  CHECK(ReconcileFixture::column(public_id, "status") == "timed_out");
  CHECK(ReconcileFixture::column(public_id, "learnt_via") == "deadline");
  CHECK(ReconcileFixture::column(public_id, "result_desc").find("timed the payment out") != std::string::npos);

  const auto callback = parse_stk_callback(
      read_test_file("daraja/callback/01-docs-success-4-items-no-balance-amount-1.00.json"));
  REQUIRE(callback);
  const auto late = fixture.store->apply_result(
      server::ReceivedResult::from_callback(*callback, "{}", "127.0.0.1", std::chrono::system_clock::now()));
  REQUIRE(late);
  CHECK(late->outcome == server::CallbackOutcome::LateSuccess);
  CHECK(ReconcileFixture::column(public_id, "status") == "succeeded");
}

TEST_CASE("payment without checkout id never queried") {
  ReconcileFixture fixture;
  const auto public_id = fixture.seed_due("ws_CO_unknown_push");
  PgTestDatabase::instance().execute(fmt::format(
      "UPDATE stk_payments SET checkout_request_id = NULL, outcome_unknown = true WHERE public_id = '{}'", public_id));
  auto reconciler = fixture.make_reconciler();
  CHECK(reconciler.run_once().queried == 0);
  CHECK(ReconcileFixture::column(public_id, "status") == "pending");
  CHECK(PgTestDatabase::instance().scalar(fmt::format(
            "SELECT next_reconcile_at = deadline_at FROM stk_payments WHERE public_id = '{}'", public_id)) == "t");

  PgTestDatabase::instance().execute(fmt::format(
      "UPDATE stk_payments SET deadline_at = now() - interval '1 second' WHERE public_id = '{}'", public_id));
  CHECK(reconciler.run_once().timed_out == 1);
  CHECK(ReconcileFixture::column(public_id, "status") == "timed_out");
  CHECK(fixture.stk->total() == 0);
}

TEST_CASE("two reconcilers never share a payment") {
  ReconcileFixture fixture;
  std::vector<std::string> checkouts;
  for (int i = 0; i < 20; ++i) {
    checkouts.push_back(fmt::format("ws_CO_shared_{:02}", i));
    fixture.seed_due(checkouts.back());
    QueryResult pending;
    pending.pending = true;
    fixture.stk->script(checkouts.back(), pending);
  }
  fixture.stk->set_query_delay(std::chrono::milliseconds(20));
  server::ReconcilerSettings settings;
  settings.batch_size = 10;
  settings.query_burst = 100;
  auto other_store = std::make_shared<server::PgPaymentStore>(Secret(PgTestDatabase::instance().url()), 2);
  server::Reconciler first(fixture.store, fixture.stk, settings, fixture.logger);
  server::Reconciler second(other_store, fixture.stk, settings, fixture.logger);

  for (int round = 0; round < 2; ++round) {
    auto a = std::async(std::launch::async, [&] { return first.run_once(); });
    auto b = std::async(std::launch::async, [&] { return second.run_once(); });
    const auto pass_a = a.get();
    const auto pass_b = b.get();
    CHECK(pass_a.queried + pass_b.queried == 20);
    PgTestDatabase::instance().execute("UPDATE stk_payments SET next_reconcile_at = now() - interval '1 second'");
  }
  CHECK_FALSE(fixture.stk->overlapped());
  for (const auto& checkout : checkouts) CHECK(fixture.stk->queries(checkout) == 2);
}

TEST_CASE("the query pacer caps how many payments one pass asks about") {
  ReconcileFixture fixture;
  for (int i = 0; i < 10; ++i) {
    const auto checkout = fmt::format("ws_CO_paced_{:02}", i);
    fixture.seed_due(checkout);
    QueryResult pending;
    pending.pending = true;
    fixture.stk->script(checkout, pending);
  }
  server::ReconcilerSettings settings;
  settings.query_rate = 0.001;
  settings.query_burst = 3;
  auto reconciler = fixture.make_reconciler(settings);
  const auto first = reconciler.run_once();
  CHECK(first.queried == 3);
  CHECK(first.claimed == 3);
  CHECK(reconciler.run_once().queried == 0);
  CHECK(fixture.stk->total() == 3);
  // The seven not asked are still due, untouched by any claim.
  CHECK(PgTestDatabase::instance().scalar(
            "SELECT count(*) FROM stk_payments WHERE next_reconcile_at <= now() AND reconcile_attempts = 0") == "7");
}

TEST_CASE("log lines name payments by shortened ids only") {
  ReconcileFixture fixture;
  const std::string checkout = "ws_CO_191220191020363925";
  const auto public_id = fixture.seed_due(checkout);
  fixture.stk->script(checkout, final_answer(checkout, "0"));
  auto reconciler = fixture.make_reconciler();
  (void)reconciler.run_once();
  fixture.logger->flush();
  const auto log = fixture.log_stream.str();
  INFO(log);
  CHECK(log.find("ResultCode 0") != std::string::npos);
  CHECK(log.find(checkout) == std::string::npos);
  CHECK(log.find(public_id) == std::string::npos);
  CHECK(log.find("254708374149") == std::string::npos);
}

}  // namespace mpesa::test
