#include "mpesa/server/server_app.hpp"


#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mpesa/config.hpp"
#include "mpesa/server/pg_payment_store.hpp"
#include "mpesa/server/reconciler.hpp"
#include "mpesa/server/status_api.hpp"
#include "mpesa/server/status_listener.hpp"

namespace mpesa::server {
namespace {

constexpr time_t kReadTimeoutSeconds = 10;
constexpr time_t kWriteTimeoutSeconds = 10;
// An idle keep-alive connection holds a worker thread, so it is closed after 5 seconds.
constexpr time_t kKeepAliveSeconds = 5;
// cpp-httplib 0.11.4 closes a keep-alive connection after 5 requests by default; Daraja and
// load balancers reuse connections far longer.
constexpr std::size_t kKeepAliveMaxRequests = 100000;

std::unique_ptr<httplib::Server> make_callback_server(const ServerConfig& config) {
  if (config.tls_cert.empty()) return std::make_unique<httplib::Server>();
  auto server = std::make_unique<httplib::SSLServer>(config.tls_cert.c_str(), config.tls_key.c_str());
  if (!server->is_valid()) {
    throw ConfigError(fmt::format("MPESA_TLS_CERT/MPESA_TLS_KEY: could not load the certificate {} or "
                                  "the key {}; check that both are readable PEM files that match",
                                  config.tls_cert, config.tls_key));
  }
  return server;
}

// Binds like bind_to_port, then raises the listen backlog. cpp-httplib 0.11.4 listens with a
// backlog of 5, so 64 connections opened at once overflow the accept queue and each dropped
// handshake waits a second or more for a TCP retransmission. A second listen() call on the
// bound socket raises the backlog, and the socket options hook is the only code given the socket.
int bind_with_backlog(httplib::Server& server, const ListenAddress& address) {
  auto socket = std::make_shared<socket_t>(INVALID_SOCKET);
  server.set_socket_options([socket](socket_t sock) {
    httplib::default_socket_options(sock);
    *socket = sock;
  });
  int port = -1;
  if (address.port == 0) {
    port = server.bind_to_any_port(address.host);
  } else if (server.bind_to_port(address.host.c_str(), address.port)) {
    port = address.port;
  }
  server.set_socket_options(httplib::default_socket_options);
  if (port > 0 && *socket != INVALID_SOCKET) ::listen(*socket, SOMAXCONN);
  return port;
}

int bind_listener(httplib::Server& server, const ListenAddress& address, std::string_view setting) {
  const int port = bind_with_backlog(server, address);
  if (port > 0) return port;
  throw ConfigError(fmt::format("{}: could not listen on {}; the port may be in use or the address "
                                "not local", setting, address.to_string()));
}

}  // namespace

ServerApp::ServerApp(ServerConfig config, std::shared_ptr<PaymentStore> store, std::shared_ptr<StkApi> stk,
                     PaymentSettings payment_settings, std::shared_ptr<spdlog::logger> logger,
                     std::shared_ptr<StatusNotifier> notifier) {
  config.validate();
  context_.logger = logger ? std::move(logger) : spdlog::default_logger();
  context_.notifier = notifier ? std::move(notifier) : std::make_shared<StatusNotifier>();
  context_.metrics = std::make_shared<Metrics>();
  context_.spool = std::make_shared<Spool>(config.spool_path);
  context_.store = store ? std::move(store)
                         : std::make_shared<PgPaymentStore>(config.database_url, config.effective_pool_size(),
                                                            context_.notifier);
  context_.stk = std::move(stk);
  if (context_.stk) {
    payment_settings.reconcile_after = config.reconcile_after;
    payment_settings.payment_deadline = config.payment_deadline;
    context_.payments = std::make_shared<PaymentService>(context_.store, context_.stk, std::move(payment_settings),
                                                         context_.logger, context_.metrics);
  }
  context_.config = std::move(config);

  callback_server_ = make_callback_server(context_.config);
  api_server_ = std::make_unique<httplib::Server>();
  configure_listener(*callback_server_, context_.config.callback_threads);
  configure_listener(*api_server_, context_.config.api_threads);
  callback_endpoint_ = std::make_unique<CallbackEndpoint>(context_.config, context_.store, context_.spool,
                                                          context_.metrics, context_.logger);
  callback_endpoint_->install(*callback_server_);
  install_api_routes(*api_server_, context_);
  status_api_ = std::make_unique<StatusApi>(context_);
  status_api_->install(*api_server_);
  if (!context_.config.static_dir.empty()) {
    api_server_->set_mount_point("/", context_.config.static_dir.string());
  }
}

ServerApp::~ServerApp() { stop(); }

void ServerApp::configure_listener(httplib::Server& server, int threads) const {
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  // Without TCP_NODELAY a small response on a keep-alive connection waits for the client's
  // delayed ACK (Nagle), tens of milliseconds per request.
  server.set_tcp_nodelay(true);
  server.set_read_timeout(kReadTimeoutSeconds, 0);
  server.set_write_timeout(kWriteTimeoutSeconds, 0);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.set_keep_alive_max_count(kKeepAliveMaxRequests);
  server.set_exception_handler([logger = context_.logger](const httplib::Request&, httplib::Response& response,
                                                          std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const std::exception& caught) {
      logger->error("request handler failed: {}", caught.what());
    } catch (...) {
      logger->error("request handler failed with a non-standard exception");
    }
    response.status = 500;
  });
}

