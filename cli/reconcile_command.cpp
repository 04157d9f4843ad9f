// `mpesa-stk reconcile`: settles payments whose callback never came, without the server.

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
#include "mpesa/server/pg_payment_store.hpp"
#include "mpesa/server/reconciler.hpp"
#include "mpesa/server/server_config.hpp"
#include "mpesa/stk_client.hpp"

namespace mpesa::cli {
namespace {

struct ReconcileOptions {
  std::string config_file;
  bool once = false;
  bool verbose = false;
  std::map<std::string, std::string> flags;
};

std::shared_ptr<spdlog::logger> reconcile_logger(bool verbose) {
  auto logger = std::make_shared<spdlog::logger>("mpesa-stk",
                                                 std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  return logger;
}

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void print_pass(const server::ReconcilePass& pass) {
  std::cout << fmt::format("claimed {}, queried {}, settled {}, still pending {}, query errors {}, timed out {}\n",
                           pass.claimed, pass.queried, pass.settled, pass.still_pending, pass.transient_errors,
                           pass.timed_out);
}

int run_reconcile(const ReconcileOptions& options) {
  const auto signals = block_stop_signals();
  auto logger = reconcile_logger(options.verbose);
  std::map<std::string, std::string> file;
  if (!options.config_file.empty()) file = read_dotenv(options.config_file);
  const auto config = server::ServerConfig::from_settings([&](std::string_view name) -> std::optional<std::string> {
    const auto flag = options.flags.find(std::string(name));
    if (flag != options.flags.end()) return flag->second;
    return lookup_setting(std::string(name), file);
  });
  if (config.database_url.empty()) {
    throw ConfigError("MPESA_DATABASE_URL is missing: set it to the PostgreSQL URI the server uses");
  }
  std::optional<std::filesystem::path> path;
  if (!options.config_file.empty()) path = options.config_file;
  auto stk = std::make_shared<StkClient>(Config::from_environment(path), logger);
  auto store = std::make_shared<server::PgPaymentStore>(config.database_url, 2);
  server::Reconciler reconciler(store, stk, server::ReconcilerSettings::from_config(config), logger);

  if (options.once) {
    print_pass(reconciler.run_once());
    return kExitOk;
  }
  reconciler.start();
  int received = 0;
  sigwait(&signals, &received);
  logger->info("received {}, stopping the reconciler", received == SIGTERM ? "SIGTERM" : "SIGINT");
  reconciler.stop();
  return kExitOk;
}

}  // namespace

void add_reconcile_command(CLI::App& app) {
  static ReconcileOptions options;
  CLI::App* command = app.add_subcommand(
      "reconcile",
      "Settle pending payments whose callback never came, by STK Push Query, until SIGTERM.\n"
      "Several reconcilers (and servers) may share one database: each payment is claimed by one "
      "at a time. Needs MPESA_DATABASE_URL and the Daraja settings (MPESA_CONSUMER_KEY, ...).");
  command->add_option("--config", options.config_file,
                      "dotenv file with MPESA_* settings; the environment wins over it")
      ->check(CLI::ExistingFile);
  command->add_flag("--once", options.once, "run one pass, print what it did and exit");
  command->add_flag("-v,--verbose", options.verbose, "log debug lines too");
  const auto setting = [&](const std::string& flag, const std::string& variable, const std::string& text) {
    command->add_option_function<std::string>(
        flag, [variable](const std::string& value) { options.flags[variable] = value; },
        fmt::format("{} (env {})", text, variable));
  };
  setting("--database-url", "MPESA_DATABASE_URL",
          "PostgreSQL URI (required); prefer the variable, since flags show in `ps`");
  setting("--reconcile-after", "MPESA_RECONCILE_AFTER", "seconds after a push before backoff starts; default 30");
  setting("--payment-deadline", "MPESA_PAYMENT_DEADLINE", "seconds named in the timed-out description; default 600");
  setting("--query-rate", "MPESA_RECONCILE_QUERY_RATE", "STK Push Queries per second; default 2");
  setting("--query-burst", "MPESA_RECONCILE_QUERY_BURST", "queries allowed at once; default 5");
  on_run(command, [] { return run_reconcile(options); });
}

}  // namespace mpesa::cli
