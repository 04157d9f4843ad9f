#pragma once

#include <chrono>
#include <memory>

namespace mpesa {

/// The source of time for the SDK. Tests pass a fake to control token expiry, backoff and
/// the Daraja timestamp without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time, for Daraja timestamps.
  [[nodiscard]] virtual std::chrono::system_clock::time_point now_utc() const = 0;
  /// Monotonic time, for expiries and timeouts.
  [[nodiscard]] virtual std::chrono::steady_clock::time_point now_steady() const = 0;
  /// Blocks the calling thread for `duration` (backoff between retries).
  virtual void sleep_for(std::chrono::milliseconds duration) const = 0;
};

/// The process clock: std::chrono's system and steady clocks and std::this_thread.
[[nodiscard]] std::shared_ptr<const Clock> system_clock();

}  // namespace mpesa
