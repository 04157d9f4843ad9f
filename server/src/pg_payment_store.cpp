#include "mpesa/server/pg_payment_store.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <stdexcept>

#include "detail/json_writer.hpp"
#include "mpesa/server/migrations.hpp"

namespace mpesa::server {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

// Timestamps cross the wire as microseconds since the Unix epoch, so no time zone setting of
// the session or the host can shift them.
#define MPESA_EPOCH_US(column) "(extract(epoch FROM " column ") * 1000000)::bigint"

std::string payment_columns(std::string_view prefix) {
  const auto c = [&](std::string_view name) { return fmt::format("{}{}", prefix, name); };
  const auto epoch = [&](std::string_view name) {
    return fmt::format("(extract(epoch FROM {}{}) * 1000000)::bigint", prefix, name);
  };
  return fmt::format(
      "{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, ({} * 100)::bigint, {}, {}, {}, "
      "{}, {}, {}, {}, {}, {}, {}, {}",
      c("id"), c("public_id"), c("idempotency_key"), c("merchant_request_id"),
      c("checkout_request_id"), c("account_reference"), c("description"), c("phone"), c("amount"),
      c("shortcode"), c("transaction_type"), c("status"), c("result_code"), c("result_desc"),
      c("mpesa_receipt_number"), c("paid_amount"), c("paid_phone"), epoch("transaction_time"),
      c("customer_message"), c("learnt_via"), c("outcome_unknown"), epoch("next_reconcile_at"),
      epoch("deadline_at"), c("reconcile_attempts"), epoch("created_at"), epoch("updated_at"),
      epoch("completed_at"));
}

std::int64_t to_epoch_us(TimePoint instant) {
  return duration_cast<microseconds>(instant.time_since_epoch()).count();
}

TimePoint from_epoch_us(std::int64_t value) {
  return TimePoint(duration_cast<TimePoint::duration>(microseconds(value)));
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

std::optional<std::int64_t> optional_int(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::int64_t>();
}

std::optional<TimePoint> optional_time(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return from_epoch_us(field.as<std::int64_t>());
}

std::optional<LearntVia> parse_learnt_via(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  const auto text = field.as<std::string>();
  if (text == "query") return LearntVia::Query;
  if (text == "deadline") return LearntVia::Deadline;
  return LearntVia::Callback;
}

PaymentRecord read_payment(const pqxx::row& row) {
  PaymentRecord record;
  record.id = row[0].as<std::int64_t>();
  record.public_id = row[1].as<std::string>();
  record.idempotency_key = optional_text(row[2]);
  record.merchant_request_id = optional_text(row[3]);
  record.checkout_request_id = optional_text(row[4]);
  record.account_reference = row[5].as<std::string>();
  record.description = row[6].as<std::string>();
  record.phone = row[7].as<std::string>();
  record.amount = row[8].as<std::int64_t>();
  record.shortcode = row[9].as<std::string>();
  record.transaction_type = row[10].as<std::string>();
  record.status = parse_payment_status(row[11].as<std::string>()).value_or(PaymentStatus::Pending);
  record.result_code = optional_text(row[12]);
  record.result_desc = optional_text(row[13]);
  record.receipt = optional_text(row[14]);
  record.paid_amount_cents = optional_int(row[15]);
  record.paid_phone = optional_text(row[16]);
  record.transaction_time = optional_time(row[17]);
  record.customer_message = optional_text(row[18]);
  record.learnt_via = parse_learnt_via(row[19]);
  record.outcome_unknown = row[20].as<bool>();
  record.next_reconcile_at = optional_time(row[21]);
  record.deadline_at = from_epoch_us(row[22].as<std::int64_t>());
  record.reconcile_attempts = row[23].as<int>();
  record.created_at = from_epoch_us(row[24].as<std::int64_t>());
  record.updated_at = from_epoch_us(row[25].as<std::int64_t>());
  record.completed_at = optional_time(row[26]);
  return record;
}

std::optional<std::string> cents_to_numeric(const std::optional<std::int64_t>& cents) {
  if (!cents) return std::nullopt;
  const auto whole = *cents / 100;
  const auto fraction = *cents % 100;
  return fmt::format("{}{}.{:02}", *cents < 0 ? "-" : "", whole < 0 ? -whole : whole,
                     fraction < 0 ? -fraction : fraction);
}

// Replaces each byte that is not part of valid UTF-8, and each NUL, with U+FFFD. PostgreSQL
// text cannot hold either, and a malformed body must still be stored for review.
std::string to_valid_utf8(std::string_view bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string text;
  text.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    std::size_t length = 0;
    if (lead >= 0x01 && lead <= 0x7f) length = 1;
    else if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) length = 3;
    else if (lead >= 0xf0 && lead <= 0xf4) length = 4;

    bool valid = length > 0 && i + length <= bytes.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(bytes[i + k]) & 0xc0) == 0x80;
    }
    if (valid && length >= 3) {
      const auto second = static_cast<unsigned char>(bytes[i + 1]);
      // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
      valid = !(lead == 0xe0 && second < 0xa0) && !(lead == 0xed && second > 0x9f) &&
              !(lead == 0xf0 && second < 0x90) && !(lead == 0xf4 && second > 0x8f);
    }
    if (!valid) {
      text += kReplacement;
      ++i;
      continue;
    }
    text.append(bytes.substr(i, length));
    i += length;
  }
  return text;
}

