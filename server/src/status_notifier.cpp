#include "mpesa/server/status_notifier.hpp"

namespace mpesa::server {

StatusNotifier::Subscription StatusNotifier::subscribe(std::string public_id) {
  std::lock_guard lock(mutex_);
  auto& slot = slots_[public_id];
  if (!slot) slot = std::make_shared<Slot>();
  ++slot->waiters;
  return Subscription(this, std::move(public_id), slot, slot->generation, shutdown_generation_);
}

void StatusNotifier::notify(std::string_view public_id) {
  std::lock_guard lock(mutex_);
  const auto found = slots_.find(std::string(public_id));
  if (found == slots_.end()) return;
  ++found->second->generation;
  found->second->changed.notify_all();
}

void StatusNotifier::notify_all() {
  std::lock_guard lock(mutex_);
  ++shutdown_generation_;
  for (auto& [id, slot] : slots_) slot->changed.notify_all();
}

std::size_t StatusNotifier::watched_count() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

void StatusNotifier::release(const std::string& public_id) {
  std::lock_guard lock(mutex_);
  const auto found = slots_.find(public_id);
  if (found == slots_.end()) return;
  if (--found->second->waiters == 0) slots_.erase(found);
}

StatusNotifier::Subscription::Subscription(StatusNotifier* owner, std::string public_id,
                                           std::shared_ptr<Slot> slot,
                                           std::uint64_t start_generation,
                                           std::uint64_t start_shutdown)
    : owner_(owner),
      public_id_(std::move(public_id)),
      slot_(std::move(slot)),
      start_generation_(start_generation),
      start_shutdown_(start_shutdown) {}

StatusNotifier::Subscription::Subscription(Subscription&& other) noexcept
    : owner_(other.owner_),
      public_id_(std::move(other.public_id_)),
      slot_(std::move(other.slot_)),
      start_generation_(other.start_generation_),
      start_shutdown_(other.start_shutdown_) {
  other.owner_ = nullptr;
}

StatusNotifier::Subscription::~Subscription() {
  if (owner_ != nullptr) owner_->release(public_id_);
}

bool StatusNotifier::Subscription::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(owner_->mutex_);
  const auto changed = [this] {
    return slot_->generation != start_generation_ ||
           owner_->shutdown_generation_ != start_shutdown_;
  };
  return slot_->changed.wait_for(lock, timeout, changed);
}

}  // namespace mpesa::server
