#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "mpesa/error.hpp"
#include "mpesa/secret.hpp"

namespace mpesa::server {

/// A fixed-size pool of PostgreSQL connections shared by the HTTP worker threads.
///
/// Connections are opened lazily, prepared once by `on_connect`, and dropped when a
/// statement on them fails with a broken connection, so the pool reconnects by itself after a
/// database restart. Thread-safe.
class PgConnectionPool {
 public:
  /// Runs once on every new connection (to prepare statements).
  using ConnectHook = std::function<void(pqxx::connection&)>;

  /// `url` is a libpq connection string or URI; a connect_timeout of 3 seconds is added when
  /// it sets none. No connection is opened here.
  PgConnectionPool(Secret url, std::size_t size, ConnectHook on_connect = nullptr);
  ~PgConnectionPool();
  PgConnectionPool(const PgConnectionPool&) = delete;
  PgConnectionPool& operator=(const PgConnectionPool&) = delete;

  /// A borrowed connection, returned to the pool when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() const noexcept { return *connection_; }
    pqxx::connection* operator->() const noexcept { return connection_.get(); }
    /// Closes the connection instead of returning it (after a broken-connection error).
    void discard() noexcept { discard_ = true; }

   private:
    friend class PgConnectionPool;
    Lease(PgConnectionPool* pool, std::unique_ptr<pqxx::connection> connection);
    PgConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
    bool discard_ = false;
  };

  /// Borrows a connection, opening one when the pool is below its size, and waits up to
  /// `timeout` when all are in use. Errors: Storage (cannot connect, or the wait timed out).
  [[nodiscard]] Result<Lease> acquire(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Opens a new connection outside the pool (LISTEN, migrations). Errors: Storage.
  [[nodiscard]] Result<std::unique_ptr<pqxx::connection>> open_dedicated() const;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  void give_back(std::unique_ptr<pqxx::connection> connection, bool discard);

  Secret url_;
  std::size_t size_;
  ConnectHook on_connect_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_count_ = 0;
};

/// Translates an exception thrown by libpqxx into an Error: unique violations become
/// Duplicate, everything else Storage with the SQLSTATE when PostgreSQL sent one. `action`
/// names what failed ("store the callback"). The message carries no connection string.
[[nodiscard]] Error storage_error(const std::exception& error, std::string_view action);

/// True when the error means the connection is unusable and should be discarded.
[[nodiscard]] bool is_connection_error(const std::exception& error) noexcept;

/// Adds connect_timeout=3 to a libpq URI or key=value string that has no connect_timeout.
[[nodiscard]] std::string with_connect_timeout(std::string_view url);

}  // namespace mpesa::server
