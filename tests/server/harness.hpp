#pragma once

// Builds a ServerApp on loopback with free ports, the test database, a temporary spool and a
// logger that writes into a string, for tests that talk to the server over HTTP.

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "mpesa/server/pg_payment_store.hpp"
#include "mpesa/server/server_app.hpp"
#include "pg_fixture.hpp"

namespace mpesa::test {

inline constexpr std::string_view kSecretOne = "first-secret-5f1c2e9a7b";
inline constexpr std::string_view kSecretTwo = "second-secret-93d04c61aa";

/// Reads a sample file from tests/data.
inline std::string read_test_file(const std::string& relative) {
  std::ifstream in(std::string(MPESA_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing test data file " << relative);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

/// A unique temporary folder, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() / fmt::format("mpesa-srv-test-{:08x}", random());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// Returns the settings every server test starts from: both secrets active, loopback allowed.
inline server::ServerConfig test_config(const std::filesystem::path& spool) {
  server::ServerConfig config;
  config.callback_listen = {"127.0.0.1", 0};
  config.api_listen = {"127.0.0.1", 0};
  config.callback_secrets = {Secret(std::string(kSecretOne)), Secret(std::string(kSecretTwo))};
  config.allowed_addresses = *server::AddressList::parse("127.0.0.1");
  config.database_url = Secret(PgTestDatabase::instance().url());
  config.spool_path = spool;
  config.spool_replay_interval = std::chrono::milliseconds(100);
  config.callback_threads = 8;
  config.api_threads = 4;
  config.api_key = Secret("test-api-key-0123456789");
  config.rate_limit = 0;
  return config;
}

/// A running server plus what the tests inspect: its log text and an HTTP client per listener.
class TestServer {
 public:
  explicit TestServer(server::ServerConfig config, std::shared_ptr<StkApi> stk = nullptr,
                      server::PaymentSettings settings = {"174379", TransactionType::CustomerPayBillOnline})
      : log_sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream_)),
        logger_(std::make_shared<spdlog::logger>("test-server", log_sink_)) {
    logger_->set_level(spdlog::level::debug);
    notifier_ = std::make_shared<server::StatusNotifier>();
    store_ = std::make_shared<server::PgPaymentStore>(config.database_url, 8, notifier_);
    app_ = std::make_unique<server::ServerApp>(std::move(config), store_, std::move(stk), std::move(settings),
                                               logger_, notifier_);
    app_->start();
  }
  ~TestServer() { app_->stop(); }

  [[nodiscard]] httplib::Client callback_client() const {
    httplib::Client client("127.0.0.1", app_->callback_port());
    client.set_read_timeout(10, 0);
    return client;
  }
  [[nodiscard]] httplib::Client api_client() const {
    httplib::Client client("127.0.0.1", app_->api_port());
    client.set_read_timeout(10, 0);
    return client;
  }

  /// Posts `body` as a callback to PATH/{secret}.
  httplib::Result post_callback(const std::string& body, std::string_view secret = kSecretOne,
                                const httplib::Headers& headers = {}) const {
    auto client = callback_client();
    return client.Post(fmt::format("/mpesa/callback/{}", secret), headers, body, "application/json");
  }

  [[nodiscard]] std::string log_text() {
    // Tests call this after their requests completed, so no worker is writing any more.
    logger_->flush();
    return log_stream_.str();
  }

  [[nodiscard]] server::ServerApp& app() noexcept { return *app_; }
  [[nodiscard]] server::PgPaymentStore& store() noexcept { return *store_; }
  [[nodiscard]] server::StatusNotifier& notifier() noexcept { return *notifier_; }

 private:
  std::ostringstream log_stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> log_sink_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<server::StatusNotifier> notifier_;
  std::shared_ptr<server::PgPaymentStore> store_;
  std::unique_ptr<server::ServerApp> app_;
};

}  // namespace mpesa::test