std::optional<std::string> empty_as_null(std::string_view text) {
  if (text.empty()) return std::nullopt;
  return std::string(text);
}

// Every statement the store runs, prepared once per connection.
void prepare_statements(pqxx::connection& connection) {
  const auto columns = payment_columns("");
  const auto p_columns = payment_columns("p.");
  connection.prepare("create_payment", fmt::format(R"(
    INSERT INTO stk_payments (public_id, idempotency_key, account_reference, description, phone,
                              amount, shortcode, transaction_type, next_reconcile_at, deadline_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9::bigint / 1000000.0),
            to_timestamp($10::bigint / 1000000.0))
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING {})", columns));
  connection.prepare("find_by_idempotency_key",
                     fmt::format("SELECT {} FROM stk_payments WHERE idempotency_key = $1", columns));
  connection.prepare("find_by_public_id",
                     fmt::format("SELECT {} FROM stk_payments WHERE public_id = $1", columns));
  connection.prepare("find_by_checkout_request_id",
                     fmt::format("SELECT {} FROM stk_payments WHERE checkout_request_id = $1", columns));
  connection.prepare("push_accepted", R"(
    UPDATE stk_payments
       SET merchant_request_id = $2, checkout_request_id = $3, customer_message = $4,
           updated_at = now()
     WHERE id = $1)");
  connection.prepare("lock_checkout", "SELECT pg_advisory_xact_lock(42101, hashtext($1))");
  connection.prepare("unmatched_events_for", R"(
    SELECT id, raw_body, coalesce(source_address, ''), )" MPESA_EPOCH_US("received_at") R"(
      FROM stk_callback_events
     WHERE checkout_request_id = $1 AND outcome = 'unmatched'
     ORDER BY id)");
  connection.prepare("mark_rematched", R"(
    UPDATE stk_callback_events SET outcome = 'rematched', payment_id = $2 WHERE id = $1)");
  connection.prepare("push_rejected", R"(
    UPDATE stk_payments
       SET status = 'failed', result_code = $2, result_desc = $3, next_reconcile_at = NULL,
           updated_at = now(), completed_at = now()
     WHERE id = $1 AND status = 'pending'
    RETURNING public_id)");
  connection.prepare("push_outcome_unknown", R"(
    UPDATE stk_payments SET outcome_unknown = true, result_desc = $2, updated_at = now()
     WHERE id = $1 AND status = 'pending')");
  connection.prepare("apply_result", R"(
    SELECT outcome, public_id, status, status_changed
      FROM stk_apply_result($1, $2, $3, $4, $5, $6, $7, $8::numeric, $9,
                            to_timestamp($10::bigint / 1000000.0), $11, $12,
                            to_timestamp($13::bigint / 1000000.0)))");
  connection.prepare("apply_results", R"(
    SELECT item, outcome, public_id, status, status_changed FROM stk_apply_results($1::jsonb))");
  connection.prepare("record_malformed", R"(
    INSERT INTO stk_callback_events (raw_body, source_address, received_at, outcome)
    VALUES ($1, $2, to_timestamp($3::bigint / 1000000.0), 'malformed'))");
  connection.prepare("claim_due", fmt::format(R"(
    UPDATE stk_payments p
       SET reconcile_attempts = p.reconcile_attempts + 1,
           next_reconcile_at = now() + make_interval(secs => $2)
      FROM (SELECT id FROM stk_payments
             WHERE status = 'pending' AND next_reconcile_at <= now()
             ORDER BY next_reconcile_at
             LIMIT $1
               FOR UPDATE SKIP LOCKED) due
     WHERE p.id = due.id
    RETURNING {})", p_columns));
  connection.prepare("schedule_reconcile", R"(
    UPDATE stk_payments SET next_reconcile_at = to_timestamp($2::bigint / 1000000.0)
     WHERE id = $1 AND status = 'pending')");
  connection.prepare("find_overdue", fmt::format(R"(
    SELECT {} FROM stk_payments
     WHERE status = 'pending' AND deadline_at <= now()
     ORDER BY deadline_at
     LIMIT $1)", columns));
  connection.prepare("time_out", R"(
    UPDATE stk_payments
       SET status = 'timed_out', result_desc = $2, learnt_via = 'deadline',
           outcome_unknown = false, next_reconcile_at = NULL, updated_at = now(),
           completed_at = now()
     WHERE id = $1 AND status = 'pending'
    RETURNING public_id)");
  connection.prepare("ping", "SELECT 1");
}

Error not_found(std::string message) {
  Error error;
  error.kind = ErrorKind::NotFound;
  error.message = std::move(message);
  return error;
}

// Runs `work` on a pooled connection and translates libpqxx exceptions. A connection that
// broke is discarded so the next call reconnects.
template <typename Work>
auto with_connection(PgConnectionPool& pool, std::string_view action, Work&& work)
    -> decltype(work(std::declval<pqxx::connection&>())) {
  auto lease = pool.acquire();
  if (!lease) return fail(std::move(lease.error()));
  try {
    return work(**lease);
  } catch (const std::exception& error) {
    if (is_connection_error(error)) lease->discard();
    return fail(storage_error(error, action));
  }
}

// Reads outcome, public_id, status and status_changed from the columns starting at `first`.
AppliedResult read_applied(const pqxx::row& row, int first = 0) {
  AppliedResult applied;
  applied.outcome = parse_callback_outcome(row[first].as<std::string>()).value_or(CallbackOutcome::Conflict);
  applied.public_id = optional_text(row[first + 1]);
  if (!row[first + 2].is_null()) applied.status = parse_payment_status(row[first + 2].as<std::string>());
  applied.status_changed = row[first + 3].as<bool>();
  return applied;
}

template <typename Transaction>
AppliedResult exec_apply(Transaction& tx, const ReceivedResult& result) {
  if (!is_final(result.status)) {
    throw std::invalid_argument("apply_result needs a final status, not pending");
  }
  const std::optional<std::int64_t> transaction_time =
      result.transaction_time ? std::optional(to_epoch_us(*result.transaction_time)) : std::nullopt;
  const auto rows = tx.exec_prepared(
      "apply_result", std::string(to_string(result.source)), result.checkout_request_id,
      empty_as_null(result.merchant_request_id), result.result_code,
      empty_as_null(result.result_desc), std::string(to_string(result.status)), result.receipt,
      cents_to_numeric(result.paid_amount_cents), result.paid_phone, transaction_time,
      result.raw_body, empty_as_null(result.source_address), to_epoch_us(result.received_at));
  return read_applied(rows.at(0));
}

// One element of the stk_apply_results() batch, named as that function reads it.
void append_batch_element(std::string& json, const ReceivedResult& result) {
  detail::JsonObject element;
  element.add("source", to_string(result.source))
      .add("checkout_request_id", result.checkout_request_id)
      .add("result_code", result.result_code)
      .add("status", to_string(result.status))
      .add("raw_body", result.raw_body)
      .add("received_at_us", to_epoch_us(result.received_at));
  if (!result.merchant_request_id.empty()) element.add("merchant_request_id", result.merchant_request_id);
  if (!result.result_desc.empty()) element.add("result_desc", result.result_desc);
  if (result.receipt) element.add("receipt", *result.receipt);
  if (const auto amount = cents_to_numeric(result.paid_amount_cents)) element.add("paid_amount", *amount);
  if (result.paid_phone) element.add("paid_phone", *result.paid_phone);
  if (result.transaction_time) element.add("transaction_time_us", to_epoch_us(*result.transaction_time));
  if (!result.source_address.empty()) element.add("source_address", result.source_address);
  json += element.str();
}

bool notifies(const AppliedResult& applied) {
  return applied.public_id &&
         (applied.status_changed || applied.outcome == CallbackOutcome::ReceiptAdded);
}

}  // namespace

std::string generate_public_id() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed to generate a payment id");
  }
  std::string id = "pay_";
  for (const auto byte : bytes) id += fmt::format("{:02x}", byte);
  return id;
}

