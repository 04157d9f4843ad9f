#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace mpesa::cli {

/// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
/// A failure reported by Daraja, the database or the input (bad phone, malformed file).
inline constexpr int kExitFailure = 1;
/// A usage or configuration error: wrong flags, missing or invalid MPESA_* variables.
inline constexpr int kExitUsage = 2;

/// The body of a subcommand; returns the exit status.
using CommandRunner = std::function<int()>;

/// Registers `runner` to run when `command` is the subcommand chosen on the command line.
void on_run(CLI::App* command, CommandRunner runner);

/// Adds `push`, `query` and `parse`.
void add_sdk_commands(CLI::App& app);
/// Adds `simulate`.
void add_simulator_command(CLI::App& app);
/// Adds `serve` and `migrate`.
void add_server_commands(CLI::App& app);
/// Adds `reconcile`.
void add_reconcile_command(CLI::App& app);
/// Adds `demo`.
void add_demo_command(CLI::App& app);

}  // namespace mpesa::cli
