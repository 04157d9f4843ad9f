#include "pg_fixture.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include "mpesa/server/migrations.hpp"

namespace mpesa::test {
namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// Runs a shell command as the postgres user when root, because PostgreSQL refuses root.
int run_as_cluster_owner(const std::string& command) {
  const auto full = geteuid() == 0 ? "runuser -u postgres -- " + command : command;
  return std::system(full.c_str());
}

// The options the cluster was started with (port, socket folder, settings), read back from
// postmaster.opts so a restart listens where the tests expect.
std::string postmaster_options(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.opts");
  std::string line;
  std::getline(in, line);
  // The first token is the postgres binary and "-D" "<dir>" is given by pg_ctl again.
  const auto first_space = line.find(' ');
  if (first_space == std::string::npos) return "";
  auto options = line.substr(first_space + 1);
  const auto data_flag = options.find("\"-D\" \"" + data_dir + "\"");
  if (data_flag != std::string::npos) options.erase(data_flag, 8 + data_dir.size());
  return options;
}

}  // namespace

std::string with_database(std::string_view url, std::string_view database) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return fmt::format("{} dbname={}", url, database);
  const auto query = url.find('?', scheme_end);
  const auto path = url.find('/', scheme_end + 3);
  const auto host_end = path == std::string_view::npos || (query != std::string_view::npos && path > query)
                            ? (query == std::string_view::npos ? url.size() : query)
                            : path;
  const auto rest = query == std::string_view::npos ? std::string_view() : url.substr(query);
  return fmt::format("{}/{}{}", url.substr(0, host_end), database, rest);
}

PgTestDatabase& PgTestDatabase::instance() {
  static PgTestDatabase database;
  return database;
}

PgTestDatabase::PgTestDatabase() : admin_url_(environment("MPESA_TEST_DATABASE_URL")) {
  if (admin_url_.empty()) {
    throw std::runtime_error("MPESA_TEST_DATABASE_URL is not set: run the tests through scripts/test, "
                             "or start PostgreSQL (scripts/lib/postgres.sh pg_start) and export it");
  }
  std::random_device random;
  name_ = fmt::format("mpesa_test_{}_{:08x}", getpid(), random());
  {
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction tx(admin);
    tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  }
  url_ = with_database(admin_url_, name_);
  const auto migrated = server::apply_migrations(Secret(url_));
  if (!migrated) throw std::runtime_error("migrating the test database failed: " + migrated.error().describe());
}

PgTestDatabase::~PgTestDatabase() {
  try {
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The cluster may be stopped already; scripts/test removes it anyway.
  }
}

void PgTestDatabase::reset() const {
  pqxx::connection connection(url_);
  pqxx::nontransaction tx(connection);
  tx.exec("TRUNCATE stk_callback_events, stk_payments RESTART IDENTITY CASCADE");
}

std::string PgTestDatabase::scalar(std::string_view sql) const {
  pqxx::connection connection(url_);
  pqxx::nontransaction tx(connection);
  const auto rows = tx.exec(std::string(sql));
  if (rows.empty() || rows[0][0].is_null()) return "";
  return rows[0][0].as<std::string>();
}

void PgTestDatabase::execute(std::string_view sql) const {
  pqxx::connection connection(url_);
  pqxx::nontransaction tx(connection);
  tx.exec(std::string(sql));
}

std::string PgTestDatabase::seed_payment(std::string_view checkout_request_id, std::string_view phone,
                                         std::int64_t amount) const {
  pqxx::connection connection(url_);
  pqxx::nontransaction tx(connection);
  const auto public_id = fmt::format("pay_test_{}", checkout_request_id);
  tx.exec_params(R"(
    INSERT INTO stk_payments (public_id, checkout_request_id, merchant_request_id, account_reference,
                              description, phone, amount, shortcode, transaction_type,
                              next_reconcile_at, deadline_at)
    VALUES ($1, $2, 'seeded', 'TEST', 'Test payment', $3, $4, '174379', 'CustomerPayBillOnline',
            now() + interval '30 seconds', now() + interval '10 minutes'))",
                 public_id, std::string(checkout_request_id), std::string(phone), amount);
  return public_id;
}

std::int64_t PgTestDatabase::event_count() const {
  return std::stoll(scalar("SELECT count(*) FROM stk_callback_events"));
}

std::int64_t PgTestDatabase::payment_count() const {
  return std::stoll(scalar("SELECT count(*) FROM stk_payments"));
}

bool PgTestDatabase::stop_cluster() {
  const auto bin = environment("MPESA_TEST_PG_BIN");
  const auto data = environment("MPESA_TEST_PG_DATA");
  if (bin.empty() || data.empty()) return false;
  return run_as_cluster_owner(fmt::format("{}/pg_ctl -D {} -m fast -w stop >/dev/null", bin, data)) == 0;
}

bool PgTestDatabase::start_cluster() {
  const auto bin = environment("MPESA_TEST_PG_BIN");
  const auto data = environment("MPESA_TEST_PG_DATA");
  if (bin.empty() || data.empty()) return false;
  const auto options = postmaster_options(data);
  std::string escaped;
  for (const char c : options) {
    if (c == '\'') escaped += "'\\''";
    else escaped += c;
  }
  return run_as_cluster_owner(fmt::format("{}/pg_ctl -D {} -l {}/restart.log -w -t 60 -o '{}' start >/dev/null",
                                          bin, data, data, escaped)) == 0;
}

}  // namespace mpesa::test
