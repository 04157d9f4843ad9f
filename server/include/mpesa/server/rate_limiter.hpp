#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "mpesa/server/address_list.hpp"

namespace mpesa::server {

/// A token bucket per client address: `rate` requests per second on average, bursts of up
/// to `burst`. Buckets idle long enough to be full again are dropped, so memory follows the
/// number of recent clients. Thread-safe; addresses are spread over independent shards.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  /// A `rate` of 0 turns limiting off.
  RateLimiter(double rate, double burst);

  /// Takes one token for `address`; false when its bucket is empty.
  [[nodiscard]] bool allow(const IpAddress& address, Clock::time_point now = Clock::now());

  [[nodiscard]] bool enabled() const noexcept { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point refilled;
  };
  struct AddressHash {
    std::size_t operator()(const IpAddress& address) const noexcept;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<IpAddress, Bucket, AddressHash> buckets;
    Clock::time_point last_sweep;
  };
  static constexpr std::size_t kShardCount = 16;

  void sweep(Shard& shard, Clock::time_point now);

  double rate_;
  double burst_;
  std::array<Shard, kShardCount> shards_;
};

}  // namespace mpesa::server
