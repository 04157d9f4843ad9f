// PgPaymentStore against a real PostgreSQL: creating payments, applying results from
// callbacks and queries, and the reconciler's queries.

#include <atomic>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include "harness.hpp"
#include "mpesa/server/migrations.hpp"

namespace mpesa::test {
namespace {

using server::CallbackOutcome;
using server::LearntVia;
using server::ReceivedResult;

constexpr std::string_view kPhone = "254708374149";

server::PgPaymentStore make_store(std::shared_ptr<server::StatusNotifier> notifier = nullptr) {
  auto& database = PgTestDatabase::instance();
  database.reset();
  return server::PgPaymentStore(Secret(database.url()), 4, std::move(notifier));
}

ReceivedResult success(std::string_view checkout, std::int64_t cents = 100, std::string_view phone = kPhone,
                       std::string_view receipt = "NLJ4QK8ZWA") {
  ReceivedResult result;
  result.source = LearntVia::Callback;
  result.checkout_request_id = checkout;
  result.merchant_request_id = "29115-34620561-1";
  result.result_code = "0";
  result.result_desc = "The service request is processed successfully.";
  result.status = PaymentStatus::Succeeded;
  result.receipt = std::string(receipt);
  result.paid_amount_cents = cents;
  result.paid_phone = std::string(phone);
  result.raw_body = "{}";
  result.source_address = "127.0.0.1";
  result.received_at = std::chrono::system_clock::now();
  return result;
}

ReceivedResult failure(std::string_view checkout, std::string_view code, PaymentStatus status,
                       LearntVia source = LearntVia::Callback) {
  ReceivedResult result;
  result.source = source;
  result.checkout_request_id = checkout;
  result.result_code = code;
  result.result_desc = "failed";
  result.status = status;
  result.raw_body = "{}";
  result.received_at = std::chrono::system_clock::now();
  return result;
}

server::NewPayment new_payment(std::optional<std::string> key = std::nullopt) {
  const auto now = std::chrono::system_clock::now();
  server::NewPayment payment;
  payment.idempotency_key = std::move(key);
  payment.account_reference = "INV-42";
  payment.description = "Payment";
  payment.phone = std::string(kPhone);
  payment.amount = 10;
  payment.shortcode = "174379";
  payment.transaction_type = "CustomerPayBillOnline";
  payment.next_reconcile_at = now + std::chrono::seconds(30);
  payment.deadline_at = now + std::chrono::seconds(600);
  return payment;
}

}  // namespace

TEST_CASE("migrations: running again applies nothing") {
  auto& database = PgTestDatabase::instance();
  const auto again = server::apply_migrations(Secret(database.url()));
  REQUIRE(again.has_value());
  CHECK(again->applied.empty());
  CHECK(again->version == server::latest_migration_version());
  CHECK(database.scalar("SELECT count(*) FROM schema_migrations") ==
        std::to_string(server::embedded_migrations().size()));
}

TEST_CASE("migrations: two processes at once apply each file once") {
  auto& database = PgTestDatabase::instance();
  // A second fresh database, migrated from two threads with separate sessions at once.
  const auto name = fmt::format("mpesa_test_concurrent_{}", getpid());
  {
    pqxx::connection admin(database.url());
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + name);
    tx.exec("CREATE DATABASE " + name);
  }
  const auto url = with_database(database.url(), name);
  Result<server::MigrationReport> first;
  Result<server::MigrationReport> second;
  std::thread a([&] { first = server::apply_migrations(Secret(url)); });
  std::thread b([&] { second = server::apply_migrations(Secret(url)); });
  a.join();
  b.join();
  REQUIRE_MESSAGE(first.has_value(), (first ? "" : first.error().describe()));
  REQUIRE_MESSAGE(second.has_value(), (second ? "" : second.error().describe()));
  CHECK(first->applied.size() + second->applied.size() == server::embedded_migrations().size());

  pqxx::connection admin(database.url());
  pqxx::nontransaction tx(admin);
  tx.exec("DROP DATABASE " + name + " WITH (FORCE)");
}

TEST_CASE("store: create payment with idempotency key returns the first") {
  auto store = make_store();
  const auto first = store.create_payment(new_payment("order-17"));
  REQUIRE(first.has_value());
  CHECK(first->created);
  CHECK(first->payment.public_id.starts_with("pay_"));
  CHECK(first->payment.public_id.size() == 36);
  CHECK(first->payment.status == PaymentStatus::Pending);

  const auto second = store.create_payment(new_payment("order-17"));
  REQUIRE(second.has_value());
  CHECK_FALSE(second->created);
  CHECK(second->payment.public_id == first->payment.public_id);
  CHECK(PgTestDatabase::instance().payment_count() == 1);
}

