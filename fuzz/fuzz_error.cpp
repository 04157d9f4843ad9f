// Feeds arbitrary bytes to Daraja's error-body parser and to the classifier that turns a
// failed answer into an Error, for push and non-push calls and each status class.

#include <array>

#include "fuzz_check.hpp"
#include "mpesa/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = mpesa::fuzz::as_text(data, size);
  (void)mpesa::parse_daraja_error(body);
  constexpr std::array kStatuses{400, 401, 403, 404, 429, 500, 502, 503};
  for (const int http_status : kStatuses) {
    for (const bool is_push : {true, false}) {
      const auto error = mpesa::classify_daraja_error(http_status, body, is_push);
      (void)error.describe();
      (void)error.retryable();
    }
  }
  return 0;
}
