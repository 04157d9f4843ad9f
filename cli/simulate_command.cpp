// `mpesa-stk simulate`: runs the Daraja simulator in the foreground until SIGINT or SIGTERM.

#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "mpesa/config.hpp"
#include "mpesa/simulator/outcomes.hpp"
#include "mpesa/simulator/simulator.hpp"

namespace mpesa::cli {
namespace {

struct SimulateOptions {
  std::string listen = "127.0.0.1:18089";
  std::string config_file;
  long long answer_delay_ms = 3000;
  long long callback_delay_ms = 300;
  long long late_callback_timeout_ms = 60000;
  long long token_lifetime_s = 3599;
  long long timestamp_tolerance_s = 300;
  int rate_limit = 0;
  std::optional<std::uint64_t> seed;
  int callback_retries = 0;
  std::string pending_query_form = "error";
  bool manual = false;
};

struct ListenAddress {
  std::string host;
  int port = 0;
};

ListenAddress parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  const auto bad = [&] {
    return ConfigError(fmt::format(
        "--listen \"{}\" is invalid: give HOST:PORT such as 127.0.0.1:18089", text));
  };
  if (colon == std::string::npos || colon == 0) throw bad();
  const std::string port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos) {
    throw bad();
  }
  const int port = std::stoi(port_text);
  if (port > 65535) throw bad();
  return {text.substr(0, colon), port};
}

// Reads the same MPESA_* variables as the SDK, so one environment file drives both.
// The shortcode and passkey fall back to Daraja's public sandbox values.
simulator::SimulatorConfig config_from_environment(const SimulateOptions& options) {
  std::map<std::string, std::string> file;
  if (!options.config_file.empty()) file = read_dotenv(options.config_file);

  simulator::SimulatorConfig config;
  const auto key = lookup_setting("MPESA_CONSUMER_KEY", file);
  const auto secret = lookup_setting("MPESA_CONSUMER_SECRET", file);
  if (!key) {
    throw ConfigError("MPESA_CONSUMER_KEY is not set: set it (any value) in the environment or "
                      "the --config file, the same value the SDK will send");
  }
  if (!secret) {
    throw ConfigError("MPESA_CONSUMER_SECRET is not set: set it (any value) in the environment "
                      "or the --config file, the same value the SDK will send");
  }
  config.consumer_key = *key;
  config.consumer_secret = Secret(*secret);

  if (const auto shortcode = lookup_setting("MPESA_SHORTCODE", file)) {
    config.shortcode = *shortcode;
  } else {
    spdlog::info("MPESA_SHORTCODE is not set; using Daraja's public sandbox shortcode {}",
                 simulator::kSandboxShortcode);
  }
  if (const auto passkey = lookup_setting("MPESA_PASSKEY", file)) {
    config.passkey = Secret(*passkey);
  } else {
    spdlog::info("MPESA_PASSKEY is not set; using Daraja's public sandbox passkey");
  }
  return config;
}

void apply_options(const SimulateOptions& options, simulator::SimulatorConfig& config) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  config.answer_delay = milliseconds(options.answer_delay_ms);
  config.callback_delay = milliseconds(options.callback_delay_ms);
  config.late_callback_timeout = milliseconds(options.late_callback_timeout_ms);
  config.token_lifetime = seconds(options.token_lifetime_s);
  config.timestamp_tolerance = seconds(options.timestamp_tolerance_s);
  config.rate_limit_per_second = options.rate_limit;
  config.seed = options.seed;
  config.callback_retries = options.callback_retries;
  config.manual = options.manual;

  const auto form = simulator::parse_pending_query_form(options.pending_query_form);
  if (!form) {
    throw ConfigError(fmt::format("--pending-query-form \"{}\" is invalid: use error or 4999",
                                  options.pending_query_form));
  }
  config.pending_query_form = *form;
}

// Blocks SIGINT and SIGTERM in this thread and every thread started after, so that
// wait_for_stop_signal() receives them instead of the default handler killing the process.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int wait_for_stop_signal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

int run_simulator(const SimulateOptions& options) {
  const ListenAddress address = parse_listen(options.listen);
  simulator::SimulatorConfig config = config_from_environment(options);
  apply_options(options, config);

  const sigset_t signals = block_stop_signals();
  simulator::Simulator simulator(std::move(config));
  simulator.start(address.host, address.port);
  spdlog::info("set MPESA_BASE_URL={} for the SDK; stop with Ctrl-C", simulator.base_url());

  const int received = wait_for_stop_signal(signals);
  spdlog::info("received {}; stopping", received == SIGINT ? "SIGINT" : "SIGTERM");
  simulator.stop();
  return kExitOk;
}

std::string help_footer() {
  return fmt::format(
      "Environment (or the --config file): MPESA_CONSUMER_KEY and MPESA_CONSUMER_SECRET are\n"
      "required and are the only credentials OAuth accepts. MPESA_SHORTCODE and MPESA_PASSKEY\n"
      "default to Daraja's public sandbox values (174379 and its published passkey).\n\n"
      "Each accepted push is answered after --answer-delay-ms, by the last two digits of\n"
      "PhoneNumber (254708374149, Daraja's sandbox test number, ends in 49: success):\n{}\n"
      "Control: GET /simulator/pushes lists pushes; POST\n"
      "/simulator/pushes/{{CheckoutRequestID}}/resolve with {{\"ResultCode\": 1032}} settles one.\n"
      "See docs/simulator.md.",
      simulator::outcome_table_text());
}

void add_timing_options(CLI::App* command, SimulateOptions& options) {
  command->add_option("--answer-delay-ms", options.answer_delay_ms,
                      "milliseconds the simulated customer takes to answer a push")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--callback-delay-ms", options.callback_delay_ms,
                      "milliseconds between the answer and the callback POST")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--late-callback-timeout-ms", options.late_callback_timeout_ms,
                      "for the late-callback outcome: milliseconds to wait for a query before "
                      "sending the callback anyway")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--token-lifetime", options.token_lifetime_s,
                      "access token lifetime in seconds, sent as expires_in")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--timestamp-tolerance", options.timestamp_tolerance_s,
                      "seconds a request Timestamp may differ from Nairobi time")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

void add_behaviour_options(CLI::App* command, SimulateOptions& options) {
  command->add_option("--rate-limit", options.rate_limit,
                      "push and query requests per second before the spike-arrest error; 0 is off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--seed", options.seed,
                      "seed for tokens, request ids and receipts, for repeatable runs");
  command->add_option("--callback-retries", options.callback_retries,
                      "extra attempts for a failed callback POST (1 s, then doubling); 0 logs "
                      "the failure and drops the callback")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--pending-query-form", options.pending_query_form,
                      "how a query reports an unanswered push: error (HTTP 500, 500.001.1001 "
                      "\"being processed\") or 4999 (HTTP 200, ResultCode 4999)")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "4999"}));
  command->add_flag("--manual", options.manual,
                    "leave every push pending until POST /simulator/pushes/{id}/resolve");
}

}  // namespace

void add_simulator_command(CLI::App& app) {
  auto options = std::make_shared<SimulateOptions>();
  CLI::App* command = app.add_subcommand(
      "simulate", "Run a local Daraja (OAuth, STK Push, STK Push Query) that plays the customer");
  command->footer(help_footer());

  command->add_option("--listen", options->listen, "HOST:PORT to serve on")->capture_default_str();
  command->add_option("--config", options->config_file,
                      "dotenv file with MPESA_* values; the environment wins over it");
  add_timing_options(command, *options);
  add_behaviour_options(command, *options);

  on_run(command, [options] { return run_simulator(*options); });
}

}  // namespace mpesa::cli
