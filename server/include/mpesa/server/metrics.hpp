#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "mpesa/server/payment_store.hpp"

namespace mpesa::server {

/// The reason the callback route rejected a request before reading its body.
enum class Rejection { TooLarge, BadSecret, AddressNotAllowed, RateLimited, NotJson };

/// Returns the label used in metrics and logs ("bad_secret").
[[nodiscard]] std::string_view to_string(Rejection rejection) noexcept;

/// Counters of the server, rendered in the Prometheus text format. Lock-free; every method is
/// safe from any thread.
class Metrics {
 public:
  static constexpr std::size_t kOutcomeCount = 9;
  static constexpr std::size_t kRejectionCount = 5;
  /// Upper bounds of the callback latency histogram, in seconds.
  static constexpr std::array<double, 12> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                           0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  void count_outcome(CallbackOutcome outcome) noexcept;
  void count_spooled() noexcept { spooled_.fetch_add(1, std::memory_order_relaxed); }
  void count_rejection(Rejection rejection) noexcept;
  void count_store_failure() noexcept { store_failures_.fetch_add(1, std::memory_order_relaxed); }
  void observe_latency(std::chrono::nanoseconds latency) noexcept;
  void count_payment_created() noexcept { payments_created_.fetch_add(1, std::memory_order_relaxed); }

  [[nodiscard]] std::uint64_t outcome_count(CallbackOutcome outcome) const noexcept;
  [[nodiscard]] std::uint64_t rejection_count(Rejection rejection) const noexcept;

  /// Renders every counter. `spool_backlog` is the number of events waiting in the spool.
  [[nodiscard]] std::string render(std::uint64_t spool_backlog) const;

 private:
  std::array<std::atomic<std::uint64_t>, kOutcomeCount> outcomes_{};
  std::array<std::atomic<std::uint64_t>, kRejectionCount> rejections_{};
  std::array<std::atomic<std::uint64_t>, kLatencyBounds.size() + 1> latency_buckets_{};
  std::atomic<std::uint64_t> latency_sum_ns_{0};
  std::atomic<std::uint64_t> spooled_{0};
  std::atomic<std::uint64_t> store_failures_{0};
  std::atomic<std::uint64_t> payments_created_{0};
};

}  // namespace mpesa::server