TEST_CASE("store: callback success settles a pending payment") {
  auto notifier = std::make_shared<server::StatusNotifier>();
  auto store = make_store(notifier);
  const auto public_id = PgTestDatabase::instance().seed_payment("ws_CO_1", kPhone, 1);
  auto subscription = notifier->subscribe(public_id);

  const auto applied = store.apply_result(success("ws_CO_1"));
  REQUIRE(applied.has_value());
  CHECK(applied->outcome == CallbackOutcome::Applied);
  CHECK(applied->status == PaymentStatus::Succeeded);
  CHECK(applied->status_changed);
  CHECK_MESSAGE(subscription.wait_for(std::chrono::milliseconds(0)), "the notifier must be told");

  const auto payment = store.find_by_public_id(public_id);
  REQUIRE(payment.has_value());
  CHECK(payment->status == PaymentStatus::Succeeded);
  CHECK(payment->receipt == "NLJ4QK8ZWA");
  CHECK(payment->paid_amount_cents == 100);
  CHECK(payment->learnt_via == LearntVia::Callback);
  CHECK(payment->completed_at.has_value());
  CHECK_FALSE(payment->next_reconcile_at.has_value());
}

TEST_CASE("store: repeated callback is a duplicate and changes nothing") {
  auto store = make_store();
  PgTestDatabase::instance().seed_payment("ws_CO_2", kPhone, 1);
  REQUIRE(store.apply_result(success("ws_CO_2")).has_value());
  const auto before = PgTestDatabase::instance().scalar("SELECT updated_at FROM stk_payments");

  const auto again = store.apply_result(success("ws_CO_2"));
  REQUIRE(again.has_value());
  CHECK(again->outcome == CallbackOutcome::Duplicate);
  CHECK_FALSE(again->status_changed);
  CHECK(PgTestDatabase::instance().scalar("SELECT updated_at FROM stk_payments") == before);
  CHECK(PgTestDatabase::instance().event_count() == 2);
}

