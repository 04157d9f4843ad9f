#include "command.hpp"

namespace mpesa::cli {

void add_simulator_command(CLI::App& app) { (void)app; }

}  // namespace mpesa::cli
