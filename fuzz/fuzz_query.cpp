// Feeds arbitrary bytes to the STK Push Query answer parser, once for each HTTP status class
// the parser treats differently.

#include <array>

#include "fuzz_check.hpp"
#include "mpesa/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = mpesa::fuzz::as_text(data, size);
  constexpr std::array kStatuses{200, 400, 404, 500, 503};
  for (const int http_status : kStatuses) {
    auto result = mpesa::parse_query_result(http_status, body);
    if (!result) {
      (void)result.error().describe();
      continue;
    }
    if (result->pending) {
      mpesa::fuzz::expect(result->status() == mpesa::PaymentStatus::Pending,
                          "a pending query answer maps to Pending");
    }
  }
  return 0;
}
