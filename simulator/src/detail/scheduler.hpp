#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace mpesa::simulator::detail {

/// Runs short tasks at a later time on one worker thread, in due-time order (ties in
/// scheduling order). Tasks must not block: they run one after another.
class Scheduler {
 public:
  using Task = std::function<void()>;

  Scheduler();
  /// Stops the worker; tasks not yet due are dropped.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Runs `task` once `delay` has passed. Ignored after stop().
  void schedule_after(std::chrono::milliseconds delay, Task task);
  /// Joins the worker and drops pending tasks. Returns how many were dropped.
  std::size_t stop();

 private:
  struct Entry {
    std::chrono::steady_clock::time_point due;
    std::uint64_t order;
    Task task;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.due != b.due ? a.due > b.due : a.order > b.order;
    }
  };

  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<Entry, std::vector<Entry>, Later> entries_;
  std::uint64_t next_order_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace mpesa::simulator::detail
