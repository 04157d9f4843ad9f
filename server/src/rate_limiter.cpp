#include "mpesa/server/rate_limiter.hpp"

#include <algorithm>

namespace mpesa::server {

RateLimiter::RateLimiter(double rate, double burst)
    : rate_(std::max(rate, 0.0)), burst_(std::max(burst, 1.0)) {}

std::size_t RateLimiter::AddressHash::operator()(const IpAddress& address) const noexcept {
  // FNV-1a over the 16 bytes.
  std::size_t hash = 1469598103934665603ULL;
  for (const auto byte : address.bytes) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  }
  return hash;
}

bool RateLimiter::allow(const IpAddress& address, Clock::time_point now) {
  if (!enabled()) return true;
  auto& shard = shards_[AddressHash{}(address) % kShardCount];
  std::lock_guard lock(shard.mutex);
  sweep(shard, now);

  auto [entry, inserted] = shard.buckets.try_emplace(address, Bucket{burst_, now});
  auto& bucket = entry->second;
  if (!inserted) {
    const std::chrono::duration<double> elapsed = now - bucket.refilled;
    bucket.tokens = std::min(burst_, bucket.tokens + elapsed.count() * rate_);
    bucket.refilled = now;
  }
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

void RateLimiter::sweep(Shard& shard, Clock::time_point now) {
  // A bucket untouched for the time it takes to refill completely is the same as no bucket.
  const auto refill_time = std::chrono::duration<double>(burst_ / rate_);
  if (now - shard.last_sweep < refill_time) return;
  shard.last_sweep = now;
  std::erase_if(shard.buckets, [&](const auto& entry) { return now - entry.second.refilled >= refill_time; });
}

}  // namespace mpesa::server
