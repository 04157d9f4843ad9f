// Feeds arbitrary text to the amount parser and checks the documented range.

#include <string>

#include "fuzz_check.hpp"
#include "mpesa/types.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto amount = mpesa::Amount::parse(mpesa::fuzz::as_text(data, size));
  if (!amount) {
    mpesa::fuzz::expect(amount.error().kind == mpesa::ErrorKind::InvalidRequest,
                        "a refused amount is InvalidRequest");
    return 0;
  }
  const auto shillings = amount->shillings();
  mpesa::fuzz::expect(shillings >= mpesa::Amount::kMin && shillings <= mpesa::Amount::kMax,
                      "an accepted amount lies within Daraja's limits");
  auto again = mpesa::Amount::parse(std::to_string(shillings));
  mpesa::fuzz::expect(again.has_value() && *again == *amount, "an accepted amount parses to itself");
  return 0;
}
