#include "detail/scheduler.hpp"

namespace mpesa::simulator::detail {

Scheduler::Scheduler() : worker_([this] { run(); }) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::schedule_after(std::chrono::milliseconds delay, Task task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    entries_.push(Entry{std::chrono::steady_clock::now() + delay, next_order_++, std::move(task)});
  }
  wake_.notify_one();
}

std::size_t Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();

  std::lock_guard lock(mutex_);
  const std::size_t dropped = entries_.size();
  entries_ = {};
  return dropped;
}

void Scheduler::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (entries_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto due = entries_.top().due;
    if (std::chrono::steady_clock::now() < due) {
      wake_.wait_until(lock, due);
      continue;
    }
    Task task = std::move(const_cast<Entry&>(entries_.top()).task);
    entries_.pop();
    // The task may schedule further tasks, so it runs without the lock.
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace mpesa::simulator::detail