TEST_CASE("store: concurrent duplicates apply exactly once") {
  auto store = make_store();
  PgTestDatabase::instance().seed_payment("ws_CO_3", kPhone, 1);
  constexpr int kThreads = 8;
  std::atomic<int> applied{0};
  std::atomic<int> duplicates{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      const auto result = store.apply_result(success("ws_CO_3"));
      if (!result) ++errors;
      else if (result->outcome == CallbackOutcome::Applied) ++applied;
      else if (result->outcome == CallbackOutcome::Duplicate) ++duplicates;
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(errors == 0);
  CHECK(applied == 1);
  CHECK(duplicates == kThreads - 1);
  CHECK(PgTestDatabase::instance().scalar("SELECT count(*) FROM stk_callback_events WHERE outcome = 'applied'") == "1");
}

TEST_CASE("store: unknown CheckoutRequestID is unmatched") {
  auto store = make_store();
  PgTestDatabase::instance().seed_payment("ws_CO_known", kPhone, 1);
  const auto result = store.apply_result(success("ws_CO_unknown"));
  REQUIRE(result.has_value());
  CHECK(result->outcome == CallbackOutcome::Unmatched);
  CHECK_FALSE(result->public_id.has_value());
  CHECK(PgTestDatabase::instance().scalar("SELECT status FROM stk_payments") == "pending");
  CHECK(PgTestDatabase::instance().scalar("SELECT payment_id IS NULL FROM stk_callback_events") == "t");
}

TEST_CASE("store: amount or phone mismatch changes no payment") {
  auto store = make_store();
  auto& database = PgTestDatabase::instance();
  database.seed_payment("ws_CO_4", kPhone, 10);

  const auto amount = store.apply_result(success("ws_CO_4", 100));
  REQUIRE(amount.has_value());
  CHECK(amount->outcome == CallbackOutcome::AmountMismatch);

  const auto phone = store.apply_result(success("ws_CO_4", 1000, "254700000009"));
  REQUIRE(phone.has_value());
  CHECK(phone->outcome == CallbackOutcome::PhoneMismatch);

  CHECK(database.scalar("SELECT status FROM stk_payments") == "pending");
  CHECK(database.scalar("SELECT mpesa_receipt_number FROM stk_payments").empty());
  CHECK(database.event_count() == 2);
}

TEST_CASE("store: cancelled then success is a conflict") {
  auto store = make_store();
  PgTestDatabase::instance().seed_payment("ws_CO_5", kPhone, 1);
  REQUIRE(store.apply_result(failure("ws_CO_5", "1032", PaymentStatus::Cancelled)).has_value());
  const auto late = store.apply_result(success("ws_CO_5"));
  REQUIRE(late.has_value());
  CHECK_MESSAGE(late->outcome == CallbackOutcome::Conflict,
                "a callback-set final state only changes for a reconciler-set failure");
  CHECK(PgTestDatabase::instance().scalar("SELECT status FROM stk_payments") == "cancelled");
}

TEST_CASE("store: success after reconciler timeout wins as late_success") {
  auto store = make_store();
  auto& database = PgTestDatabase::instance();
  database.seed_payment("ws_CO_6", kPhone, 1);
  const auto id = std::stoll(database.scalar("SELECT id FROM stk_payments"));
  const auto timed_out = store.time_out_payment(id, "No result before the payment deadline");
  REQUIRE(timed_out.has_value());
  CHECK(*timed_out);
  CHECK(database.scalar("SELECT learnt_via FROM stk_payments") == "deadline");

  const auto late = store.apply_result(success("ws_CO_6"));
  REQUIRE(late.has_value());
  CHECK(late->outcome == CallbackOutcome::LateSuccess);
  CHECK(late->status == PaymentStatus::Succeeded);
  CHECK(database.scalar("SELECT status FROM stk_payments") == "succeeded");
}

TEST_CASE("store: query failure then callback success is late_success") {
  auto store = make_store();
  auto& database = PgTestDatabase::instance();
  database.seed_payment("ws_CO_7", kPhone, 1);
  const auto queried = store.apply_result(failure("ws_CO_7", "1037", PaymentStatus::TimedOut, LearntVia::Query));
  REQUIRE(queried.has_value());
  CHECK(queried->outcome == CallbackOutcome::Applied);
  CHECK(database.scalar("SELECT learnt_via FROM stk_payments") == "query");

  const auto late = store.apply_result(success("ws_CO_7"));
  REQUIRE(late.has_value());
  CHECK(late->outcome == CallbackOutcome::LateSuccess);
  CHECK(database.scalar("SELECT learnt_via FROM stk_payments") == "callback");
}

TEST_CASE("store: callback fills the receipt of a query success") {
  auto store = make_store();
  auto& database = PgTestDatabase::instance();
  database.seed_payment("ws_CO_8", kPhone, 1);
  auto query = failure("ws_CO_8", "0", PaymentStatus::Succeeded, LearntVia::Query);
  REQUIRE(store.apply_result(query).has_value());
  CHECK(database.scalar("SELECT mpesa_receipt_number FROM stk_payments").empty());

  const auto callback = store.apply_result(success("ws_CO_8"));
  REQUIRE(callback.has_value());
  CHECK(callback->outcome == CallbackOutcome::ReceiptAdded);
  CHECK(database.scalar("SELECT mpesa_receipt_number FROM stk_payments") == "NLJ4QK8ZWA");
  CHECK(database.scalar("SELECT learnt_via FROM stk_payments") == "query");
}

TEST_CASE("store: receipt already used elsewhere is a conflict") {
  auto store = make_store();
  PgTestDatabase::instance().seed_payment("ws_CO_9a", kPhone, 1);
  PgTestDatabase::instance().seed_payment("ws_CO_9b", kPhone, 1);
  REQUIRE(store.apply_result(success("ws_CO_9a")).has_value());
  const auto second = store.apply_result(success("ws_CO_9b"));
  REQUIRE_MESSAGE(second.has_value(), (second ? "" : second.error().describe()));
  CHECK(second->outcome == CallbackOutcome::Conflict);
}

TEST_CASE("store: outcome-unknown push is matched by phone and amount") {
  auto store = make_store();
  const auto created = store.create_payment(new_payment());
  REQUIRE(created.has_value());
  REQUIRE(store.record_push_outcome_unknown(created->payment.id, "no answer from Daraja").has_value());
  const auto flagged = store.find_by_public_id(created->payment.public_id);
  REQUIRE(flagged.has_value());
  CHECK(flagged->outcome_unknown);
  CHECK(flagged->status == PaymentStatus::Pending);

  const auto applied = store.apply_result(success("ws_CO_lost_ack", 1000));
  REQUIRE(applied.has_value());
  CHECK(applied->outcome == CallbackOutcome::Applied);
  CHECK(applied->public_id == created->payment.public_id);
  const auto settled = store.find_by_public_id(created->payment.public_id);
  REQUIRE(settled.has_value());
  CHECK(settled->checkout_request_id == "ws_CO_lost_ack");
  CHECK_FALSE(settled->outcome_unknown);
}

TEST_CASE("store: early callback is applied when the push ack is stored") {
  auto store = make_store();
  const auto created = store.create_payment(new_payment());
  REQUIRE(created.has_value());
  const auto early = store.apply_result(success("ws_CO_fast", 1000));
  REQUIRE(early.has_value());
  CHECK(early->outcome == CallbackOutcome::Unmatched);

  PushAck ack;
  ack.checkout_request_id = "ws_CO_fast";
  ack.merchant_request_id = "m-1";
  ack.customer_message = "Success. Request accepted for processing";
  // The body must parse, because the early event is applied from its raw body.
  auto& database = PgTestDatabase::instance();
  database.execute(R"(UPDATE stk_callback_events SET raw_body = '{"Body":{"stkCallback":{"MerchantRequestID":"m-1","CheckoutRequestID":"ws_CO_fast","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{"Item":[{"Name":"Amount","Value":10},{"Name":"MpesaReceiptNumber","Value":"RCPT000001"},{"Name":"PhoneNumber","Value":254708374149}]}}}}')");
  REQUIRE(store.record_push_accepted(created->payment.id, ack).has_value());

  const auto payment = store.find_by_public_id(created->payment.public_id);
  REQUIRE(payment.has_value());
  CHECK(payment->status == PaymentStatus::Succeeded);
  CHECK(payment->receipt == "RCPT000001");
  CHECK(database.scalar("SELECT string_agg(outcome, ',' ORDER BY id) FROM stk_callback_events") == "rematched,applied");
}

