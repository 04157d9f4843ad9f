#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "mpesa/server/payment_store.hpp"

namespace mpesa::server {

/// Group commit for results: callers on many threads hand in one result each and block
/// until the batch holding it has committed.
///
/// `workers` threads each take whatever is queued (up to `max_batch`) and apply it with one
/// PaymentStore::apply_results call. A lone request goes out at once, so an idle server adds
/// no delay. Under load the queue fills while the workers commit, and the batches grow,
/// which turns many commits into one. When a batch fails for a reason other than the
/// connection, its results are applied one by one with PaymentStore::apply_result, so that
/// one bad result cannot fail the others. Thread-safe.
class ResultBatcher {
 public:
  ResultBatcher(std::shared_ptr<PaymentStore> store, std::size_t max_batch, int workers,
                std::shared_ptr<spdlog::logger> logger);
  /// Finishes the queued results, then joins the workers.
  ~ResultBatcher();
  ResultBatcher(const ResultBatcher&) = delete;
  ResultBatcher& operator=(const ResultBatcher&) = delete;

  /// Applies `result` in the next batch and returns its outcome once that batch committed.
  /// Errors are those of PaymentStore::apply_result.
  [[nodiscard]] Result<AppliedResult> apply(ReceivedResult result);

 private:
  struct Pending {
    ReceivedResult result;
    std::promise<Result<AppliedResult>> answer;
  };

  void run_worker();
  void apply_batch(std::vector<Pending>& batch);

  std::shared_ptr<PaymentStore> store_;
  std::size_t max_batch_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace mpesa::server