void ServerApp::log_security_settings() const {
  const auto& config = context_.config;
  if (config.insecure_no_secret) {
    context_.logger->warn("INSECURE: --insecure-no-secret is set; the callback route accepts requests "
                          "without a secret. Never run this way in production.");
  } else {
    context_.logger->info("callback secrets active: {}", config.callback_secrets.size());
  }
  if (config.allow_any_address) {
    context_.logger->warn("MPESA_ALLOWED_IPS=any: callbacks are accepted from every source address");
  } else {
    context_.logger->info("callback source allow list: {} entries", config.allowed_addresses.size());
  }
  if (!config.trusted_proxies.empty()) {
    context_.logger->info("X-Forwarded-For trusted from {} proxy entries", config.trusted_proxies.size());
  }
  if (config.rate_limit <= 0) {
    context_.logger->warn("MPESA_CALLBACK_RATE_LIMIT=0: callback rate limiting is off");
  }
  if (config.api_key.empty()) {
    context_.logger->warn("MPESA_API_KEY is not set: POST /api/payments answers 401 to every request");
  }
}

// The LISTEN/NOTIFY relay wakes long polls for changes made by other instances; the
// reconciler settles payments whose callback never came.
void ServerApp::start_frontend_support() {
  const auto& config = context_.config;
  if (config.public_checkout && config.checkout_rate_limit > 0) {
    context_.logger->warn("MPESA_PUBLIC_CHECKOUT=1: POST /api/checkout starts payments without the API key, "
                          "limited to {} per second per address (burst {})",
                          config.checkout_rate_limit, config.checkout_rate_burst);
  } else if (config.public_checkout) {
    context_.logger->warn("MPESA_PUBLIC_CHECKOUT=1 with MPESA_CHECKOUT_RATE_LIMIT=0: POST /api/checkout starts "
                          "payments without the API key and without a rate limit");
  }
  if (!config.cors_origins.empty()) {
    context_.logger->info("CORS allowed for {} origins (MPESA_CORS_ORIGINS)", config.cors_origins.size());
  }
  if (!config.static_dir.empty()) context_.logger->info("serving {} at /", config.static_dir.string());
  context_.logger->info("status API: at most {} long polls at once, {} requests per second per address",
                        status_api_->max_waiters(), config.status_rate_limit);

  status_listener_ = std::make_unique<StatusListener>(context_.config.database_url, context_.notifier,
                                                      context_.logger);
  status_listener_->start();
  if (!context_.config.reconcile) {
    context_.logger->info("reconciler off (MPESA_RECONCILE=0): run `mpesa-stk reconcile` elsewhere");
    return;
  }
  if (!context_.stk) {
    context_.logger->warn("reconciler off: no Daraja settings to send STK Push Query with");
    return;
  }
  reconciler_ = std::make_unique<Reconciler>(context_.store, context_.stk,
                                             ReconcilerSettings::from_config(context_.config), context_.logger);
  reconciler_->start();
}

