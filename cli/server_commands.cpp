#include "command.hpp"

namespace mpesa::cli {

void add_server_commands(CLI::App& app) { (void)app; }

}  // namespace mpesa::cli