PgPaymentStore::PgPaymentStore(Secret database_url, std::size_t pool_size,
                               std::shared_ptr<StatusNotifier> notifier)
    : pool_(std::make_unique<PgConnectionPool>(std::move(database_url), pool_size,
                                               prepare_statements)),
      notifier_(std::move(notifier)) {}

PgPaymentStore::~PgPaymentStore() = default;

void PgPaymentStore::notify(const std::string& public_id) const {
  if (notifier_) notifier_->notify(public_id);
}

Result<CreatedPayment> PgPaymentStore::create_payment(const NewPayment& payment) {
  return with_connection(*pool_, "store the payment", [&](pqxx::connection& connection)
                                                          -> Result<CreatedPayment> {
    pqxx::work tx(connection);
    const auto inserted = tx.exec_prepared(
        "create_payment", generate_public_id(), payment.idempotency_key,
        payment.account_reference, payment.description, payment.phone, payment.amount,
        payment.shortcode, payment.transaction_type, to_epoch_us(payment.next_reconcile_at),
        to_epoch_us(payment.deadline_at));
    if (!inserted.empty()) {
      auto record = read_payment(inserted[0]);
      tx.commit();
      return CreatedPayment{std::move(record), true};
    }
    const auto existing = tx.exec_prepared("find_by_idempotency_key", payment.idempotency_key);
    tx.commit();
    if (existing.empty()) {
      return fail(not_found("the idempotency key conflicted but no payment holds it"));
    }
    return CreatedPayment{read_payment(existing[0]), false};
  });
}

