#include "detail/callback_sender.hpp"

#include <fmt/format.h>
#include <httplib.h>

namespace mpesa::simulator::detail {
namespace {

struct SplitUrl {
  std::string origin;  // scheme://host[:port]
  std::string target;  // /path?query
};

SplitUrl split_url(const std::string& url) {
  const std::size_t scheme_end = url.find("://");
  const std::size_t path_start =
      scheme_end == std::string::npos ? std::string::npos : url.find('/', scheme_end + 3);
  if (path_start == std::string::npos) return {url, "/"};
  return {url.substr(0, path_start), url.substr(path_start)};
}

}  // namespace

CallbackAttempt post_callback(const std::string& url, const std::string& body,
                              std::chrono::milliseconds timeout) {
  const SplitUrl split = split_url(url);
  httplib::Client client(split.origin);
  if (!client.is_valid()) return {false, 0, "the CallBackURL has an unsupported scheme"};
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);

  const auto result = client.Post(split.target, body, "application/json;charset=UTF-8");
  if (!result) return {false, 0, httplib::to_string(result.error())};
  const int status = result->status;
  if (status < 200 || status > 299) return {false, status, fmt::format("HTTP {}", status)};
  return {true, status, ""};
}

CallbackSender::CallbackSender(std::chrono::milliseconds timeout, Done done)
    : timeout_(timeout), done_(std::move(done)), worker_([this] { run(); }) {}

CallbackSender::~CallbackSender() { stop(); }

void CallbackSender::enqueue(CallbackJob job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

std::size_t CallbackSender::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();

  std::lock_guard lock(mutex_);
  const std::size_t dropped = jobs_.size();
  jobs_.clear();
  return dropped;
}

void CallbackSender::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    CallbackJob job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    const CallbackAttempt attempt = post_callback(job.url, job.body, timeout_);
    done_(job, attempt);
    lock.lock();
  }
}

}  // namespace mpesa::simulator::detail
