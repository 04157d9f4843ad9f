// The mpesa-stk command: one binary with a subcommand per task.

#include <iostream>
#include <map>

#include <spdlog/spdlog.h>

#include "command.hpp"
#include "mpesa/config.hpp"

namespace mpesa::cli {
namespace {

std::map<const CLI::App*, CommandRunner>& runners() {
  static std::map<const CLI::App*, CommandRunner> table;
  return table;
}

}  // namespace

void on_run(CLI::App* command, CommandRunner runner) { runners()[command] = std::move(runner); }

}  // namespace mpesa::cli

int main(int argc, char** argv) {
  using namespace mpesa::cli;
  CLI::App app{"mpesa-stk: M-Pesa Express (STK Push) client, callback server and Daraja simulator"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mpesa-stk 0.1.0");
  add_sdk_commands(app);
  add_simulator_command(app);
  add_server_commands(app);
  add_reconcile_command(app);
  add_demo_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int status = app.exit(error);
    return status == 0 ? kExitOk : kExitUsage;
  }

  const CLI::App* chosen = app.get_subcommands().front();
  while (!chosen->get_subcommands().empty()) chosen = chosen->get_subcommands().front();
  const auto found = runners().find(chosen);
  if (found == runners().end()) {
    std::cerr << "mpesa-stk: " << chosen->get_name() << " needs a subcommand; see --help\n";
    return kExitUsage;
  }
  try {
    return found->second();
  } catch (const mpesa::ConfigError& error) {
    std::cerr << "mpesa-stk: configuration error: " << error.what() << "\n";
    return kExitUsage;
  }
}
