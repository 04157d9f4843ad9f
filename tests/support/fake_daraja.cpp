#include "fake_daraja.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <httplib.h>

namespace mpesa::testing {

FakeDaraja::FakeDaraja(int port, bool keep_alive) : server_(std::make_unique<httplib::Server>()) {
  const auto handle = [this](const httplib::Request& request, httplib::Response& response) {
    RecordedRequest recorded{request.method,
                             request.path,
                             request.params.empty() ? "" : "grant_type=" +
                                                              request.get_param_value("grant_type"),
                             request.get_header_value("Authorization"),
                             request.get_header_value("Content-Type"),
                             request.body,
                             request.remote_port};
    const FakeReply reply = answer(recorded);
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    response.status = reply.status;
    response.set_content(reply.body, reply.content_type.c_str());
  };
  // By default one request per connection: the server then sends "Connection: close", so
  // stop() need not wait out the keep-alive timeout of an idle client connection.
  if (keep_alive) {
    server_->set_keep_alive_timeout(1);
    server_->set_keep_alive_max_count(100);
  } else {
    server_->set_keep_alive_max_count(1);
  }
  server_->Get(".*", handle);
  server_->Post(".*", handle);

  if (port == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else if (server_->bind_to_port("127.0.0.1", port)) {
    port_ = port;
  }
  if (port_ <= 0) throw std::runtime_error("the fake Daraja could not bind a loopback port");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeDaraja::~FakeDaraja() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeDaraja::base_url() const { return fmt::format("http://127.0.0.1:{}", port_); }

void FakeDaraja::script(std::string_view path, std::vector<FakeReply> replies) {
  const std::lock_guard lock(mutex_);
  auto& queue = scripts_[std::string(path)];
  for (auto& reply : replies) queue.push_back(std::move(reply));
}

std::vector<RecordedRequest> FakeDaraja::requests() const {
  const std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t FakeDaraja::count(std::string_view path) const {
  const std::lock_guard lock(mutex_);
  std::size_t total = 0;
  for (const auto& request : requests_) total += request.path == path ? 1 : 0;
  return total;
}

std::vector<std::string> FakeDaraja::issued_tokens() const {
  const std::lock_guard lock(mutex_);
  return tokens_;
}

FakeReply FakeDaraja::answer(const RecordedRequest& request) {
  const std::lock_guard lock(mutex_);
  requests_.push_back(request);
  const auto found = scripts_.find(request.path);
  if (found != scripts_.end() && !found->second.empty()) {
    FakeReply reply = std::move(found->second.front());
    found->second.pop_front();
    return reply;
  }
  return default_reply(request);
}

FakeReply FakeDaraja::default_reply(const RecordedRequest& request) {
  if (request.path == kOAuthPath) {
    tokens_.push_back(fmt::format("fake-token-{}", tokens_.size() + 1));
    return {200, fmt::format(R"({{"access_token":"{}","expires_in":"3599"}})", tokens_.back())};
  }
  if (request.path == kPushPath) {
    return {200, fmt::format(R"({{"MerchantRequestID":"{}","CheckoutRequestID":"{}",)"
                             R"("ResponseCode":"0","ResponseDescription":"Success. Request )"
                             R"(accepted for processing","CustomerMessage":"Success. Request )"
                             R"(accepted for processing"}})",
                             kMerchantRequestId, kCheckoutRequestId)};
  }
  if (request.path == kQueryPath) {
    return {200, fmt::format(R"({{"ResponseCode":"0","ResponseDescription":"The service request )"
                             R"(has been accepted successfully","MerchantRequestID":"{}",)"
                             R"("CheckoutRequestID":"{}","ResultCode":"0","ResultDesc":"The )"
                             R"(service request is processed successfully."}})",
                             kMerchantRequestId, kCheckoutRequestId)};
  }
  return {404, R"({"requestId":"fake","errorCode":"404.001.01","errorMessage":"Resource not found"})"};
}

}  // namespace mpesa::testing
