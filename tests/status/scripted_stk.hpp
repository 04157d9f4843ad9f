#pragma once

// An StkApi whose query answers are scripted per CheckoutRequestID, mostly from the Daraja
// sample bodies, and which records every query so tests can count them and detect two
// queries of one payment running at once.

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "mpesa/stk_client.hpp"

namespace mpesa::test {

class ScriptedStk : public StkApi {
 public:
  /// Appends a response for `checkout_request_id`. The last one repeats once the others are used.
  void script(const std::string& checkout_request_id, Result<QueryResult> answer) {
    std::lock_guard lock(mutex_);
    answers_[checkout_request_id].push_back(std::move(answer));
  }
  /// Every query sleeps this long, so concurrent queries overlap.
  void set_query_delay(std::chrono::milliseconds delay) { delay_ = delay; }

  Result<PushAck> push(const PushRequest&) override {
    return fail(invalid_request("phone", "ScriptedStk does not push"));
  }

  Result<QueryResult> query(std::string_view checkout_request_id) override {
    const std::string id(checkout_request_id);
    {
      std::lock_guard lock(mutex_);
      ++queries_[id];
      ++total_;
      if (!in_flight_.insert(id).second) overlapped_ = true;
    }
    std::this_thread::sleep_for(delay_);
    std::lock_guard lock(mutex_);
    in_flight_.erase(id);
    auto& queue = answers_[id];
    if (queue.empty()) return fail(Error{ErrorKind::Unavailable, 503, "", "", "no scripted answer", "", ""});
    auto answer = queue.front();
    if (queue.size() > 1) queue.pop_front();
    return answer;
  }

  int queries(const std::string& id) {
    std::lock_guard lock(mutex_);
    return queries_[id];
  }
  int total() {
    std::lock_guard lock(mutex_);
    return total_;
  }
  bool overlapped() {
    std::lock_guard lock(mutex_);
    return overlapped_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::deque<Result<QueryResult>>> answers_;
  std::map<std::string, int> queries_;
  std::set<std::string> in_flight_;
  int total_ = 0;
  bool overlapped_ = false;
  std::chrono::milliseconds delay_{0};
};

}  // namespace mpesa::test
