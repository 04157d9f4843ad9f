#pragma once

// A scripted Daraja for tests: a cpp-httplib server on a loopback port chosen at run time
// that answers OAuth, STK push and STK query, and records every request it receives.

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace mpesa::testing {

/// Daraja's paths, as the fake serves them.
inline constexpr std::string_view kOAuthPath = "/oauth/v1/generate";
inline constexpr std::string_view kPushPath = "/mpesa/stkpush/v1/processrequest";
inline constexpr std::string_view kQueryPath = "/mpesa/stkpushquery/v1/query";

/// One scripted response.
struct FakeReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  /// Delay before the response is sent, to make the client time out.
  std::chrono::milliseconds delay{0};
};

/// One request the fake received.
struct RecordedRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string authorization;
  std::string content_type;
  std::string body;
  /// The client's source port, which tells connections apart.
  int remote_port = 0;
};

class FakeDaraja {
 public:
  /// Starts on 127.0.0.1 at a free port, or at `port` when it is not 0. Returns once the
  /// server accepts connections. Connections close after each response unless `keep_alive`
  /// is set; a kept-alive idle connection delays the destructor by up to one second.
  explicit FakeDaraja(int port = 0, bool keep_alive = false);
  ~FakeDaraja();
  FakeDaraja(const FakeDaraja&) = delete;
  FakeDaraja& operator=(const FakeDaraja&) = delete;

  /// "http://127.0.0.1:<port>", for MPESA_BASE_URL.
  [[nodiscard]] std::string base_url() const;
  [[nodiscard]] int port() const noexcept { return port_; }

  /// Queues answers for `path`, used one per request in order. Once the queue is empty the
  /// path gets its default answer: a fresh token "fake-token-<n>" valid for 3599 s, an
  /// accepted push, or a successful query.
  void script(std::string_view path, std::vector<FakeReply> replies);

  [[nodiscard]] std::vector<RecordedRequest> requests() const;
  /// Requests received on `path`.
  [[nodiscard]] std::size_t count(std::string_view path) const;
  /// The tokens issued so far, oldest first.
  [[nodiscard]] std::vector<std::string> issued_tokens() const;

  /// The default answers, for tests that compare against them.
  static constexpr std::string_view kCheckoutRequestId = "ws_CO_04122026101010123708374149";
  static constexpr std::string_view kMerchantRequestId = "f1e2-4b95-a71d-b30d3cdbb7a7942864";

 private:
  FakeReply answer(const RecordedRequest& request);
  FakeReply default_reply(const RecordedRequest& request);

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<FakeReply>, std::less<>> scripts_;
  std::vector<RecordedRequest> requests_;
  std::vector<std::string> tokens_;
};

}  // namespace mpesa::testing
