#include "mpesa/clock.hpp"

#include <thread>

namespace mpesa {
namespace {

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now_utc() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point now_steady() const override {
    return std::chrono::steady_clock::now();
  }
  void sleep_for(std::chrono::milliseconds duration) const override {
    std::this_thread::sleep_for(duration);
  }
};

}  // namespace

std::shared_ptr<const Clock> system_clock() {
  static const auto clock = std::make_shared<const SystemClock>();
  return clock;
}

}  // namespace mpesa
