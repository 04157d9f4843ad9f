#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

namespace mpesa::simulator::detail {

/// The access tokens in force: at most one per consumer key, because Daraja documents that
/// generating a new token invalidates the previous one. Not thread-safe.
class TokenStore {
 public:
  explicit TokenStore(std::chrono::seconds lifetime) : lifetime_(lifetime) {}

  /// Records `token` for `consumer_key`, replacing that key's previous token.
  void issue(const std::string& consumer_key, std::string token,
             std::chrono::steady_clock::time_point now);
  /// True when `token` is some key's current token and has not expired at `now`.
  [[nodiscard]] bool is_valid(std::string_view token,
                              std::chrono::steady_clock::time_point now) const;

 private:
  struct Issued {
    std::string token;
    std::chrono::steady_clock::time_point expires_at;
  };
  std::chrono::seconds lifetime_;
  std::map<std::string, Issued> by_consumer_key_;
};

/// A token bucket: `per_second` requests a second with bursts of the same size. Not
/// thread-safe.
class RateLimiter {
 public:
  /// `per_second` 0 allows everything.
  explicit RateLimiter(int per_second) : per_second_(per_second), tokens_(per_second) {}

  /// Takes one token; false when the bucket is empty.
  [[nodiscard]] bool allow(std::chrono::steady_clock::time_point now);

 private:
  int per_second_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_at_{};
};

}  // namespace mpesa::simulator::detail
