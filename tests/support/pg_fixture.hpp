#pragma once

// A throwaway PostgreSQL database for one test binary, created inside the cluster named by
// MPESA_TEST_DATABASE_URL (scripts/test starts one) and migrated with the server's schema.

#include <cstdint>
#include <string>
#include <string_view>

namespace mpesa::test {

/// The database of this test process: created and migrated on first use, dropped at exit.
/// Fails the calling test with a clear message when MPESA_TEST_DATABASE_URL is not set.
class PgTestDatabase {
 public:
  /// The process-wide instance.
  static PgTestDatabase& instance();

  /// A libpq URI of the test database.
  [[nodiscard]] const std::string& url() const noexcept { return url_; }

  /// Empties every table, so a test starts from a known state.
  void reset() const;

  /// Runs one SQL statement and returns the first column of the first row as text ("" when
  /// there is no row or it is NULL).
  [[nodiscard]] std::string scalar(std::string_view sql) const;

  /// Runs SQL statements whose result does not matter.
  void execute(std::string_view sql) const;

  /// Inserts a pending payment with this CheckoutRequestID and returns its public id.
  std::string seed_payment(std::string_view checkout_request_id, std::string_view phone,
                           std::int64_t amount) const;

  /// Number of rows in stk_callback_events, and in stk_payments.
  [[nodiscard]] std::int64_t event_count() const;
  [[nodiscard]] std::int64_t payment_count() const;

  /// Stops and starts the whole cluster (MPESA_TEST_PG_BIN, MPESA_TEST_PG_DATA), as the
  /// postgres user when running as root. Returns false when those variables are missing.
  static bool stop_cluster();
  static bool start_cluster();

  ~PgTestDatabase();

 private:
  PgTestDatabase();
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

/// Replaces the database name of a libpq URI (`postgresql://u@h:p/name?x=y`).
[[nodiscard]] std::string with_database(std::string_view url, std::string_view database);

}  // namespace mpesa::test
