// Group commit: PgPaymentStore::apply_results and the ResultBatcher in front of it.

#include <atomic>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "mpesa/server/result_batcher.hpp"

namespace mpesa::test {
namespace {

using server::CallbackOutcome;

server::ReceivedResult success_for(std::string checkout, std::string receipt, std::int64_t cents = 100) {
  server::ReceivedResult result;
  result.checkout_request_id = std::move(checkout);
  result.merchant_request_id = "29115-34620561-1";
  result.result_code = "0";
  result.result_desc = "The service request is processed successfully.";
  result.status = PaymentStatus::Succeeded;
  result.receipt = std::move(receipt);
  result.paid_amount_cents = cents;
  result.paid_phone = "254708374149";
  result.transaction_time = std::chrono::system_clock::now();
  result.raw_body = R"({"Body":{"note":"quotes \" and \\ and unicode é"}})";
  result.source_address = "196.201.214.200";
  result.received_at = std::chrono::system_clock::now();
  return result;
}

}  // namespace

TEST_CASE("batch: outcomes come back in request order") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  server::PgPaymentStore store(Secret(database.url()), 2);
  database.seed_payment("ws_CO_b", "254708374149", 1);
  database.seed_payment("ws_CO_a", "254708374149", 1);
  database.seed_payment("ws_CO_c", "254708374149", 5);

  const std::vector<server::ReceivedResult> batch = {
      success_for("ws_CO_b", "RCPTB00001"),       success_for("ws_CO_unknown", "RCPTX00001"),
      success_for("ws_CO_a", "RCPTA00001"),       success_for("ws_CO_b", "RCPTB00001"),
      success_for("ws_CO_c", "RCPTC00001", 100),
  };
  const auto applied = store.apply_results(batch);
  REQUIRE_MESSAGE(applied.has_value(), (applied ? "" : applied.error().describe()));
  REQUIRE(applied->size() == batch.size());
  CHECK((*applied)[0].outcome == CallbackOutcome::Applied);
  CHECK((*applied)[0].public_id == "pay_test_ws_CO_b");
  CHECK((*applied)[1].outcome == CallbackOutcome::Unmatched);
  CHECK((*applied)[2].outcome == CallbackOutcome::Applied);
  CHECK((*applied)[2].public_id == "pay_test_ws_CO_a");
  CHECK_MESSAGE((*applied)[3].outcome == CallbackOutcome::Duplicate, "a repeat in the same batch sees the first");
  CHECK((*applied)[4].outcome == CallbackOutcome::AmountMismatch);

  CHECK(database.event_count() == 5);
  CHECK(database.scalar("SELECT raw_body FROM stk_callback_events WHERE checkout_request_id = 'ws_CO_a'") ==
        batch[2].raw_body);
  CHECK(database.scalar("SELECT paid_amount FROM stk_payments WHERE checkout_request_id = 'ws_CO_a'") == "1.00");
  CHECK_FALSE(database.scalar("SELECT transaction_time FROM stk_payments WHERE checkout_request_id = 'ws_CO_a'").empty());
}

TEST_CASE("batch: reused receipt conflicts, others apply") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  server::PgPaymentStore store(Secret(database.url()), 2);
  database.seed_payment("ws_CO_r1", "254708374149", 1);
  database.seed_payment("ws_CO_r2", "254708374149", 1);
  database.seed_payment("ws_CO_r3", "254708374149", 1);
  REQUIRE(store.apply_result(success_for("ws_CO_r1", "RCPTR00001")).has_value());

  const std::vector<server::ReceivedResult> batch = {
      success_for("ws_CO_r2", "RCPTR00001"),  // the receipt of ws_CO_r1
      success_for("ws_CO_r3", "RCPTR00003"),
  };
  const auto applied = store.apply_results(batch);
  REQUIRE_MESSAGE(applied.has_value(), (applied ? "" : applied.error().describe()));
  CHECK((*applied)[0].outcome == CallbackOutcome::Conflict);
  CHECK((*applied)[1].outcome == CallbackOutcome::Applied);
  CHECK((*applied)[1].status == PaymentStatus::Succeeded);
  CHECK(database.scalar("SELECT status FROM stk_payments WHERE checkout_request_id = 'ws_CO_r2'") == "pending");
  CHECK(database.scalar("SELECT mpesa_receipt_number FROM stk_payments WHERE checkout_request_id = 'ws_CO_r3'") ==
        "RCPTR00003");
  CHECK(database.scalar("SELECT string_agg(outcome, ',' ORDER BY id) FROM stk_callback_events "
                        "WHERE checkout_request_id IN ('ws_CO_r2', 'ws_CO_r3')") == "conflict,applied");
  CHECK(database.scalar("SELECT source_address FROM stk_callback_events WHERE checkout_request_id = 'ws_CO_r3'") ==
        "196.201.214.200");
}

