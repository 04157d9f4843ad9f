#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "mpesa/config.hpp"

namespace {

const char* const kVariables[] = {
    "MPESA_ENVIRONMENT",        "MPESA_BASE_URL",          "MPESA_CONSUMER_KEY",
    "MPESA_CONSUMER_SECRET",    "MPESA_SHORTCODE",         "MPESA_PASSKEY",
    "MPESA_TRANSACTION_TYPE",   "MPESA_PARTY_B",           "MPESA_CALLBACK_URL",
    "MPESA_CONNECT_TIMEOUT_MS", "MPESA_REQUEST_TIMEOUT_MS", "MPESA_TOKEN_REFRESH_MARGIN_S",
    "MPESA_CA_BUNDLE",          "MPESA_MAX_ATTEMPTS"};

// Clears every MPESA_* variable so the host's environment cannot change a test.
struct CleanEnvironment {
  CleanEnvironment() {
    for (const char* name : kVariables) ::unsetenv(name);
  }
  ~CleanEnvironment() {
    for (const char* name : kVariables) ::unsetenv(name);
  }
};

std::filesystem::path write_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() /
                    (name + "-" + std::to_string(::getpid()) + ".env");
  std::ofstream(path) << text;
  return path;
}

const char* const kValidFile =
    "# sandbox settings\n"
    "MPESA_CONSUMER_KEY=key-from-file\n"
    "export MPESA_CONSUMER_SECRET=\"secret from file\"\n"
    "MPESA_SHORTCODE=174379\n"
    "MPESA_PASSKEY='pass#key'\n"
    "MPESA_CALLBACK_URL=https://example.com/cb  # trailing comment\n"
    "\n";

