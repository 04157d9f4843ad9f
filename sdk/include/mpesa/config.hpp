#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "mpesa/secret.hpp"
#include "mpesa/types.hpp"

namespace mpesa {

/// Invalid or missing configuration. Thrown at construction, never during a payment; the
/// message names the variable and the fix.
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// When and how often idempotent calls (OAuth, STK query, and pushes that provably never
/// left the process) are retried.
struct RetryPolicy {
  int max_attempts = 3;
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{2000};
};

/// Everything the SDK needs to talk to Daraja. Secrets have no defaults.
struct Config {
  /// MPESA_ENVIRONMENT: sandbox (default) or production.
  Environment environment = Environment::Sandbox;
  /// MPESA_BASE_URL: overrides the environment's URL (the simulator, tests). No trailing slash.
  std::string base_url;
  /// MPESA_CONSUMER_KEY and MPESA_CONSUMER_SECRET: the Daraja app's credentials.
  std::string consumer_key;
  Secret consumer_secret;
  /// MPESA_SHORTCODE: the PayBill or, for BuyGoods, the store number.
  std::string shortcode;
  /// MPESA_PASSKEY: the Lipa Na M-Pesa Online passkey.
  Secret passkey;
  /// MPESA_TRANSACTION_TYPE: CustomerPayBillOnline (default) or CustomerBuyGoodsOnline.
  TransactionType transaction_type = TransactionType::CustomerPayBillOnline;
  /// MPESA_PARTY_B: the till number for BuyGoods; defaults to the shortcode.
  std::string party_b;
  /// MPESA_CALLBACK_URL: where Daraja posts results. Optional here because queries do not
  /// need it; a push without it or PushRequest::callback_url fails with InvalidRequest.
  std::string callback_url;
  /// MPESA_CONNECT_TIMEOUT_MS (default 5000) and MPESA_REQUEST_TIMEOUT_MS (default 30000).
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  /// MPESA_TOKEN_REFRESH_MARGIN_S: a token is refreshed this long before it expires (default 60).
  std::chrono::seconds token_refresh_margin{60};
  /// MPESA_CA_BUNDLE: a CA file for TLS verification; empty means the system store.
  std::string ca_bundle;
  /// MPESA_MAX_ATTEMPTS sets retry.max_attempts (default 3, 1 to 10); the delays have no
  /// variable.
  RetryPolicy retry;

  /// The base URL in use: `base_url` when set, otherwise the environment's.
  [[nodiscard]] std::string effective_base_url() const;
  /// PartyB in use: `party_b` when set, otherwise the shortcode.
  [[nodiscard]] std::string effective_party_b() const;

  /// Checks every field; throws ConfigError naming the variable and the fix.
  void validate() const;

  /// Reads the MPESA_* variables from the process environment, with values from
  /// `dotenv_file` (KEY=VALUE lines) used where the environment has none. Throws
  /// ConfigError for a missing required variable, an invalid value or an unreadable file.
  [[nodiscard]] static Config from_environment(
      const std::optional<std::filesystem::path>& dotenv_file = std::nullopt);
};

/// Reads a dotenv file: KEY=VALUE lines, `#` comments, optional `export ` and quotes.
/// Throws ConfigError when the file cannot be read or a line is malformed.
[[nodiscard]] std::map<std::string, std::string> read_dotenv(const std::filesystem::path& file);

/// Looks up `name` in the process environment, then in `fallback`.
[[nodiscard]] std::optional<std::string> lookup_setting(
    const std::string& name, const std::map<std::string, std::string>& fallback);

}  // namespace mpesa
