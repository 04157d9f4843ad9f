#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <pqxx/connection>

#include "mpesa/error.hpp"
#include "mpesa/secret.hpp"

namespace mpesa::server {

/// One numbered SQL file from migrations/, compiled into the library.
struct Migration {
  int version = 0;
  /// The file name without ".sql", such as "0001_create_payments".
  std::string_view name;
  std::string_view sql;
};

/// Every migration in version order.
[[nodiscard]] const std::vector<Migration>& embedded_migrations();

/// The highest version among embedded_migrations().
[[nodiscard]] int latest_migration_version();

/// The result of apply_migrations.
struct MigrationReport {
  /// Names of the migrations applied by this call, in order; empty when all were current.
  std::vector<std::string> applied;
  /// The schema version after the call.
  int version = 0;
};

/// Applies every migration not yet recorded in `schema_migrations`, each in its own
/// transaction together with its record. A session-level advisory lock serialises
/// concurrent callers, so two processes migrating at once apply each file once. Running it
/// again applies nothing. Errors: Storage, naming the migration that failed.
[[nodiscard]] Result<MigrationReport> apply_migrations(pqxx::connection& connection);

/// Connects to `database_url` and calls apply_migrations.
[[nodiscard]] Result<MigrationReport> apply_migrations(const Secret& database_url);

/// Returns the highest version recorded in `schema_migrations`, 0 when the table is missing.
/// Errors: Storage.
[[nodiscard]] Result<int> applied_migration_version(pqxx::connection& connection);

}  // namespace mpesa::server
