#pragma once

// The SDK's only retry rules. Every Daraja call goes through with_retries(), so what may be
// resent, and how long to wait, is decided here and nowhere else.

#include <chrono>
#include <string_view>

#include "mpesa/clock.hpp"
#include "mpesa/config.hpp"
#include "mpesa/error.hpp"

namespace mpesa::detail {

/// What a call does to Daraja, which decides what may be resent.
enum class CallKind {
  /// OAuth token requests and STK queries: resending them changes nothing.
  Idempotent,
  /// STK pushes: a resend is a second prompt on the customer's phone.
  Push,
};

struct RetryDecision {
  bool retry = false;
  /// Why, for the log line: "connection failed before sending", "push may have arrived".
  std::string_view reason;
};

/// Decides whether the call that failed with `error` on attempt `attempt` (1-based) is sent
/// again. A push is resent only after a Network error, which the transport reports only when
/// no byte left the process.
[[nodiscard]] RetryDecision should_retry(const Error& error, CallKind kind, int attempt,
                                         const RetryPolicy& policy) noexcept;

/// The wait before attempt `attempt + 1`: exponential from the base delay, capped, with
/// "equal jitter" (half fixed, half random) so that clients do not retry in step.
[[nodiscard]] std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt);

/// Calls `attempt()` until it succeeds or should_retry() returns false, sleeping on `clock`
/// between attempts. `on_retry(error, decision, delay)` is called before each resend.
template <typename Attempt, typename OnRetry>
auto with_retries(CallKind kind, const RetryPolicy& policy, const Clock& clock,
                  Attempt&& attempt, OnRetry&& on_retry) -> decltype(attempt()) {
  for (int number = 1;; ++number) {
    auto result = attempt();
    if (result) return result;
    const RetryDecision decision = should_retry(result.error(), kind, number, policy);
    if (!decision.retry) return result;
    const auto delay = backoff_delay(policy, number);
    on_retry(result.error(), decision, delay);
    clock.sleep_for(delay);
  }
}

}  // namespace mpesa::detail