TEST_CASE("batch: concurrent duplicates through the batcher apply once") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  auto store = std::make_shared<server::PgPaymentStore>(Secret(database.url()), 4);
  constexpr int kPayments = 40;
  for (int i = 0; i < kPayments; ++i) database.seed_payment(fmt::format("ws_CO_{}", i), "254708374149", 1);
  server::ResultBatcher batcher(store, 16, 3, spdlog::default_logger());

  std::atomic<int> applied{0};
  std::atomic<int> duplicates{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> senders;
  for (int copy = 0; copy < 3; ++copy) {
    for (int i = 0; i < kPayments; ++i) {
      senders.emplace_back([&, i] {
        const auto result = batcher.apply(success_for(fmt::format("ws_CO_{}", i), fmt::format("RCPT{:06}", i)));
        if (!result) ++errors;
        else if (result->outcome == CallbackOutcome::Applied) ++applied;
        else if (result->outcome == CallbackOutcome::Duplicate) ++duplicates;
      });
    }
  }
  for (auto& sender : senders) sender.join();
  CHECK(errors == 0);
  CHECK(applied == kPayments);
  CHECK(duplicates == 2 * kPayments);
  CHECK(database.scalar("SELECT count(*) FROM stk_payments WHERE status = 'succeeded'") == std::to_string(kPayments));
}

TEST_CASE("batch: one bad result does not fail the others") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  // A store whose batch call always fails with a content error, as PostgreSQL would for a
  // value it cannot accept, so the batcher must fall back to one result at a time.
  struct FailingBatchStore : server::PgPaymentStore {
    using PgPaymentStore::PgPaymentStore;
    Result<std::vector<server::AppliedResult>> apply_results(std::span<const server::ReceivedResult>) override {
      Error error;
      error.kind = ErrorKind::Storage;
      error.sqlstate = "22P02";
      error.message = "invalid input syntax";
      return fail(error);
    }
  };
  auto store = std::make_shared<FailingBatchStore>(Secret(database.url()), 2);
  database.seed_payment("ws_CO_one", "254708374149", 1);
  database.seed_payment("ws_CO_two", "254708374149", 1);
  server::ResultBatcher batcher(store, 8, 1, spdlog::default_logger());

  std::vector<std::thread> senders;
  std::atomic<int> applied{0};
  for (const auto* id : {"ws_CO_one", "ws_CO_two"}) {
    senders.emplace_back([&, id] {
      const auto result = batcher.apply(success_for(id, std::string("R") + id));
      if (result && result->outcome == CallbackOutcome::Applied) ++applied;
    });
  }
  for (auto& sender : senders) sender.join();
  CHECK(applied == 2);
}

TEST_CASE("callback: body with invalid UTF-8 is stored as malformed") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  TestServer server(test_config(dir.path() / "spool.log"));
  const std::string body("{\"Body\":\xff\xfe\x00 broken", 18);
  const auto result = server.post_callback(body);
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(database.scalar("SELECT outcome FROM stk_callback_events") == "malformed");
  CHECK(database.scalar("SELECT raw_body FROM stk_callback_events") == "{\"Body\":\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD broken");
  CHECK(server.app().context().spool->backlog() == 0);
}

}  // namespace mpesa::test
