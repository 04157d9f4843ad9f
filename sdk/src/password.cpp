#include "mpesa/password.hpp"

#include <cstdio>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace mpesa {
namespace {

// Africa/Nairobi has been UTC+3 without daylight saving since 1960, so a fixed offset is
// exact and does not depend on the host's tz database or TZ variable.
constexpr std::chrono::hours kNairobiOffset{3};

struct CivilTime {
  int year, month, day, hour, minute, second;
};

CivilTime to_nairobi_civil(std::chrono::system_clock::time_point instant) {
  using namespace std::chrono;
  const auto local = time_point_cast<seconds>(instant) + kNairobiOffset;
  const auto day_start = floor<days>(local);
  const year_month_day date{day_start};
  const hh_mm_ss time{local - day_start};
  return {static_cast<int>(date.year()), static_cast<int>(static_cast<unsigned>(date.month())),
          static_cast<int>(static_cast<unsigned>(date.day())), static_cast<int>(time.hours().count()),
          static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count())};
}

}  // namespace

std::string nairobi_timestamp(std::chrono::system_clock::time_point instant) {
  const CivilTime t = to_nairobi_civil(instant);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d%02d%02d%02d%02d%02d", t.year, t.month, t.day, t.hour,
                t.minute, t.second);
  return buffer;
}

std::string nairobi_iso8601(std::chrono::system_clock::time_point instant) {
  const CivilTime t = to_nairobi_civil(instant);
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d+03:00", t.year, t.month,
                t.day, t.hour, t.minute, t.second);
  return buffer;
}

bool parse_nairobi_timestamp(std::string_view digits,
                             std::chrono::system_clock::time_point& instant) {
  using namespace std::chrono;
  if (digits.size() != 14) return false;
  int fields[6] = {};
  const int widths[6] = {4, 2, 2, 2, 2, 2};
  std::size_t position = 0;
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < widths[i]; ++j) {
      const char c = digits[position++];
      if (c < '0' || c > '9') return false;
      fields[i] = fields[i] * 10 + (c - '0');
    }
  }
  const year_month_day date{year{fields[0]}, month{static_cast<unsigned>(fields[1])},
                            day{static_cast<unsigned>(fields[2])}};
  if (!date.ok() || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) return false;
  const auto local = sys_days{date} + hours{fields[3]} + minutes{fields[4]} + seconds{fields[5]};
  instant = local - kNairobiOffset;
  return true;
}

std::string base64_encode(std::string_view bytes) {
  std::string encoded(4 * ((bytes.size() + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  encoded.resize(static_cast<std::size_t>(written));
  return encoded;
}

StkCredentials make_stk_credentials(std::string_view shortcode, std::string_view passkey,
                                    std::chrono::system_clock::time_point instant) {
  StkCredentials credentials;
  credentials.timestamp = nairobi_timestamp(instant);
  std::string plain;
  plain.reserve(shortcode.size() + passkey.size() + credentials.timestamp.size());
  plain.append(shortcode).append(passkey).append(credentials.timestamp);
  credentials.password = base64_encode(plain);
  OPENSSL_cleanse(plain.data(), plain.size());
  return credentials;
}

}  // namespace mpesa
