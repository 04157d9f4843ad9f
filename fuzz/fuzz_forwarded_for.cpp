// Feeds arbitrary requests to the client-address resolution that reads X-Forwarded-For.
// The input is split at its first two newlines into the peer address, the trusted-proxy
// list and the header value.

#include "fuzz_check.hpp"
#include "mpesa/server/address_list.hpp"

using mpesa::server::AddressList;
using mpesa::server::IpAddress;

namespace {

/// Removes and returns the text before the first newline; all of `rest` when there is none.
std::string_view take_line(std::string_view& rest) {
  const auto end = rest.find('\n');
  const auto line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto rest = mpesa::fuzz::as_text(data, size);
  const auto peer = take_line(rest);
  const auto trusted_text = take_line(rest);
  const auto forwarded_for = rest;

  auto trusted = AddressList::parse(trusted_text);
  if (!trusted) {
    return 0;
  }
  const auto client = mpesa::server::resolve_client_address(peer, forwarded_for, *trusted);

  const auto peer_address = IpAddress::parse(peer);
  if (peer_address && !trusted->contains(*peer_address)) {
    mpesa::fuzz::expect(client.has_value() && *client == *peer_address,
                        "X-Forwarded-For from an untrusted peer is ignored");
  }
  if (client) {
    (void)mpesa::server::to_string(*client);
  }
  return 0;
}
