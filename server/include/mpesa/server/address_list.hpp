#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpesa/error.hpp"

namespace mpesa::server {

/// An IPv4 or IPv6 address as 16 bytes; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d), so a
/// dual-stack listener's "::ffff:196.201.214.200" and "196.201.214.200" compare equal.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};

  /// Parses a textual IPv4 or IPv6 address (no port, no brackets, no zone).
  [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text);
  [[nodiscard]] bool is_v4() const noexcept;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

/// An address with a prefix length: "196.201.214.0/24", "2001:db8::/32" or a single address.
struct IpRange {
  IpAddress base;
  /// Prefix length in bits of the 16-byte form (an IPv4 /24 is stored as /120).
  int prefix_bits = 128;

  [[nodiscard]] static Result<IpRange> parse(std::string_view text);
  [[nodiscard]] bool contains(const IpAddress& address) const noexcept;
};

/// A list of address ranges, from comma- or space-separated text.
class AddressList {
 public:
  AddressList() = default;
  explicit AddressList(std::vector<IpRange> ranges) : ranges_(std::move(ranges)) {}

  /// Parses "a.b.c.d, e.f.g.h/24, 2001:db8::/32". Errors: InvalidRequest naming the bad entry.
  [[nodiscard]] static Result<AddressList> parse(std::string_view text);

  [[nodiscard]] bool contains(const IpAddress& address) const noexcept;
  [[nodiscard]] bool contains(std::string_view address) const noexcept;
  [[nodiscard]] bool empty() const noexcept { return ranges_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return ranges_.size(); }

 private:
  std::vector<IpRange> ranges_;
};

/// Safaricom's published Daraja callback source addresses, the default allow list. The list
/// changes, so deployments override it with MPESA_ALLOWED_IPS.
inline constexpr std::string_view kSafaricomCallbackAddresses =
    "196.201.214.200,196.201.214.206,196.201.214.207,196.201.214.208,"
    "196.201.213.114,196.201.213.44,"
    "196.201.212.127,196.201.212.129,196.201.212.136,196.201.212.138,196.201.212.74,"
    "196.201.212.69";

/// Finds the client address of a request.
///
/// X-Forwarded-For is trusted only when the connecting peer is a trusted proxy. Then the
/// list is walked from the right past trusted hops, and the first untrusted hop is the
/// client. Every hop appends the address it saw, so only the entries added by our own
/// proxies are trustworthy. When every hop is trusted, the left-most is used. Returns
/// nothing when an entry the walk reaches is not an address.
[[nodiscard]] std::optional<IpAddress> resolve_client_address(std::string_view peer,
                                                              std::string_view forwarded_for,
                                                              const AddressList& trusted_proxies);

/// Formats an address for logs and the event row ("196.201.214.200", "2001:db8::1").
[[nodiscard]] std::string to_string(const IpAddress& address);

}  // namespace mpesa::server
