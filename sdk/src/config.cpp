#include "mpesa/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

namespace mpesa {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

bool is_variable_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::ranges::all_of(name, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_';
  });
}

// The value part of a dotenv line: quotes removed, or an unquoted value cut at ` #`.
std::string dotenv_value(std::string_view raw) {
  raw = trim(raw);
  if (raw.size() >= 2 && (raw.front() == '"' || raw.front() == '\'') &&
      raw.back() == raw.front()) {
    return std::string(raw.substr(1, raw.size() - 2));
  }
  const auto comment = raw.find(" #");
  if (comment != std::string_view::npos) raw = trim(raw.substr(0, comment));
  return std::string(raw);
}

[[noreturn]] void missing(std::string_view name, std::string_view fix) {
  throw ConfigError(fmt::format("{} is not set: {}", name, fix));
}

std::string required(const std::string& name, const std::map<std::string, std::string>& file,
                     std::string_view fix) {
  auto value = lookup_setting(name, file);
  if (!value) missing(name, fix);
  return std::move(*value);
}

std::int64_t integer_setting(const std::string& name, std::int64_t fallback,
                             const std::map<std::string, std::string>& file) {
  const auto value = lookup_setting(name, file);
  if (!value) return fallback;
  std::size_t used = 0;
  std::int64_t number = 0;
  try {
    number = std::stoll(*value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value->size()) {
    throw ConfigError(
        fmt::format("{}=\"{}\" is not a whole number: give a number such as {}", name, *value,
                    fallback));
  }
  return number;
}

void validate_required_text(const Config& config) {
  if (config.consumer_key.empty()) {
    missing("MPESA_CONSUMER_KEY", "copy the consumer key of your Daraja app");
  }
  if (config.consumer_secret.empty()) {
    missing("MPESA_CONSUMER_SECRET", "copy the consumer secret of your Daraja app");
  }
  if (config.passkey.empty()) {
    missing("MPESA_PASSKEY", "copy the Lipa Na M-Pesa Online passkey Safaricom sent you");
  }
  if (config.shortcode.empty()) missing("MPESA_SHORTCODE", "give your PayBill or store number");
  if (const auto code = ShortCode::parse(config.shortcode); !code) {
    throw ConfigError("MPESA_SHORTCODE: " + code.error().message);
  }
  if (!config.party_b.empty()) {
    if (const auto till = ShortCode::parse(config.party_b); !till) {
      throw ConfigError("MPESA_PARTY_B: " + till.error().message);
    }
  }
}

void validate_urls(const Config& config) {
  const std::string& base = config.base_url;
  if (!base.empty()) {
    const bool http = base.starts_with("http://");
    if (!http && !base.starts_with("https://")) {
      throw ConfigError(fmt::format(
          "MPESA_BASE_URL=\"{}\" is not an http or https URL: give one such as "
          "https://sandbox.safaricom.co.ke or unset it",
          base));
    }
    if (http && config.environment == Environment::Production) {
      throw ConfigError(fmt::format(
          "MPESA_BASE_URL=\"{}\" uses http: production requires https", base));
    }
    if (base.ends_with('/')) {
      throw ConfigError(
          fmt::format("MPESA_BASE_URL=\"{}\" ends with '/': remove the trailing slash", base));
    }
  }
  if (!config.callback_url.empty()) {
    if (const auto url = CallbackUrl::parse(config.callback_url, config.environment); !url) {
      throw ConfigError("MPESA_CALLBACK_URL: " + url.error().message);
    }
  }
  if (!config.ca_bundle.empty() && !std::filesystem::is_regular_file(config.ca_bundle)) {
    throw ConfigError(fmt::format(
        "MPESA_CA_BUNDLE=\"{}\" is not a readable file: give a PEM file or unset it to use the "
        "system store",
        config.ca_bundle));
  }
}

void validate_limits(const Config& config) {
  if (config.connect_timeout.count() <= 0) {
    throw ConfigError("MPESA_CONNECT_TIMEOUT_MS must be positive: give milliseconds such as 5000");
  }
  if (config.request_timeout < config.connect_timeout) {
    throw ConfigError(
        "MPESA_REQUEST_TIMEOUT_MS is shorter than MPESA_CONNECT_TIMEOUT_MS: give at least the "
        "connect timeout, such as 30000");
  }
  if (config.token_refresh_margin.count() < 0 || config.token_refresh_margin.count() > 1800) {
    throw ConfigError(
        "MPESA_TOKEN_REFRESH_MARGIN_S must be 0 to 1800 seconds: Daraja tokens last an hour");
  }
  if (config.retry.max_attempts < 1 || config.retry.max_attempts > 10) {
    throw ConfigError("MPESA_MAX_ATTEMPTS must be 1 to 10");
  }
  if (config.retry.base_delay.count() < 0 || config.retry.max_delay < config.retry.base_delay) {
    throw ConfigError("the retry delays must be non-negative, with the cap above the base");
  }
}

}  // namespace

