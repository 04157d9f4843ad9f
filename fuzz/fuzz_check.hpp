#pragma once

// Helpers shared by the libFuzzer harnesses: a view of the input and a contract check that
// aborts with a message, so that libFuzzer records the input as a crash.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace mpesa::fuzz {

[[nodiscard]] inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Aborts when a documented contract does not hold for the current input.
inline void expect(bool condition, const char* contract) {
  if (condition) {
    return;
  }
  std::fprintf(stderr, "contract broken: %s\n", contract);
  std::abort();
}

}  // namespace mpesa::fuzz
