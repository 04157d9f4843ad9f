#pragma once

// Fixtures for the simulator tests: a simulator on a free loopback port with short delays,
// a loopback callback listener, a controllable clock, and helpers to compare a body with
// a Daraja sample's shape.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <httplib.h>
#include <simdjson.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "mpesa/password.hpp"
#include "mpesa/simulator/simulator.hpp"

namespace mpesa::simulator::testing {

inline constexpr std::string_view kConsumerKey = "test-consumer-key";
inline constexpr std::string_view kConsumerSecret = "test-consumer-secret-value";
inline constexpr std::string_view kSuccessPhone = "254708374149";

/// The real clock shifted by an offset the test controls.
class ShiftedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now_utc() const override {
    return std::chrono::system_clock::now() + shift();
  }
  std::chrono::steady_clock::time_point now_steady() const override {
    return std::chrono::steady_clock::now() + shift();
  }
  void sleep_for(std::chrono::milliseconds duration) const override {
    std::this_thread::sleep_for(duration);
  }
  void advance(std::chrono::milliseconds by) { shift_ms_ += by.count(); }

 private:
  std::chrono::milliseconds shift() const { return std::chrono::milliseconds(shift_ms_.load()); }
  std::atomic<long long> shift_ms_{0};
};

/// Reads a copied Daraja sample, e.g. "stkpush_error/04-....json".
inline std::string read_sample(const std::string& relative) {
  std::ifstream file(std::string(MPESA_TEST_DATA_DIR) + "/daraja/" + relative, std::ios::binary);
  REQUIRE_MESSAGE(file.good(), "missing test data file " << relative);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

/// Returns the top-level members of a JSON object: name to type ("string", "number"...).
inline std::map<std::string, std::string> member_types(const std::string& json) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::dom::object object;
  const auto error = parser.parse(padded).get_object().get(object);
  REQUIRE_MESSAGE(error == simdjson::SUCCESS, "not a JSON object: " << json);
  std::map<std::string, std::string> types;
  for (const auto field : object) {
    std::string type;
    switch (field.value.type()) {
      case simdjson::dom::element_type::STRING: type = "string"; break;
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE: type = "number"; break;
      case simdjson::dom::element_type::OBJECT: type = "object"; break;
      case simdjson::dom::element_type::ARRAY: type = "array"; break;
      default: type = "other";
    }
    types[std::string(field.key)] = type;
  }
  return types;
}

/// Returns a top-level string member of a JSON object, or "" when it is missing.
inline std::string string_member(const std::string& json, std::string_view key) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  std::string_view value;
  if (parser.parse(padded)[key].get_string().get(value) != simdjson::SUCCESS) return "";
  return std::string(value);
}

/// Checks that `body` is a Daraja error with the sample's errorCode and errorMessage and the
/// same members, every one a string. Partial samples lack requestId, which the simulator
/// always sends, as the complete samples show.
inline void check_error_like_sample(const std::string& body, const std::string& sample_file) {
  const std::string sample = read_sample(sample_file);
  INFO("sample: " << sample_file);
  INFO("body: " << body);
  CHECK(string_member(body, "errorCode") == string_member(sample, "errorCode"));
  CHECK(string_member(body, "errorMessage") == string_member(sample, "errorMessage"));
  const std::map<std::string, std::string> expected{
      {"requestId", "string"}, {"errorCode", "string"}, {"errorMessage", "string"}};
  CHECK(member_types(body) == expected);
  for (const auto& [name, type] : member_types(sample)) CHECK(expected.at(name) == type);
}

/// Captures the simulator's log lines so a test can check what they contain.
struct CapturedLog {
  std::shared_ptr<std::ostringstream> stream = std::make_shared<std::ostringstream>();
  std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>(
      "simulator-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(*stream, true));
  std::string text() const {
    logger->flush();
    return stream->str();
  }
};

/// Returns the configuration the tests start from, with short delays so the suite stays fast.
inline SimulatorConfig fast_config() {
  SimulatorConfig config;
  config.consumer_key = std::string(kConsumerKey);
  config.consumer_secret = Secret(std::string(kConsumerSecret));
  config.answer_delay = std::chrono::milliseconds(40);
  config.callback_delay = std::chrono::milliseconds(20);
  config.late_callback_timeout = std::chrono::milliseconds(3000);
  config.seed = 42;
  return config;
}

/// The fields of one push request body; every field valid by default.
struct PushBody {
  std::string shortcode{kSandboxShortcode};
  std::string password;  // empty: computed from the passkey and timestamp
  std::string timestamp;  // empty: now
  std::string transaction_type = "CustomerPayBillOnline";
  std::string amount = "10";
  std::string party_a{kSuccessPhone};
  std::string party_b{kSandboxShortcode};
  std::string phone{kSuccessPhone};
  std::string callback_url = "https://shop.example.com/callbacks/mpesa";
  std::string account_reference = "INV-42";
  std::string transaction_desc = "Order 42";

