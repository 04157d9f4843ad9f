#include "detail/ids.hpp"

#include <fmt/format.h>

#include "mpesa/password.hpp"

namespace mpesa::simulator::detail {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kAlphanumeric =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kUpperAlphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

int digits_at(std::string_view text, std::size_t position, std::size_t count) {
  int value = 0;
  for (std::size_t i = position; i < position + count; ++i) value = value * 10 + (text[i] - '0');
  return value;
}

}  // namespace

IdGenerator::IdGenerator(std::optional<std::uint64_t> seed)
    : engine_(seed ? *seed : std::random_device{}()) {
  sequence_ = 1000000 + engine_() % 9000000;
}

std::string IdGenerator::random_chars(std::string_view alphabet, std::size_t count) {
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string text;
  text.reserve(count);
  for (std::size_t i = 0; i < count; ++i) text.push_back(alphabet[pick(engine_)]);
  return text;
}

std::string IdGenerator::request_id() {
  return fmt::format("{}-{}-{}-{}{}", random_chars(kHex, 4), random_chars(kHex, 4),
                     random_chars(kHex, 4), random_chars(kHex, 12), sequence_++);
}

std::string IdGenerator::access_token() { return random_chars(kAlphanumeric, 28); }

std::string IdGenerator::receipt(std::chrono::system_clock::time_point instant) {
  return receipt_date_prefix(instant) + random_chars(kUpperAlphanumeric, 7);
}

std::string receipt_date_prefix(std::chrono::system_clock::time_point instant) {
  const std::string timestamp = nairobi_timestamp(instant);
  const int year = digits_at(timestamp, 0, 4);
  const int month = digits_at(timestamp, 4, 2);
  const int day = digits_at(timestamp, 6, 2);

  // NOTE: the year letter runs out after Z (2031); later years wrap around to A.
  std::string prefix;
  prefix.push_back(static_cast<char>('A' + ((year - 2006) % 26 + 26) % 26));
  prefix.push_back(static_cast<char>('A' + month - 1));
  prefix.push_back(day < 10 ? static_cast<char>('0' + day) : static_cast<char>('A' + day - 10));
  return prefix;
}

std::string checkout_request_id(std::chrono::system_clock::time_point instant,
                                std::string_view phone) {
  using namespace std::chrono;
  const std::string timestamp = nairobi_timestamp(instant);  // YYYYMMDDHHmmss
  const auto millis = duration_cast<milliseconds>(instant.time_since_epoch()).count() % 1000;
  const std::string_view tail = phone.size() >= 9 ? phone.substr(phone.size() - 9) : phone;
  return fmt::format("ws_CO_{}{}{}{}{}{}", timestamp.substr(6, 2), timestamp.substr(4, 2),
                     timestamp.substr(0, 4), timestamp.substr(8, 6), millis, tail);
}

}  // namespace mpesa::simulator::detail