std::string Config::effective_base_url() const {
  return base_url.empty() ? std::string(default_base_url(environment)) : base_url;
}

std::string Config::effective_party_b() const { return party_b.empty() ? shortcode : party_b; }

void Config::validate() const {
  validate_required_text(*this);
  validate_urls(*this);
  validate_limits(*this);
}

Config Config::from_environment(const std::optional<std::filesystem::path>& dotenv_file) {
  const std::map<std::string, std::string> file =
      dotenv_file ? read_dotenv(*dotenv_file) : std::map<std::string, std::string>{};
  Config config;

  if (const auto environment = lookup_setting("MPESA_ENVIRONMENT", file)) {
    const auto parsed = parse_environment(*environment);
    if (!parsed) throw ConfigError("MPESA_ENVIRONMENT: " + parsed.error().message);
    config.environment = *parsed;
  }
  config.base_url = lookup_setting("MPESA_BASE_URL", file).value_or("");
  config.consumer_key = required("MPESA_CONSUMER_KEY", file,
                                 "copy the consumer key of your Daraja app");
  config.consumer_secret = Secret(required("MPESA_CONSUMER_SECRET", file,
                                           "copy the consumer secret of your Daraja app"));
  config.shortcode = required("MPESA_SHORTCODE", file, "give your PayBill or store number");
  config.passkey = Secret(required("MPESA_PASSKEY", file,
                                   "copy the Lipa Na M-Pesa Online passkey Safaricom sent you"));
  if (const auto type = lookup_setting("MPESA_TRANSACTION_TYPE", file)) {
    const auto parsed = parse_transaction_type(*type);
    if (!parsed) throw ConfigError("MPESA_TRANSACTION_TYPE: " + parsed.error().message);
    config.transaction_type = *parsed;
  }
  config.party_b = lookup_setting("MPESA_PARTY_B", file).value_or("");
  config.callback_url = lookup_setting("MPESA_CALLBACK_URL", file).value_or("");
  config.ca_bundle = lookup_setting("MPESA_CA_BUNDLE", file).value_or("");

  config.connect_timeout = std::chrono::milliseconds(
      integer_setting("MPESA_CONNECT_TIMEOUT_MS", config.connect_timeout.count(), file));
  config.request_timeout = std::chrono::milliseconds(
      integer_setting("MPESA_REQUEST_TIMEOUT_MS", config.request_timeout.count(), file));
  config.token_refresh_margin = std::chrono::seconds(
      integer_setting("MPESA_TOKEN_REFRESH_MARGIN_S", config.token_refresh_margin.count(), file));
  config.retry.max_attempts = static_cast<int>(
      integer_setting("MPESA_MAX_ATTEMPTS", config.retry.max_attempts, file));

  config.validate();
  return config;
}

std::map<std::string, std::string> read_dotenv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    throw ConfigError(fmt::format("cannot read the configuration file {}: check the path given "
                                  "with --config",
                                  file.string()));
  }
  std::map<std::string, std::string> values;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string_view text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    if (text.starts_with("export ")) text = trim(text.substr(7));
    const auto equals = text.find('=');
    const std::string_view key = equals == std::string_view::npos ? text : trim(text.substr(0, equals));
    if (equals == std::string_view::npos || !is_variable_name(key)) {
      // The line itself is not quoted back: it may hold a secret.
      throw ConfigError(fmt::format("{}:{}: expected KEY=VALUE such as MPESA_SHORTCODE=174379",
                                    file.string(), number));
    }
    values[std::string(key)] = dotenv_value(text.substr(equals + 1));
  }
  return values;
}

std::optional<std::string> lookup_setting(const std::string& name,
                                          const std::map<std::string, std::string>& fallback) {
  // An empty environment variable counts as unset, so `MPESA_X=` cannot hide the file's value.
  if (const char* value = std::getenv(name.c_str()); value != nullptr && *value != '\0') {
    return std::string(value);
  }
  const auto found = fallback.find(name);
  if (found == fallback.end() || found->second.empty()) return std::nullopt;
  return found->second;
}

}  // namespace mpesa
