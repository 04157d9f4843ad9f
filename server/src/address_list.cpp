#include "mpesa/server/address_list.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace mpesa::server {
namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find_first_of(", ", start);
    const auto item = trim(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (!item.empty()) items.push_back(item);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return items;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN] = {};
  std::memcpy(buffer, text.data(), text.size());

  IpAddress address;
  in_addr v4{};
  if (inet_pton(AF_INET, buffer, &v4) == 1) {
    std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), address.bytes.begin());
    std::memcpy(address.bytes.data() + 12, &v4, 4);
    return address;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buffer, &v6) == 1) {
    std::memcpy(address.bytes.data(), &v6, 16);
    return address;
  }
  return std::nullopt;
}

bool IpAddress::is_v4() const noexcept {
  return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin());
}

std::string to_string(const IpAddress& address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (address.is_v4()) {
    inet_ntop(AF_INET, address.bytes.data() + 12, buffer, sizeof buffer);
  } else {
    inet_ntop(AF_INET6, address.bytes.data(), buffer, sizeof buffer);
  }
  return buffer;
}

Result<IpRange> IpRange::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    return fail(invalid_request("address", "'" + std::string(text) +
                                               "' is not an IPv4 or IPv6 address or CIDR range"));
  }
  IpRange range{*address, 128};
  if (slash == std::string_view::npos) return range;

  const auto bits_text = text.substr(slash + 1);
  int bits = -1;
  const auto [end, error] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
  const int max_bits = address->is_v4() ? 32 : 128;
  if (error != std::errc() || end != bits_text.data() + bits_text.size() || bits < 0 || bits > max_bits) {
    return fail(invalid_request("address", "'" + std::string(text) + "' has an invalid prefix length; use 0 to " +
                                               std::to_string(max_bits)));
  }
  range.prefix_bits = address->is_v4() ? bits + 96 : bits;
  return range;
}

bool IpRange::contains(const IpAddress& address) const noexcept {
  const int full_bytes = prefix_bits / 8;
  if (!std::equal(base.bytes.begin(), base.bytes.begin() + full_bytes, address.bytes.begin())) {
    return false;
  }
  const int rest = prefix_bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (base.bytes[full_bytes] & mask) == (address.bytes[full_bytes] & mask);
}

Result<AddressList> AddressList::parse(std::string_view text) {
  std::vector<IpRange> ranges;
  for (const auto item : split_list(text)) {
    auto range = IpRange::parse(item);
    if (!range) return fail(std::move(range.error()));
    ranges.push_back(*range);
  }
  return AddressList(std::move(ranges));
}

bool AddressList::contains(const IpAddress& address) const noexcept {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [&](const IpRange& range) { return range.contains(address); });
}

bool AddressList::contains(std::string_view address) const noexcept {
  const auto parsed = IpAddress::parse(address);
  return parsed && contains(*parsed);
}

std::optional<IpAddress> resolve_client_address(std::string_view peer, std::string_view forwarded_for,
                                                const AddressList& trusted_proxies) {
  const auto peer_address = IpAddress::parse(peer);
  if (!peer_address) return std::nullopt;
  if (forwarded_for.empty() || !trusted_proxies.contains(*peer_address)) return peer_address;

  const auto hops = split_list(forwarded_for);
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    const auto address = IpAddress::parse(*hop);
    if (!address) return std::nullopt;
    if (!trusted_proxies.contains(*address)) return address;
  }
  if (hops.empty()) return peer_address;
  return IpAddress::parse(hops.front());
}

}  // namespace mpesa::server
