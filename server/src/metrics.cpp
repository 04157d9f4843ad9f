#include "mpesa/server/metrics.hpp"

#include <fmt/format.h>

namespace mpesa::server {
namespace {

constexpr std::array kAllOutcomes = {
    CallbackOutcome::Applied,     CallbackOutcome::Duplicate,    CallbackOutcome::Unmatched,
    CallbackOutcome::AmountMismatch, CallbackOutcome::PhoneMismatch, CallbackOutcome::Malformed,
    CallbackOutcome::LateSuccess, CallbackOutcome::ReceiptAdded, CallbackOutcome::Conflict,
};
constexpr std::array kAllRejections = {Rejection::TooLarge, Rejection::BadSecret,
                                       Rejection::AddressNotAllowed, Rejection::RateLimited,
                                       Rejection::NotJson};
static_assert(kAllOutcomes.size() == Metrics::kOutcomeCount);
static_assert(kAllRejections.size() == Metrics::kRejectionCount);

}  // namespace

std::string_view to_string(Rejection rejection) noexcept {
  switch (rejection) {
    case Rejection::TooLarge: return "too_large";
    case Rejection::BadSecret: return "bad_secret";
    case Rejection::AddressNotAllowed: return "address_not_allowed";
    case Rejection::RateLimited: return "rate_limited";
    case Rejection::NotJson: return "not_json";
  }
  return "unknown";
}

void Metrics::count_outcome(CallbackOutcome outcome) noexcept {
  outcomes_[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::count_rejection(Rejection rejection) noexcept {
  rejections_[static_cast<std::size_t>(rejection)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::observe_latency(std::chrono::nanoseconds latency) noexcept {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::size_t bucket = 0;
  while (bucket < kLatencyBounds.size() && seconds > kLatencyBounds[bucket]) ++bucket;
  latency_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
}

std::uint64_t Metrics::outcome_count(CallbackOutcome outcome) const noexcept {
  return outcomes_[static_cast<std::size_t>(outcome)].load(std::memory_order_relaxed);
}

std::uint64_t Metrics::rejection_count(Rejection rejection) const noexcept {
  return rejections_[static_cast<std::size_t>(rejection)].load(std::memory_order_relaxed);
}

std::string Metrics::render(std::uint64_t spool_backlog) const {
  std::string text;
  text += "# HELP mpesa_callbacks_total Callbacks stored, by what was done with them.\n";
  text += "# TYPE mpesa_callbacks_total counter\n";
  for (const auto outcome : kAllOutcomes) {
    text += fmt::format("mpesa_callbacks_total{{outcome=\"{}\"}} {}\n", to_string(outcome),
                        outcome_count(outcome));
  }
  text += fmt::format("mpesa_callbacks_total{{outcome=\"spooled\"}} {}\n",
                      spooled_.load(std::memory_order_relaxed));

  text += "# HELP mpesa_callback_rejections_total Callback requests rejected before reading the body.\n";
  text += "# TYPE mpesa_callback_rejections_total counter\n";
  for (const auto rejection : kAllRejections) {
    text += fmt::format("mpesa_callback_rejections_total{{reason=\"{}\"}} {}\n", to_string(rejection),
                        rejection_count(rejection));
  }

  text += "# HELP mpesa_callback_duration_seconds Time from the callback handler's start to the acknowledgement.\n";
  text += "# TYPE mpesa_callback_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    cumulative += latency_buckets_[i].load(std::memory_order_relaxed);
    text += fmt::format("mpesa_callback_duration_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBounds[i],
                        cumulative);
  }
  cumulative += latency_buckets_.back().load(std::memory_order_relaxed);
  text += fmt::format("mpesa_callback_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  text += fmt::format("mpesa_callback_duration_seconds_sum {:.9f}\n",
                      static_cast<double>(latency_sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  text += fmt::format("mpesa_callback_duration_seconds_count {}\n", cumulative);

  text += "# HELP mpesa_callback_store_failures_total Callbacks the database could not store (then spooled).\n";
  text += "# TYPE mpesa_callback_store_failures_total counter\n";
  text += fmt::format("mpesa_callback_store_failures_total {}\n", store_failures_.load(std::memory_order_relaxed));
  text += "# HELP mpesa_spool_backlog Callbacks waiting in the local spool for the database.\n";
  text += "# TYPE mpesa_spool_backlog gauge\n";
  text += fmt::format("mpesa_spool_backlog {}\n", spool_backlog);
  text += "# HELP mpesa_payments_created_total Payments created through the API.\n";
  text += "# TYPE mpesa_payments_created_total counter\n";
  text += fmt::format("mpesa_payments_created_total {}\n", payments_created_.load(std::memory_order_relaxed));
  return text;
}

}  // namespace mpesa::server