Result<void> PgPaymentStore::record_push_accepted(std::int64_t id, const PushAck& ack) {
  std::vector<std::string> changed;
  auto stored = with_connection(*pool_, "store the push acknowledgement",
                                [&](pqxx::connection& connection) -> Result<void> {
    pqxx::work tx(connection);
    // The same lock stk_apply_result takes, so a callback racing this transaction is either
    // matched by the stored id or committed as unmatched before the search below.
    tx.exec_prepared("lock_checkout", ack.checkout_request_id);
    tx.exec_prepared0("push_accepted", id, empty_as_null(ack.merchant_request_id),
                      ack.checkout_request_id, empty_as_null(ack.customer_message));

    // A fast callback can arrive before this acknowledgement is stored; it was kept as
    // unmatched and is applied now.
    const auto early = tx.exec_prepared("unmatched_events_for", ack.checkout_request_id);
    for (const auto& row : early) {
      auto parsed = parse_stk_callback(row[1].as<std::string>());
      if (!parsed) continue;
      const auto applied = exec_apply(tx, ReceivedResult::from_callback(
                                              *parsed, row[1].as<std::string>(),
                                              row[2].as<std::string>(),
                                              from_epoch_us(row[3].as<std::int64_t>())));
      tx.exec_prepared0("mark_rematched", row[0].as<std::int64_t>(), id);
      if (notifies(applied)) changed.push_back(*applied.public_id);
    }
    tx.commit();
    return {};
  });
  if (stored) {
    for (const auto& public_id : changed) notify(public_id);
  }
  return stored;
}