std::string config_error(const std::filesystem::path& file) {
  try {
    (void)mpesa::Config::from_environment(file);
  } catch (const mpesa::ConfigError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("config") {
  TEST_CASE("reads a dotenv file with comments, export and quotes") {
    CleanEnvironment clean;
    const auto file = write_file("valid", kValidFile);
    const mpesa::Config config = mpesa::Config::from_environment(file);
    CHECK(config.environment == mpesa::Environment::Sandbox);
    CHECK(config.consumer_key == "key-from-file");
    CHECK(config.consumer_secret.reveal() == "secret from file");
    CHECK(config.passkey.reveal() == "pass#key");
    CHECK(config.callback_url == "https://example.com/cb");
    CHECK(config.effective_party_b() == "174379");
    CHECK(config.effective_base_url() == "https://sandbox.safaricom.co.ke");
    CHECK(config.connect_timeout == std::chrono::milliseconds(5000));
    std::filesystem::remove(file);
  }

  TEST_CASE("the environment wins over the file") {
    CleanEnvironment clean;
    const auto file = write_file("override", kValidFile);
    ::setenv("MPESA_CONSUMER_KEY", "key-from-env", 1);
    ::setenv("MPESA_BASE_URL", "http://127.0.0.1:8080", 1);
    ::setenv("MPESA_REQUEST_TIMEOUT_MS", "9000", 1);
    ::setenv("MPESA_TRANSACTION_TYPE", "CustomerBuyGoodsOnline", 1);
    ::setenv("MPESA_PARTY_B", "600000", 1);
    const mpesa::Config config = mpesa::Config::from_environment(file);
    CHECK(config.consumer_key == "key-from-env");
    CHECK(config.effective_base_url() == "http://127.0.0.1:8080");
    CHECK(config.request_timeout == std::chrono::milliseconds(9000));
    CHECK(config.transaction_type == mpesa::TransactionType::CustomerBuyGoodsOnline);
    CHECK(config.effective_party_b() == "600000");
    std::filesystem::remove(file);
  }

  TEST_CASE("each invalid or missing value names its variable") {
    struct Row {
      const char* variable;
      const char* value;  // null removes the variable
      const char* mentions;
    };
    const Row rows[] = {
        {"MPESA_CONSUMER_KEY", nullptr, "MPESA_CONSUMER_KEY is not set"},
        {"MPESA_CONSUMER_SECRET", nullptr, "MPESA_CONSUMER_SECRET is not set"},
        {"MPESA_PASSKEY", nullptr, "MPESA_PASSKEY is not set"},
        {"MPESA_SHORTCODE", nullptr, "MPESA_SHORTCODE is not set"},
        {"MPESA_SHORTCODE", "17a379", "MPESA_SHORTCODE"},
        {"MPESA_ENVIRONMENT", "staging", "MPESA_ENVIRONMENT"},
        {"MPESA_TRANSACTION_TYPE", "PayBill", "MPESA_TRANSACTION_TYPE"},
        {"MPESA_PARTY_B", "till", "MPESA_PARTY_B"},
        {"MPESA_BASE_URL", "sandbox.safaricom.co.ke", "MPESA_BASE_URL"},
        {"MPESA_BASE_URL", "http://127.0.0.1:1/", "trailing slash"},
        {"MPESA_CALLBACK_URL", "https://Example.com/cb", "MPESA_CALLBACK_URL"},
        {"MPESA_CONNECT_TIMEOUT_MS", "5s", "MPESA_CONNECT_TIMEOUT_MS"},
        {"MPESA_CONNECT_TIMEOUT_MS", "0", "MPESA_CONNECT_TIMEOUT_MS"},
        {"MPESA_REQUEST_TIMEOUT_MS", "10", "MPESA_REQUEST_TIMEOUT_MS"},
        {"MPESA_TOKEN_REFRESH_MARGIN_S", "4000", "MPESA_TOKEN_REFRESH_MARGIN_S"},
        {"MPESA_CA_BUNDLE", "/nonexistent/ca.pem", "MPESA_CA_BUNDLE"},
        {"MPESA_MAX_ATTEMPTS", "0", "MPESA_MAX_ATTEMPTS"},
    };
    for (const Row& row : rows) {
      INFO(row.variable, "=", row.value ? row.value : "(unset)");
      CleanEnvironment clean;
      std::string text = kValidFile;
      if (row.value == nullptr) {
        const auto start = text.find(row.variable);
        const auto line_start = text.rfind('\n', start) + 1;
        text.erase(line_start, text.find('\n', start) + 1 - line_start);
      } else {
        ::setenv(row.variable, row.value, 1);
      }
      const auto file = write_file("invalid", text);
      const std::string message = config_error(file);
      CHECK_MESSAGE(message.find(row.mentions) != std::string::npos, message);
      std::filesystem::remove(file);
    }
  }

  TEST_CASE("production needs https for the base and callback URLs") {
    CleanEnvironment clean;
    const auto file = write_file("production", kValidFile);
    ::setenv("MPESA_ENVIRONMENT", "production", 1);
    ::setenv("MPESA_CALLBACK_URL", "http://example.com/cb", 1);
    CHECK(config_error(file).find("production requires https") != std::string::npos);
    ::setenv("MPESA_CALLBACK_URL", "https://example.com/cb", 1);
    ::setenv("MPESA_BASE_URL", "http://127.0.0.1:9", 1);
    CHECK(config_error(file).find("MPESA_BASE_URL") != std::string::npos);
    ::unsetenv("MPESA_BASE_URL");
    CHECK(mpesa::Config::from_environment(file).effective_base_url() ==
          "https://api.safaricom.co.ke");
    std::filesystem::remove(file);
  }

  TEST_CASE("a malformed dotenv line or a missing file is reported without its content") {
    CleanEnvironment clean;
    const auto file = write_file("malformed", "MPESA_PASSKEY do-not-echo\n");
    const std::string message = config_error(file);
    CHECK(message.find(":1: expected KEY=VALUE") != std::string::npos);
    CHECK(message.find("do-not-echo") == std::string::npos);
    std::filesystem::remove(file);
    CHECK(config_error("/nonexistent/mpesa.env").find("cannot read") != std::string::npos);
  }

  TEST_CASE("lookup_setting prefers the environment and skips empty values") {
    CleanEnvironment clean;
    const std::map<std::string, std::string> file = {{"MPESA_SHORTCODE", "600000"},
                                                     {"MPESA_PARTY_B", ""}};
    CHECK(mpesa::lookup_setting("MPESA_SHORTCODE", file) == "600000");
    ::setenv("MPESA_SHORTCODE", "", 1);
    CHECK(mpesa::lookup_setting("MPESA_SHORTCODE", file) == "600000");
    ::setenv("MPESA_SHORTCODE", "174379", 1);
    CHECK(mpesa::lookup_setting("MPESA_SHORTCODE", file) == "174379");
    CHECK_FALSE(mpesa::lookup_setting("MPESA_PARTY_B", file).has_value());
  }
}
