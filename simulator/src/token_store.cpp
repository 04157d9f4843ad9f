#include "detail/token_store.hpp"

#include <algorithm>

#include "mpesa/secret.hpp"

namespace mpesa::simulator::detail {

void TokenStore::issue(const std::string& consumer_key, std::string token,
                       std::chrono::steady_clock::time_point now) {
  by_consumer_key_[consumer_key] = Issued{std::move(token), now + lifetime_};
}

bool TokenStore::is_valid(std::string_view token,
                          std::chrono::steady_clock::time_point now) const {
  if (token.empty()) return false;
  for (const auto& [key, issued] : by_consumer_key_) {
    if (constant_time_equals(issued.token, token)) return now < issued.expires_at;
  }
  return false;
}

bool RateLimiter::allow(std::chrono::steady_clock::time_point now) {
  if (per_second_ <= 0) return true;
  if (refilled_at_ == std::chrono::steady_clock::time_point{}) refilled_at_ = now;

  const std::chrono::duration<double> elapsed = now - refilled_at_;
  tokens_ = std::min<double>(per_second_, tokens_ + elapsed.count() * per_second_);
  refilled_at_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace mpesa::simulator::detail