Result<void> PgPaymentStore::record_push_rejected(std::int64_t id, std::string_view result_code,
                                                  std::string_view result_desc) {
  std::optional<std::string> public_id;
  auto stored = with_connection(*pool_, "mark the payment failed",
                                [&](pqxx::connection& connection) -> Result<void> {
    pqxx::nontransaction tx(connection);
    const auto rows = tx.exec_prepared("push_rejected", id, empty_as_null(result_code),
                                       std::string(result_desc));
    if (!rows.empty()) public_id = rows[0][0].as<std::string>();
    return {};
  });
  if (stored && public_id) notify(*public_id);
  return stored;
}

Result<void> PgPaymentStore::record_push_outcome_unknown(std::int64_t id, std::string_view reason) {
  return with_connection(*pool_, "flag the payment", [&](pqxx::connection& connection)
                                                         -> Result<void> {
    pqxx::nontransaction tx(connection);
    tx.exec_prepared0("push_outcome_unknown", id, std::string(reason));
    return {};
  });
}

Result<AppliedResult> PgPaymentStore::apply_result(const ReceivedResult& result) {
  if (!is_final(result.status)) {
    return fail(invalid_request("status", "a result to apply must be final, not pending"));
  }
  auto applied = with_connection(*pool_, "store the result", [&](pqxx::connection& connection)
                                                                 -> Result<AppliedResult> {
    // One statement, so autocommit makes it one transaction in one round trip.
    pqxx::nontransaction tx(connection);
    return exec_apply(tx, result);
  });
  if (applied && notifies(*applied)) notify(*applied->public_id);
  return applied;
}

Result<std::vector<AppliedResult>> PgPaymentStore::apply_results(std::span<const ReceivedResult> results) {
  for (const auto& result : results) {
    if (!is_final(result.status)) {
      return fail(invalid_request("status", "a result to apply must be final, not pending"));
    }
  }
  // Sorted by CheckoutRequestID (stable, so repeats keep their order), every batch locks
  // payment rows in the same order and two concurrent batches cannot deadlock.
  std::vector<std::size_t> order(results.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return results[a].checkout_request_id < results[b].checkout_request_id;
  });
  std::string batch = "[";
  for (const auto index : order) {
    if (batch.size() > 1) batch += ',';
    append_batch_element(batch, results[index]);
  }
  batch += ']';

  auto applied = with_connection(*pool_, "store the results", [&](pqxx::connection& connection)
                                                                  -> Result<std::vector<AppliedResult>> {
    pqxx::nontransaction tx(connection);
    const auto rows = tx.exec_prepared("apply_results", batch);
    std::vector<AppliedResult> answers(results.size());
    for (const auto& row : rows) {
      const auto position = row[0].as<std::size_t>() - 1;
      answers.at(order.at(position)) = read_applied(row, 1);
    }
    return answers;
  });
  if (applied) {
    for (const auto& one : *applied) {
      if (notifies(one)) notify(*one.public_id);
    }
  }
  return applied;
}

Result<void> PgPaymentStore::record_malformed(std::string_view raw_body,
                                              std::string_view source_address,
                                              TimePoint received_at) {
  return with_connection(*pool_, "store the malformed callback",
                         [&](pqxx::connection& connection) -> Result<void> {
    pqxx::nontransaction tx(connection);
    tx.exec_prepared0("record_malformed", to_valid_utf8(raw_body), empty_as_null(source_address),
                      to_epoch_us(received_at));
    return {};
  });
}