TEST_CASE("store: claim due payments skips rows claimed elsewhere") {
  auto store = make_store();
  auto& database = PgTestDatabase::instance();
  database.seed_payment("ws_CO_due1", kPhone, 1);
  database.seed_payment("ws_CO_due2", kPhone, 1);
  database.execute("UPDATE stk_payments SET next_reconcile_at = now() - interval '1 second'");

  const auto first = store.claim_due_payments(10, std::chrono::seconds(60));
  REQUIRE(first.has_value());
  CHECK(first->size() == 2);
  CHECK(first->front().reconcile_attempts == 1);
  const auto second = store.claim_due_payments(10, std::chrono::seconds(60));
  REQUIRE(second.has_value());
  CHECK_MESSAGE(second->empty(), "claimed rows are leased until next_reconcile_at");
}

TEST_CASE("store: push rejection marks the payment failed") {
  auto store = make_store();
  const auto created = store.create_payment(new_payment());
  REQUIRE(created.has_value());
  REQUIRE(store.record_push_rejected(created->payment.id, "400.002.02", "Bad Request - Invalid PhoneNumber").has_value());
  const auto payment = store.find_by_public_id(created->payment.public_id);
  REQUIRE(payment.has_value());
  CHECK(payment->status == PaymentStatus::Failed);
  CHECK(payment->result_code == "400.002.02");
  CHECK(payment->result_desc == "Bad Request - Invalid PhoneNumber");
}

TEST_CASE("store: unknown public id is NotFound") {
  auto store = make_store();
  const auto missing = store.find_by_public_id("pay_00000000000000000000000000000000");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == ErrorKind::NotFound);
}

TEST_CASE("store: unreachable database is a Storage error without the URL") {
  server::PgPaymentStore store(Secret("postgresql://mpesa:hunter2-password@127.0.0.1:1/nowhere"), 1);
  const auto result = store.ping();
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorKind::Storage);
  CHECK(result.error().message.find("hunter2") == std::string::npos);
}

TEST_CASE("store: status change sends NOTIFY stk_payment_status") {
  auto store = make_store();
  auto& database = PgTestDatabase::instance();
  const auto public_id = database.seed_payment("ws_CO_notify", kPhone, 1);

  pqxx::connection listener(database.url());
  struct Receiver : pqxx::notification_receiver {
    using notification_receiver::notification_receiver;
    std::string payload;
    void operator()(const std::string& text, int) override { payload = text; }
  } receiver(listener, "stk_payment_status");

  REQUIRE(store.apply_result(failure("ws_CO_notify", "1032", PaymentStatus::Cancelled)).has_value());
  listener.await_notification(5, 0);
  CHECK(receiver.payload == public_id);
}

}  // namespace mpesa::test
