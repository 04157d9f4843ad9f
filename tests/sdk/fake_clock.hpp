#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "mpesa/clock.hpp"

namespace mpesa::testing {

/// A clock that advances only through advance() and sleep_for(). sleep_for() records the delay, advances the
/// steady time by it and calls `on_sleep`, so backoff is tested without waiting.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point utc = {}) : utc_(utc) {}

  std::chrono::system_clock::time_point now_utc() const override {
    const std::lock_guard lock(mutex_);
    return utc_;
  }
  std::chrono::steady_clock::time_point now_steady() const override {
    const std::lock_guard lock(mutex_);
    return steady_;
  }
  void sleep_for(std::chrono::milliseconds duration) const override {
    std::function<void()> hook;
    {
      const std::lock_guard lock(mutex_);
      sleeps_.push_back(duration);
      steady_ += duration;
      hook = on_sleep_;
    }
    if (hook) hook();
  }

  void advance(std::chrono::seconds by) {
    const std::lock_guard lock(mutex_);
    steady_ += by;
    utc_ += by;
  }
  void on_sleep(std::function<void()> hook) {
    const std::lock_guard lock(mutex_);
    on_sleep_ = std::move(hook);
  }
  [[nodiscard]] std::vector<std::chrono::milliseconds> sleeps() const {
    const std::lock_guard lock(mutex_);
    return sleeps_;
  }

 private:
  mutable std::mutex mutex_;
  std::chrono::system_clock::time_point utc_;
  mutable std::chrono::steady_clock::time_point steady_{std::chrono::hours(1000)};
  mutable std::vector<std::chrono::milliseconds> sleeps_;
  std::function<void()> on_sleep_;
};

}  // namespace mpesa::testing
