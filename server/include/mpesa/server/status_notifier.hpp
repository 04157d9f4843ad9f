#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mpesa::server {

/// Wakes threads waiting for a payment's status to change, within one process.
///
/// A waiter subscribes first, then reads the payment, then waits: a change that happens
/// between the read and the wait is not lost, because the subscription remembers the change
/// count it started from. The store calls notify() after every committed status change; a
/// LISTEN/NOTIFY relay can call it too for changes made by other instances. Thread-safe.
class StatusNotifier {
 public:
  class Subscription;

  /// Starts watching `public_id`. Keep the subscription alive while waiting.
  [[nodiscard]] Subscription subscribe(std::string public_id);

  /// Wakes every waiter on `public_id`. Costs one map lookup when no thread waits.
  void notify(std::string_view public_id);

  /// Wakes every waiter on every payment (shutdown).
  void notify_all();

  /// Number of payments with at least one waiter.
  [[nodiscard]] std::size_t watched_count() const;

 private:
  struct Slot {
    std::condition_variable changed;
    std::uint64_t generation = 0;
    int waiters = 0;
  };

  void release(const std::string& public_id);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots_;
  std::uint64_t shutdown_generation_ = 0;

  friend class Subscription;
};

/// Interest in one payment's changes; ends when destroyed.
class StatusNotifier::Subscription {
 public:
  Subscription(Subscription&& other) noexcept;
  Subscription& operator=(Subscription&&) = delete;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  /// Blocks until the payment changes after subscribe() (true) or `timeout` passes (false).
  /// Returns true at once when a change already happened since subscribe().
  [[nodiscard]] bool wait_for(std::chrono::milliseconds timeout);

 private:
  friend class StatusNotifier;
  Subscription(StatusNotifier* owner, std::string public_id, std::shared_ptr<Slot> slot,
               std::uint64_t start_generation, std::uint64_t start_shutdown);

  StatusNotifier* owner_;
  std::string public_id_;
  std::shared_ptr<Slot> slot_;
  std::uint64_t start_generation_;
  std::uint64_t start_shutdown_;
};

}  // namespace mpesa::server