Result<PaymentRecord> PgPaymentStore::find_by_public_id(std::string_view public_id) {
  return with_connection(*pool_, "read the payment", [&](pqxx::connection& connection)
                                                         -> Result<PaymentRecord> {
    pqxx::nontransaction tx(connection);
    const auto rows = tx.exec_prepared("find_by_public_id", std::string(public_id));
    if (rows.empty()) return fail(not_found("no payment has this id"));
    return read_payment(rows[0]);
  });
}

Result<PaymentRecord> PgPaymentStore::find_by_checkout_request_id(std::string_view checkout_request_id) {
  return with_connection(*pool_, "read the payment", [&](pqxx::connection& connection)
                                                         -> Result<PaymentRecord> {
    pqxx::nontransaction tx(connection);
    const auto rows = tx.exec_prepared("find_by_checkout_request_id", std::string(checkout_request_id));
    if (rows.empty()) return fail(not_found("no payment has this CheckoutRequestID"));
    return read_payment(rows[0]);
  });
}

Result<std::vector<PaymentRecord>> PgPaymentStore::claim_due_payments(int limit,
                                                                      std::chrono::seconds lease) {
  return with_connection(*pool_, "claim due payments", [&](pqxx::connection& connection)
                                                           -> Result<std::vector<PaymentRecord>> {
    pqxx::nontransaction tx(connection);
    const auto rows = tx.exec_prepared("claim_due", limit, static_cast<double>(lease.count()));
    std::vector<PaymentRecord> claimed;
    claimed.reserve(rows.size());
    for (const auto& row : rows) claimed.push_back(read_payment(row));
    return claimed;
  });
}

Result<void> PgPaymentStore::schedule_reconcile(std::int64_t id, TimePoint at) {
  return with_connection(*pool_, "schedule reconciliation", [&](pqxx::connection& connection)
                                                                -> Result<void> {
    pqxx::nontransaction tx(connection);
    tx.exec_prepared0("schedule_reconcile", id, to_epoch_us(at));
    return {};
  });
}

Result<std::vector<PaymentRecord>> PgPaymentStore::find_overdue_payments(int limit) {
  return with_connection(*pool_, "read overdue payments", [&](pqxx::connection& connection)
                                                              -> Result<std::vector<PaymentRecord>> {
    pqxx::nontransaction tx(connection);
    const auto rows = tx.exec_prepared("find_overdue", limit);
    std::vector<PaymentRecord> overdue;
    overdue.reserve(rows.size());
    for (const auto& row : rows) overdue.push_back(read_payment(row));
    return overdue;
  });
}

Result<bool> PgPaymentStore::time_out_payment(std::int64_t id, std::string_view result_desc) {
  std::optional<std::string> public_id;
  auto changed = with_connection(*pool_, "time the payment out", [&](pqxx::connection& connection)
                                                                     -> Result<bool> {
    pqxx::nontransaction tx(connection);
    const auto rows = tx.exec_prepared("time_out", id, std::string(result_desc));
    if (!rows.empty()) public_id = rows[0][0].as<std::string>();
    return !rows.empty();
  });
  if (changed && public_id) notify(*public_id);
  return changed;
}

Result<void> PgPaymentStore::ping() {
  return with_connection(*pool_, "reach PostgreSQL", [&](pqxx::connection& connection)
                                                         -> Result<void> {
    pqxx::nontransaction tx(connection);
    tx.exec_prepared("ping");
    return {};
  });
}

Result<int> PgPaymentStore::schema_version() {
  auto lease = pool_->acquire();
  if (!lease) return fail(std::move(lease.error()));
  auto version = applied_migration_version(**lease);
  if (!version && version.error().sqlstate.empty()) lease->discard();
  return version;
}

}  // namespace mpesa::server
