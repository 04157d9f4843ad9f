#pragma once

#include <memory>

#include "mpesa/server/payment_store.hpp"
#include "mpesa/server/pg_pool.hpp"
#include "mpesa/server/status_notifier.hpp"

namespace mpesa::server {

/// PaymentStore on PostgreSQL through libpqxx, using prepared statements on pooled
/// connections. The schema comes from the SQL migrations (apply_migrations).
///
/// Each operation runs as one short transaction; applying a result is a single call of the
/// stk_apply_result() database function, so it takes one round trip.
class PgPaymentStore : public PaymentStore {
 public:
  /// `notifier` may be null. When set, it is notified of every committed status change.
  PgPaymentStore(Secret database_url, std::size_t pool_size,
                 std::shared_ptr<StatusNotifier> notifier = nullptr);
  ~PgPaymentStore() override;

  [[nodiscard]] Result<CreatedPayment> create_payment(const NewPayment& payment) override;
  [[nodiscard]] Result<void> record_push_accepted(std::int64_t id, const PushAck& ack) override;
  [[nodiscard]] Result<void> record_push_rejected(std::int64_t id, std::string_view result_code,
                                                  std::string_view result_desc) override;
  [[nodiscard]] Result<void> record_push_outcome_unknown(std::int64_t id,
                                                         std::string_view reason) override;
  [[nodiscard]] Result<AppliedResult> apply_result(const ReceivedResult& result) override;
  /// One call of stk_apply_results(), so the whole batch takes one round trip and one commit.
  [[nodiscard]] Result<std::vector<AppliedResult>> apply_results(
      std::span<const ReceivedResult> results) override;
  [[nodiscard]] Result<void> record_malformed(std::string_view raw_body,
                                              std::string_view source_address,
                                              TimePoint received_at) override;
  [[nodiscard]] Result<PaymentRecord> find_by_public_id(std::string_view public_id) override;
  [[nodiscard]] Result<PaymentRecord> find_by_checkout_request_id(
      std::string_view checkout_request_id) override;
  [[nodiscard]] Result<std::vector<PaymentRecord>> claim_due_payments(
      int limit, std::chrono::seconds lease) override;
  [[nodiscard]] Result<void> schedule_reconcile(std::int64_t id, TimePoint at) override;
  [[nodiscard]] Result<std::vector<PaymentRecord>> find_overdue_payments(int limit) override;
  [[nodiscard]] Result<bool> time_out_payment(std::int64_t id, std::string_view result_desc) override;
  [[nodiscard]] Result<void> ping() override;
  [[nodiscard]] Result<int> schema_version() override;

  /// The connection pool, for components that need their own queries (status API, LISTEN).
  [[nodiscard]] PgConnectionPool& pool() noexcept { return *pool_; }
  [[nodiscard]] const std::shared_ptr<StatusNotifier>& notifier() const noexcept { return notifier_; }

 private:
  void notify(const std::string& public_id) const;

  std::unique_ptr<PgConnectionPool> pool_;
  std::shared_ptr<StatusNotifier> notifier_;
};

/// Generates a public payment id: "pay_" and 32 hex digits from OpenSSL's CSPRNG.
[[nodiscard]] std::string generate_public_id();

}  // namespace mpesa::server
