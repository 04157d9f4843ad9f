#include "command.hpp"

namespace mpesa::cli {

void add_sdk_commands(CLI::App& app) { (void)app; }

}  // namespace mpesa::cli
