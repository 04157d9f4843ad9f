#include "detail/retry.hpp"

#include <algorithm>
#include <random>

namespace mpesa::detail {

RetryDecision should_retry(const Error& error, CallKind kind, int attempt,
                           const RetryPolicy& policy) noexcept {
  if (attempt >= policy.max_attempts) return {false, "no attempts left"};
  if (error.kind == ErrorKind::Network) return {true, "the request was not sent"};
  if (kind == CallKind::Push) {
    return {false, "a push is resent only when it provably never left the process"};
  }
  switch (error.kind) {
    case ErrorKind::Timeout: return {true, "timed out"};
    case ErrorKind::RateLimited: return {true, "rate limited by Daraja"};
    case ErrorKind::Unavailable: return {true, "Daraja is unavailable"};
    default: return {false, "the error is final"};
  }
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt) {
  const int doublings = std::clamp(attempt - 1, 0, 20);
  const auto exponential = policy.base_delay * (std::int64_t{1} << doublings);
  const auto capped = std::min<std::chrono::milliseconds>(exponential, policy.max_delay);
  const std::int64_t half = capped.count() / 2;
  thread_local std::minstd_rand random{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> jitter(0, std::max<std::int64_t>(half, 0));
  return std::chrono::milliseconds(capped.count() - half + jitter(random));
}

}  // namespace mpesa::detail