void ServerApp::start() {
  std::lock_guard lock(state_mutex_);
  if (started_) return;
  callback_port_ = bind_listener(*callback_server_, context_.config.callback_listen, "MPESA_CALLBACK_LISTEN");
  api_port_ = bind_listener(*api_server_, context_.config.api_listen, "MPESA_API_LISTEN");
  log_security_settings();

  callback_thread_ = std::thread([this] { callback_server_->listen_after_bind(); });
  api_thread_ = std::thread([this] { api_server_->listen_after_bind(); });
  replay_thread_ = std::thread([this] { run_replayer(); });
  start_frontend_support();
  started_ = true;

  const auto scheme = context_.config.tls_cert.empty() ? "http" : "https";
  context_.logger->info("callbacks on {}://{}:{}{}, API on http://{}:{}; {} callback threads, {} API threads",
                        scheme, context_.config.callback_listen.host, callback_port_,
                        context_.config.callback_path, context_.config.api_listen.host, api_port_,
                        context_.config.callback_threads, context_.config.api_threads);
  if (context_.spool->backlog() > 0) {
    context_.logger->warn("{} callbacks wait in the spool {}; replaying when the database answers",
                          context_.spool->backlog(), context_.spool->path().string());
  }
}

std::size_t ServerApp::replay_spool() {
  if (context_.spool->backlog() == 0) return 0;
  auto replayed = context_.spool->replay(
      [this](const SpooledEvent& event) { return callback_endpoint_->store_spooled(event); });
  if (!replayed) {
    context_.logger->debug("spool replay waits for the database: {}", replayed.error().describe());
    return 0;
  }
  if (*replayed > 0) {
    context_.logger->info("replayed {} spooled callbacks; {} left", *replayed, context_.spool->backlog());
  }
  return *replayed;
}

void ServerApp::run_replayer() {
  std::unique_lock lock(state_mutex_);
  while (!stopping_) {
    state_changed_.wait_for(lock, context_.config.spool_replay_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    replay_spool();
    lock.lock();
  }
}

void ServerApp::wait() {
  std::unique_lock lock(state_mutex_);
  state_changed_.wait(lock, [this] { return stopped_ || !started_; });
}

void ServerApp::stop() {
  {
    std::lock_guard lock(state_mutex_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  state_changed_.notify_all();
  context_.logger->info("stopping: finishing in-flight requests");

  // Callbacks first: their in-flight requests finish (and are stored) before anything else
  // goes away. Long-poll waiters are woken so the API pool can drain quickly.
  callback_server_->stop();
  if (callback_thread_.joinable()) callback_thread_.join();
  if (reconciler_) reconciler_->stop();
  if (status_listener_) status_listener_->stop();
  context_.notifier->notify_all();
  api_server_->stop();
  if (api_thread_.joinable()) api_thread_.join();
  if (replay_thread_.joinable()) replay_thread_.join();
  replay_spool();
  if (context_.spool->backlog() > 0) {
    context_.logger->warn("{} callbacks stay in the spool {} for the next start", context_.spool->backlog(),
                          context_.spool->path().string());
  }

  {
    std::lock_guard lock(state_mutex_);
    stopped_ = true;
  }
  state_changed_.notify_all();
  context_.logger->info("stopped");
}

}  // namespace mpesa::server