  std::string json(std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const {
    const auto credentials = make_stk_credentials(shortcode, kSandboxPasskey, now);
    return fmt::format(
        R"({{"BusinessShortCode":"{}","Password":"{}","Timestamp":"{}","TransactionType":"{}",)"
        R"("Amount":{},"PartyA":"{}","PartyB":"{}","PhoneNumber":"{}","CallBackURL":"{}",)"
        R"("AccountReference":"{}","TransactionDesc":"{}"}})",
        shortcode, password.empty() ? credentials.password : password,
        timestamp.empty() ? credentials.timestamp : timestamp, transaction_type, amount, party_a,
        party_b, phone, callback_url, account_reference, transaction_desc);
  }
};

/// A JSON body for STK Push Query.
inline std::string query_json(std::string_view checkout_request_id,
                              std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
  const auto credentials = make_stk_credentials(kSandboxShortcode, kSandboxPasskey, now);
  return fmt::format(
      R"({{"BusinessShortCode":"{}","Password":"{}","Timestamp":"{}","CheckoutRequestID":"{}"}})",
      kSandboxShortcode, credentials.password, credentials.timestamp, checkout_request_id);
}

/// A simulator on a free loopback port, and an HTTP client for it.
struct RunningSimulator {
  explicit RunningSimulator(SimulatorConfig config = fast_config(),
                            std::shared_ptr<const Clock> clock = system_clock())
      : simulator(std::move(config), log.logger, std::move(clock)) {
    port = simulator.start("127.0.0.1", 0);
  }

  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(5));
    return client;
  }

  httplib::Result get_token(std::string_view key = kConsumerKey,
                            std::string_view secret = kConsumerSecret,
                            std::string_view grant = "client_credentials") const {
    httplib::Headers headers{
        {"Authorization", "Basic " + base64_encode(fmt::format("{}:{}", key, secret))}};
    return client().Get(fmt::format("/oauth/v1/generate?grant_type={}", grant), headers);
  }

  /// Returns a fresh access token. Fails the test when OAuth does not return 200.
  std::string token() const {
    const auto result = get_token();
    REQUIRE(result);
    REQUIRE(result->status == 200);
    return string_member(result->body, "access_token");
  }

  httplib::Result post(const std::string& path, const std::string& body, const std::string& token,
                       const std::string& content_type = "application/json") const {
    httplib::Headers headers{{"Authorization", "Bearer " + token}};
    return client().Post(path, headers, body, content_type);
  }

  httplib::Result push(const PushBody& body, const std::string& token) const {
    return post("/mpesa/stkpush/v1/processrequest", body.json(), token);
  }

  httplib::Result query(std::string_view checkout_request_id, const std::string& token) const {
    return post("/mpesa/stkpushquery/v1/query", query_json(checkout_request_id), token);
  }

  /// Pushes `body` and returns the CheckoutRequestID; fails the test on a rejection.
  std::string accepted_push(const PushBody& body, const std::string& token) const {
    const auto result = push(body, token);
    REQUIRE(result);
    INFO("push answer: " << result->body);
    REQUIRE(result->status == 200);
    return string_member(result->body, "CheckoutRequestID");
  }

  CapturedLog log;
  Simulator simulator;
  int port = 0;
};

/// A loopback HTTP server that records every POST it receives. It returns 503 to the first
/// `failures` POSTs and 200 to the others.
class CallbackListener {
 public:
  explicit CallbackListener(int failures = 0) : failures_left_(failures) {
    server_.Post(".*", [this](const httplib::Request& request, httplib::Response& response) {
      bool fail = false;
      {
        std::lock_guard lock(mutex_);
        bodies_.push_back(request.body);
        content_types_.push_back(request.get_header_value("Content-Type"));
        paths_.push_back(request.path);
        arrival_times_.push_back(std::chrono::steady_clock::now());
        fail = failures_left_ > 0;
        if (fail) --failures_left_;
      }
      arrived_.notify_all();
      if (fail) {
        response.status = 503;
        return;
      }
      response.set_content(R"({"ResultCode":0,"ResultDesc":"Accepted"})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 2000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~CallbackListener() {
    server_.stop();
    thread_.join();
  }

  std::string url(std::string_view path = "/callbacks/mpesa") const {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }

  /// Waits until `count` callbacks have arrived or `timeout` passes; returns the count.
  std::size_t wait_for(std::size_t count,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return bodies_.size() >= count; });
    return bodies_.size();
  }

  std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  std::vector<std::string> content_types() const {
    std::lock_guard lock(mutex_);
    return content_types_;
  }
  std::vector<std::string> paths() const {
    std::lock_guard lock(mutex_);
    return paths_;
  }
  std::vector<std::chrono::steady_clock::time_point> arrival_times() const {
    std::lock_guard lock(mutex_);
    return arrival_times_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> bodies_;
  std::vector<std::string> content_types_;
  std::vector<std::string> paths_;
  std::vector<std::chrono::steady_clock::time_point> arrival_times_;
  int failures_left_ = 0;
};

/// Polls `condition` every 5 ms until it is true or `timeout` passes.
template <typename Condition>
bool eventually(Condition condition,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace mpesa::simulator::testing
