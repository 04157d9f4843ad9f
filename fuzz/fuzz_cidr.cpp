// Feeds arbitrary text to the address, range and allow-list parsers that read
// MPESA_ALLOWED_IPS and the trusted-proxy list.

#include "fuzz_check.hpp"
#include "mpesa/server/address_list.hpp"

using mpesa::server::AddressList;
using mpesa::server::IpAddress;
using mpesa::server::IpRange;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = mpesa::fuzz::as_text(data, size);

  if (const auto address = IpAddress::parse(text)) {
    const auto again = IpAddress::parse(mpesa::server::to_string(*address));
    mpesa::fuzz::expect(again.has_value() && *again == *address,
                        "a formatted address parses back to itself");
  }

  if (const auto range = IpRange::parse(text)) {
    mpesa::fuzz::expect(range->prefix_bits >= 0 && range->prefix_bits <= 128,
                        "a prefix length lies within 0 to 128 bits");
    mpesa::fuzz::expect(range->contains(range->base), "a range contains its own base address");
  }

  auto list = AddressList::parse(text);
  if (!list) {
    mpesa::fuzz::expect(list.error().kind == mpesa::ErrorKind::InvalidRequest,
                        "a rejected address list is InvalidRequest");
    return 0;
  }
  (void)list->contains(std::string_view("196.201.214.200"));
  (void)list->contains(std::string_view("::1"));
  return 0;
}
