#include "mpesa/server/migrations.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "mpesa/server/pg_pool.hpp"

namespace mpesa::server {
namespace {

// Key of the session-level advisory lock held while migrating: "mpesastk" as ASCII bytes.
constexpr long long kMigrationLockKey = 0x6d7065736173746b;

constexpr std::string_view kCreateMigrationsTable = R"(
  CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
  ))";

bool is_applied(pqxx::connection& connection, int version) {
  pqxx::nontransaction tx(connection);
  return !tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", version).empty();
}

void apply_one(pqxx::connection& connection, const Migration& migration) {
  pqxx::work tx(connection);
  tx.exec(std::string(migration.sql));
  tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                 migration.version, std::string(migration.name));
  tx.commit();
}

// Holds the advisory lock for its lifetime; the lock also ends with the session.
class MigrationLock {
 public:
  explicit MigrationLock(pqxx::connection& connection) : connection_(connection) {
    pqxx::nontransaction tx(connection_);
    tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  }
  ~MigrationLock() {
    try {
      pqxx::nontransaction tx(connection_);
      tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    } catch (const std::exception&) {
      // The session is gone, and the lock with it.
    }
  }
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;

 private:
  pqxx::connection& connection_;
};

}  // namespace

int latest_migration_version() {
  int latest = 0;
  for (const auto& migration : embedded_migrations()) latest = std::max(latest, migration.version);
  return latest;
}

Result<MigrationReport> apply_migrations(pqxx::connection& connection) {
  MigrationReport report;
  std::string_view current = "schema_migrations";
  try {
    MigrationLock lock(connection);
    {
      pqxx::nontransaction tx(connection);
      tx.exec(std::string(kCreateMigrationsTable));
    }
    for (const auto& migration : embedded_migrations()) {
      current = migration.name;
      if (is_applied(connection, migration.version)) continue;
      apply_one(connection, migration);
      report.applied.emplace_back(migration.name);
    }
  } catch (const std::exception& error) {
    return fail(storage_error(error, fmt::format("apply migration {}", current)));
  }
  report.version = latest_migration_version();
  return report;
}

Result<MigrationReport> apply_migrations(const Secret& database_url) {
  try {
    pqxx::connection connection(with_connect_timeout(database_url.reveal()));
    return apply_migrations(connection);
  } catch (const std::exception& error) {
    return fail(storage_error(error, "connect to PostgreSQL"));
  }
}

Result<int> applied_migration_version(pqxx::connection& connection) {
  try {
    pqxx::nontransaction tx(connection);
    const auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return 0;
    const auto rows = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    return rows[0][0].as<int>();
  } catch (const std::exception& error) {
    return fail(storage_error(error, "read the schema version"));
  }
}

}  // namespace mpesa::server
