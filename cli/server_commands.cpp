// `mpesa-stk serve` and `mpesa-stk migrate`: the callback server and its schema.

#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "mpesa/config.hpp"
#include "mpesa/server/migrations.hpp"
#include "mpesa/server/server_app.hpp"
#include "mpesa/stk_client.hpp"

namespace mpesa::cli {
namespace {

using server::ServerConfig;

struct ServerOptions {
  std::string config_file;
  bool verbose = false;
  bool migrate = false;
  bool insecure_no_secret = false;
  /// Flag values by the environment variable they override.
  std::map<std::string, std::string> flags;
};

std::shared_ptr<spdlog::logger> server_logger(bool verbose) {
  auto logger = std::make_shared<spdlog::logger>("mpesa-stk",
                                                 std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  return logger;
}

std::map<std::string, std::string> dotenv_values(const ServerOptions& options) {
  if (options.config_file.empty()) return {};
  return read_dotenv(options.config_file);
}

// Flags win over the environment, which wins over the dotenv file.
ServerConfig::Lookup settings_lookup(const ServerOptions& options,
                                     const std::map<std::string, std::string>& file) {
  return [&options, &file](std::string_view name) -> std::optional<std::string> {
    const auto flag = options.flags.find(std::string(name));
    if (flag != options.flags.end()) return flag->second;
    return lookup_setting(std::string(name), file);
  };
}

// The Daraja client is needed only to initiate payments; a server that only receives
// callbacks runs without Daraja settings.
std::shared_ptr<StkApi> make_stk_client(const ServerOptions& options,
                                        const std::map<std::string, std::string>& file,
                                        const std::shared_ptr<spdlog::logger>& logger) {
  const bool wanted = lookup_setting("MPESA_API_KEY", file) || lookup_setting("MPESA_CONSUMER_KEY", file);
  if (!wanted) return nullptr;
  std::optional<std::filesystem::path> path;
  if (!options.config_file.empty()) path = options.config_file;
  return std::make_shared<StkClient>(Config::from_environment(path), logger);
}

server::PaymentSettings payment_settings(const std::shared_ptr<StkApi>& stk) {
  server::PaymentSettings settings;
  if (const auto* client = dynamic_cast<const StkClient*>(stk.get())) {
    settings.shortcode = client->config().shortcode;
    settings.transaction_type = client->config().transaction_type;
  }
  return settings;
}

int run_migrate(const ServerOptions& options) {
  const auto file = dotenv_values(options);
  const auto url = settings_lookup(options, file)("MPESA_DATABASE_URL");
  if (!url || url->empty()) {
    throw ConfigError("MPESA_DATABASE_URL is missing: set it (or --database-url) to a PostgreSQL URI");
  }
  const auto report = server::apply_migrations(Secret(*url));
  if (!report) {
    std::cerr << "mpesa-stk: " << report.error().describe() << "\n";
    return kExitFailure;
  }
  for (const auto& name : report->applied) std::cout << "applied " << name << "\n";
  std::cout << "schema at version " << report->version
            << (report->applied.empty() ? " (already current)" : "") << "\n";
  return kExitOk;
}

// SIGTERM and SIGINT are blocked in every thread and taken by sigwait() on the main thread,
// so a signal never interrupts a worker in the middle of a request.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int run_serve(ServerOptions& options) {
  const auto signals = block_stop_signals();
  auto logger = server_logger(options.verbose);
  const auto file = dotenv_values(options);
  auto config = ServerConfig::from_settings(settings_lookup(options, file));
  config.insecure_no_secret = options.insecure_no_secret;
  config.migrate = options.migrate;
  config.validate();

  if (config.migrate) {
    const auto report = server::apply_migrations(config.database_url);
    if (!report) {
      logger->error("migration failed: {}", report.error().describe());
      return kExitFailure;
    }
    logger->info("schema at version {} ({} migrations applied now)", report->version, report->applied.size());
  }

  auto stk = make_stk_client(options, file, logger);
  if (!stk) logger->info("no Daraja settings (MPESA_CONSUMER_KEY): serving callbacks only");
  server::ServerApp app(std::move(config), nullptr, stk, payment_settings(stk), logger);
  app.start();

  int received = 0;
  sigwait(&signals, &received);
  logger->info("received {}, shutting down", received == SIGTERM ? "SIGTERM" : "SIGINT");
  app.stop();
  return kExitOk;
}

void add_flag_setting(CLI::App* command, ServerOptions& options, const std::string& flag,
                      const std::string& variable, const std::string& description) {
  command->add_option_function<std::string>(
      flag, [&options, variable](const std::string& value) { options.flags[variable] = value; },
      fmt::format("{} (env {})", description, variable));
}

void add_serve_options(CLI::App* serve, ServerOptions& options) {
  add_flag_setting(serve, options, "--callback-listen", "MPESA_CALLBACK_LISTEN",
                   "host:port of the listener Daraja posts callbacks to; default 0.0.0.0:8000");
  add_flag_setting(serve, options, "--api-listen", "MPESA_API_LISTEN",
                   "host:port of the API, /healthz, /readyz and /metrics; default 127.0.0.1:8080");
  add_flag_setting(serve, options, "--callback-path", "MPESA_CALLBACK_PATH",
                   "callback route, also served as PATH/{secret}; default /mpesa/callback");
  add_flag_setting(serve, options, "--allowed-ips", "MPESA_ALLOWED_IPS",
                   "callback source addresses and CIDR ranges, comma separated, or 'any'; default "
                   "Safaricom's 12 published addresses");
  add_flag_setting(serve, options, "--trusted-proxies", "MPESA_TRUSTED_PROXIES",
                   "proxies whose X-Forwarded-For is believed, addresses or CIDR; default none");
  add_flag_setting(serve, options, "--rate-limit", "MPESA_CALLBACK_RATE_LIMIT",
                   "callbacks per second per source address, 0 for no limit; default 50");
  add_flag_setting(serve, options, "--rate-burst", "MPESA_CALLBACK_RATE_BURST",
                   "burst size of the rate limit; default twice the rate");
  add_flag_setting(serve, options, "--max-body-bytes", "MPESA_CALLBACK_MAX_BYTES",
                   "largest callback body accepted, in bytes; default 65536");
  add_flag_setting(serve, options, "--callback-threads", "MPESA_CALLBACK_THREADS",
                   "worker threads of the callback listener, one per open connection; default 64");
  add_flag_setting(serve, options, "--batch-max", "MPESA_CALLBACK_BATCH_MAX",
                   "most callbacks committed in one transaction, 1 for none; default 128");
  add_flag_setting(serve, options, "--batch-workers", "MPESA_CALLBACK_BATCH_WORKERS",
                   "callback batches committed at once; default 4");
  add_flag_setting(serve, options, "--api-threads", "MPESA_API_THREADS",
                   "worker threads of the API listener, one per open connection; default 16");
  add_flag_setting(serve, options, "--tls-cert", "MPESA_TLS_CERT",
                   "PEM certificate: serve callbacks over HTTPS; default none (plain HTTP)");
  add_flag_setting(serve, options, "--tls-key", "MPESA_TLS_KEY", "PEM private key of --tls-cert; default none");
  add_flag_setting(serve, options, "--database-url", "MPESA_DATABASE_URL",
                   "PostgreSQL URI (required); prefer the variable, since flags show in `ps`");
  add_flag_setting(serve, options, "--db-pool-size", "MPESA_DB_POOL_SIZE",
                   "database connections; default batch workers + API threads + 2");
  add_flag_setting(serve, options, "--spool-path", "MPESA_SPOOL_PATH",
                   "file that keeps callbacks while PostgreSQL is unreachable; default "
                   "./mpesa-callback-spool.log");
  add_flag_setting(serve, options, "--reconcile-after", "MPESA_RECONCILE_AFTER",
                   "seconds after a push before the first STK Push Query; default 30");
  add_flag_setting(serve, options, "--payment-deadline", "MPESA_PAYMENT_DEADLINE",
                   "seconds after which a pending payment is timed out; default 600");
  add_flag_setting(serve, options, "--static", "MPESA_STATIC_DIR",
                   "folder served at / on the API listener, such as examples/web; default none");
  add_flag_setting(serve, options, "--cors-origins", "MPESA_CORS_ORIGINS",
                   "origins allowed to call the status and checkout routes from a browser, comma "
                   "separated, or *; default none");
  add_flag_setting(serve, options, "--public-checkout", "MPESA_PUBLIC_CHECKOUT",
                   "1 enables POST /api/checkout for browsers (no API key, rate limited); default 0");
  add_flag_setting(serve, options, "--reconcile-query-rate", "MPESA_RECONCILE_QUERY_RATE",
                   "STK Push Queries per second the reconciler may send; default 2");
  add_flag_setting(serve, options, "--status-max-waiters", "MPESA_STATUS_MAX_WAITERS",
                   "long polls held at once; default half the API threads");
  serve->add_flag_callback("--no-reconcile", [&options] { options.flags["MPESA_RECONCILE"] = "0"; },
                           "do not run the reconciler in this process (run `mpesa-stk reconcile`)");
  serve->add_flag("--migrate", options.migrate, "apply database migrations before serving");
  serve->add_flag("--insecure-no-secret", options.insecure_no_secret,
                  "accept callbacks without MPESA_CALLBACK_SECRET (local testing only; logged loudly)");
}

}  // namespace

void add_server_commands(CLI::App& app) {
  static ServerOptions serve_options;
  static ServerOptions migrate_options;

  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the callback server and payments API on PostgreSQL.\n"
      "Secrets come only from the environment (or --config): MPESA_CALLBACK_SECRET (required, comma "
      "separated for rotation; send it as the last path segment, ?secret= or the X-Callback-Secret "
      "header) and MPESA_API_KEY (bearer key of POST /api/payments). Daraja settings "
      "(MPESA_CONSUMER_KEY, ...) enable POST /api/payments. SIGTERM stops gracefully.");
  serve->add_option("--config", serve_options.config_file,
                    "dotenv file with MPESA_* settings; the environment wins over it")
      ->check(CLI::ExistingFile);
  serve->add_flag("-v,--verbose", serve_options.verbose, "log debug lines too");
  add_serve_options(serve, serve_options);
  on_run(serve, [] { return run_serve(serve_options); });

  CLI::App* migrate = app.add_subcommand(
      "migrate", "Apply the database migrations (safe to run again, and from two processes at once)");
  migrate->add_option("--config", migrate_options.config_file,
                      "dotenv file with MPESA_* settings; the environment wins over it")
      ->check(CLI::ExistingFile);
  add_flag_setting(migrate, migrate_options, "--database-url", "MPESA_DATABASE_URL",
                   "PostgreSQL URI (required); prefer the variable, since flags show in `ps`");
  on_run(migrate, [] { return run_migrate(migrate_options); });
}

}  // namespace mpesa::cli
