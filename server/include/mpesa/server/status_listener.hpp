#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include <spdlog/logger.h>

#include "mpesa/secret.hpp"
#include "mpesa/server/status_notifier.hpp"

namespace mpesa::server {

/// The channel the stk_payments trigger notifies with the payment's public id.
inline constexpr std::string_view kStatusChannel = "stk_payment_status";

/// Relays PostgreSQL notifications on kStatusChannel to a StatusNotifier, so long-poll
/// waiters in this process wake when another instance sharing the database settles a payment.
///
/// One thread holds its own connection (not from the pool) and blocks in
/// pqxx::connection::await_notification with a short timeout, so stop() returns quickly. A
/// lost connection is reopened with backoff; notifications sent meanwhile are lost, which
/// costs a waiter at most its wait time (it then reads the payment as usual).
class StatusListener {
 public:
  StatusListener(Secret database_url, std::shared_ptr<StatusNotifier> notifier,
                 std::shared_ptr<spdlog::logger> logger);
  ~StatusListener();
  StatusListener(const StatusListener&) = delete;
  StatusListener& operator=(const StatusListener&) = delete;

  /// Starts the thread. Returns at once; the first connection is made by the thread.
  void start();
  /// Stops the thread and closes the connection. Safe to call twice.
  void stop();

  /// True once LISTEN is active on a connection (tests wait for it).
  [[nodiscard]] bool listening() const noexcept { return listening_.load(); }
  /// Blocks until listening() or `timeout` passes; returns listening().
  [[nodiscard]] bool wait_until_listening(std::chrono::milliseconds timeout) const;

 private:
  void run();
  void listen_once();

  Secret database_url_;
  std::shared_ptr<StatusNotifier> notifier_;
  std::shared_ptr<spdlog::logger> logger_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_{false};
  std::thread thread_;
  std::mutex start_mutex_;
};

}  // namespace mpesa::server
