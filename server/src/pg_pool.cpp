#include "mpesa/server/pg_pool.hpp"

#include <fmt/format.h>
#include <pqxx/except>

namespace mpesa::server {

std::string with_connect_timeout(std::string_view url) {
  std::string result(url);
  if (result.find("connect_timeout") != std::string::npos) return result;
  const bool is_uri = result.starts_with("postgresql://") || result.starts_with("postgres://");
  if (!is_uri) return result + (result.empty() ? "" : " ") + "connect_timeout=3";
  return result + (result.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=3";
}

namespace {

// libpq messages can span lines ("could not connect...\n\tIs the server running..."); keep
// the first, which names the failure, for one-line logs.
std::string first_line(std::string_view text) {
  const auto end = text.find('\n');
  std::string line(text.substr(0, end));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
  return line;
}

}  // namespace

bool is_connection_error(const std::exception& error) noexcept {
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) return true;
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error);
  // Class 08 is "connection exception"; 57P01..57P03 are admin shutdown and "cannot connect now".
  return sql != nullptr && (sql->sqlstate().starts_with("08") || sql->sqlstate().starts_with("57P"));
}

Error storage_error(const std::exception& error, std::string_view action) {
  Error result;
  result.kind = ErrorKind::Storage;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    result.sqlstate = sql->sqlstate();
    if (result.sqlstate == "23505") result.kind = ErrorKind::Duplicate;
  }
  result.message = fmt::format("could not {}: {}", action, first_line(error.what()));
  return result;
}

PgConnectionPool::PgConnectionPool(Secret url, std::size_t size, ConnectHook on_connect)
    : url_(with_connect_timeout(url.reveal())),
      size_(size == 0 ? 1 : size),
      on_connect_(std::move(on_connect)) {}

PgConnectionPool::~PgConnectionPool() = default;

Result<std::unique_ptr<pqxx::connection>> PgConnectionPool::open_dedicated() const {
  try {
    auto connection = std::make_unique<pqxx::connection>(std::string(url_.reveal()));
    if (on_connect_) on_connect_(*connection);
    return connection;
  } catch (const std::exception& error) {
    return fail(storage_error(error, "connect to PostgreSQL"));
  }
}

Result<PgConnectionPool::Lease> PgConnectionPool::acquire(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const bool ready = available_.wait_for(
      lock, timeout, [this] { return !idle_.empty() || open_count_ < size_; });
  if (!ready) {
    Error error;
    error.kind = ErrorKind::Storage;
    error.message = fmt::format("no database connection became free within {} ms (pool size {})",
                                timeout.count(), size_);
    return fail(std::move(error));
  }
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(connection));
  }

  // Open outside the lock so a slow connect does not block threads returning connections.
  ++open_count_;
  lock.unlock();
  auto opened = open_dedicated();
  if (!opened) {
    lock.lock();
    --open_count_;
    available_.notify_one();
    return fail(std::move(opened.error()));
  }
  return Lease(this, std::move(*opened));
}

void PgConnectionPool::give_back(std::unique_ptr<pqxx::connection> connection, bool discard) {
  std::lock_guard lock(mutex_);
  if (discard || !connection->is_open()) {
    --open_count_;
  } else {
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

PgConnectionPool::Lease::Lease(PgConnectionPool* pool, std::unique_ptr<pqxx::connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

PgConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), connection_(std::move(other.connection_)), discard_(other.discard_) {
  other.pool_ = nullptr;
}

PgConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr && connection_) pool_->give_back(std::move(connection_), discard_);
}

}  // namespace mpesa::server
