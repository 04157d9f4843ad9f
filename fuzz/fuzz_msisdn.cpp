// Feeds arbitrary text to the phone-number normaliser and checks its documented output form.

#include <algorithm>

#include "fuzz_check.hpp"
#include "mpesa/types.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto phone = mpesa::Msisdn::parse(mpesa::fuzz::as_text(data, size));
  if (!phone) {
    mpesa::fuzz::expect(phone.error().kind == mpesa::ErrorKind::InvalidRequest,
                        "a refused phone number is InvalidRequest");
    return 0;
  }
  const auto& digits = phone->digits();
  mpesa::fuzz::expect(digits.size() == 12, "a normalised number has 12 digits");
  mpesa::fuzz::expect(std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }),
                      "a normalised number holds digits only");
  mpesa::fuzz::expect(digits.starts_with("2547") || digits.starts_with("2541"),
                      "a normalised number starts with 2547 or 2541");
  auto again = mpesa::Msisdn::parse(digits);
  mpesa::fuzz::expect(again.has_value() && *again == *phone, "a normalised number parses to itself");
  mpesa::fuzz::expect(phone->masked().find(digits) == std::string::npos,
                      "the masked number does not hold the full number");
  return 0;
}
