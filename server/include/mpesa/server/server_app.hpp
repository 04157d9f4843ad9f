#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <spdlog/logger.h>

#include "mpesa/stk_client.hpp"
#include "mpesa/server/callback_endpoint.hpp"
#include "mpesa/server/metrics.hpp"
#include "mpesa/server/payment_service.hpp"
#include "mpesa/server/payment_store.hpp"
#include "mpesa/server/server_config.hpp"
#include "mpesa/server/spool.hpp"
#include "mpesa/server/status_notifier.hpp"

namespace mpesa::server {

class Reconciler;
class StatusApi;
class StatusListener;

/// The shared parts of a running server, for code that adds routes or background tasks
/// (status API, reconciler). Every member is thread-safe.
struct ServerContext {
  ServerConfig config;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<PaymentStore> store;
  std::shared_ptr<StatusNotifier> notifier;
  std::shared_ptr<Metrics> metrics;
  std::shared_ptr<Spool> spool;
  /// Null when payments cannot be initiated (no StkApi given).
  std::shared_ptr<StkApi> stk;
  /// Null when `stk` is null.
  std::shared_ptr<PaymentService> payments;
};

/// The two listeners of `mpesa-stk serve` and the work behind them.
///
/// The callback listener serves only the Daraja callback route. The API listener serves
/// /api/payments, /healthz, /readyz and /metrics, plus any routes added to api_server()
/// before start(). Each listener has its own thread pool, so callbacks never
/// queue behind API requests (long polls included).
///
/// Typical use: construct, add routes with api_server(), start(), wait(); stop() from a
/// signal handler thread.
class ServerApp {
 public:
  /// Builds everything but opens no socket. `store` null means a PgPaymentStore on
  /// config.database_url; `stk` null disables POST /api/payments (503). Throws ConfigError
  /// for invalid settings, naming the variable.
  ServerApp(ServerConfig config, std::shared_ptr<PaymentStore> store, std::shared_ptr<StkApi> stk,
            PaymentSettings payment_settings, std::shared_ptr<spdlog::logger> logger = nullptr,
            std::shared_ptr<StatusNotifier> notifier = nullptr);
  ~ServerApp();
  ServerApp(const ServerApp&) = delete;
  ServerApp& operator=(const ServerApp&) = delete;

  /// The API listener, to register more routes before start().
  [[nodiscard]] httplib::Server& api_server() noexcept { return *api_server_; }
  /// The callback listener (an SSLServer when TLS is configured).
  [[nodiscard]] httplib::Server& callback_server() noexcept { return *callback_server_; }
  [[nodiscard]] ServerContext& context() noexcept { return context_; }
  [[nodiscard]] CallbackEndpoint& callback_endpoint() noexcept { return *callback_endpoint_; }
  /// GET /api/payments/{id} and POST /api/checkout.
  [[nodiscard]] StatusApi& status_api() noexcept { return *status_api_; }
  /// The reconciler thread started by start(); null when switched off or without Daraja.
  [[nodiscard]] Reconciler* reconciler() noexcept { return reconciler_.get(); }
  /// The LISTEN/NOTIFY relay started by start(); null before start().
  [[nodiscard]] StatusListener* status_listener() noexcept { return status_listener_.get(); }

  /// Binds both listeners and starts serving and the spool replayer. Throws ConfigError when
  /// a listener cannot bind, naming its variable.
  void start();

  /// The bound ports (useful with port 0); valid after start().
  [[nodiscard]] int callback_port() const noexcept { return callback_port_; }
  [[nodiscard]] int api_port() const noexcept { return api_port_; }

  /// Blocks until stop() has finished.
  void wait();

  /// Stops accepting, lets in-flight requests finish, wakes long-poll waiters, makes a last
  /// spool replay attempt and joins every thread. Safe to call twice and from any thread.
  void stop();

  /// Replays the spool once now; returns the number of events stored.
  std::size_t replay_spool();

 private:
  void configure_listener(httplib::Server& server, int threads) const;
  void run_replayer();
  void start_frontend_support();
  void log_security_settings() const;

  ServerContext context_;
  std::unique_ptr<httplib::Server> callback_server_;
  std::unique_ptr<httplib::Server> api_server_;
  std::unique_ptr<CallbackEndpoint> callback_endpoint_;
  std::unique_ptr<StatusApi> status_api_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<StatusListener> status_listener_;
  int callback_port_ = 0;
  int api_port_ = 0;
  std::thread callback_thread_;
  std::thread api_thread_;
  std::thread replay_thread_;
  std::mutex state_mutex_;
  std::condition_variable state_changed_;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
};

/// Registers POST /api/payments, GET /healthz, GET /readyz and GET /metrics on `server`.
void install_api_routes(httplib::Server& server, ServerContext& context);

}  // namespace mpesa::server
