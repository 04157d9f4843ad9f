#include "mpesa/server/result_batcher.hpp"

namespace mpesa::server {
namespace {

// Connection loss, shutdown and resource errors (SQLSTATE classes 08, 57, 53, or no SQLSTATE
// at all) would fail each result of the batch the same way, so retrying them one by one only
// adds delay before the caller spools them.
bool is_transient(const Error& error) {
  const auto& state = error.sqlstate;
  return state.empty() || state.starts_with("08") || state.starts_with("57") || state.starts_with("53");
}

}  // namespace

ResultBatcher::ResultBatcher(std::shared_ptr<PaymentStore> store, std::size_t max_batch, int workers,
                             std::shared_ptr<spdlog::logger> logger)
    : store_(std::move(store)), max_batch_(max_batch == 0 ? 1 : max_batch), logger_(std::move(logger)) {
  for (int i = 0; i < (workers < 1 ? 1 : workers); ++i) workers_.emplace_back([this] { run_worker(); });
}

ResultBatcher::~ResultBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  for (auto& worker : workers_) worker.join();
}

Result<AppliedResult> ResultBatcher::apply(ReceivedResult result) {
  std::future<Result<AppliedResult>> answer;
  {
    std::lock_guard lock(mutex_);
    auto& pending = queue_.emplace_back(Pending{std::move(result), {}});
    answer = pending.answer.get_future();
  }
  queued_.notify_one();
  return answer.get();
}

void ResultBatcher::run_worker() {
  std::vector<Pending> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to apply
      const auto count = std::min(max_batch_, queue_.size());
      for (std::size_t i = 0; i < count; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    apply_batch(batch);
    batch.clear();
  }
}

void ResultBatcher::apply_batch(std::vector<Pending>& batch) {
  std::vector<ReceivedResult> results;
  results.reserve(batch.size());
  for (auto& pending : batch) results.push_back(std::move(pending.result));

  auto applied = store_->apply_results(results);
  if (applied) {
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].answer.set_value((*applied)[i]);
    return;
  }
  if (is_transient(applied.error())) {
    for (auto& pending : batch) pending.answer.set_value(fail(applied.error()));
    return;
  }

  logger_->warn("a batch of {} results failed ({}), applying them one by one", batch.size(),
                applied.error().describe());
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].answer.set_value(store_->apply_result(results[i]));
}

}  // namespace mpesa::server
