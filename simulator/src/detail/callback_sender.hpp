#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/logger.h>

namespace mpesa::simulator::detail {

/// One callback POST.
struct CallbackJob {
  std::string checkout_request_id;
  std::string url;
  std::string body;
  /// 0 for the first attempt, 1 for the first retry, and so on.
  int attempt = 0;
};

/// The result of one POST. It is delivered on a 2xx status; otherwise `detail` gives the reason.
struct CallbackAttempt {
  bool delivered = false;
  int http_status = 0;
  std::string detail;
};

/// POSTs callbacks one at a time, in order, on a worker thread, so that a slow or dead
/// receiver never holds up the simulator's request handlers.
class CallbackSender {
 public:
  using Done = std::function<void(const CallbackJob&, const CallbackAttempt&)>;

  /// `done` runs on the worker thread after each attempt.
  CallbackSender(std::chrono::milliseconds timeout, Done done);
  /// Stops the worker; jobs not yet started are dropped.
  ~CallbackSender();
  CallbackSender(const CallbackSender&) = delete;
  CallbackSender& operator=(const CallbackSender&) = delete;

  /// Queues a POST. Ignored after stop().
  void enqueue(CallbackJob job);
  /// Finishes the POST in progress, joins the worker and returns how many queued jobs were
  /// dropped.
  std::size_t stop();

 private:
  void run();

  std::chrono::milliseconds timeout_;
  Done done_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<CallbackJob> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

/// Sends one callback POST with `Content-Type: application/json;charset=UTF-8`, as Daraja
/// does.
[[nodiscard]] CallbackAttempt post_callback(const std::string& url, const std::string& body,
                                            std::chrono::milliseconds timeout);

}  // namespace mpesa::simulator::detail
