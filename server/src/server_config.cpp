#include "mpesa/server/server_config.hpp"

#include <charconv>

#include <fmt/format.h>

#include "mpesa/config.hpp"

namespace mpesa::server {
namespace {

std::string trimmed(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return std::string(text);
}

template <typename Number>
Number parse_number(std::string_view name, std::string_view text, Number min, Number max) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw ConfigError(fmt::format("{}='{}' is invalid: use a number from {} to {}", name, text, min, max));
  }
  return value;
}

std::vector<Secret> parse_secrets(std::string_view text) {
  std::vector<Secret> secrets;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find(',', start);
    auto item = trimmed(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (!item.empty()) {
      if (item.size() < 16) {
        throw ConfigError(
            "MPESA_CALLBACK_SECRET contains a secret shorter than 16 characters: use long random "
            "values (for example `openssl rand -hex 24`)");
      }
      secrets.emplace_back(std::move(item));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return secrets;
}

AddressList parse_addresses(std::string_view name, std::string_view text) {
  auto list = AddressList::parse(text);
  if (!list) throw ConfigError(fmt::format("{} is invalid: {}", name, list.error().message));
  return std::move(*list);
}

bool parse_switch(std::string_view name, std::string_view text) {
  const auto value = trimmed(text);
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  throw ConfigError(fmt::format("{}='{}' is invalid: use 1 or 0", name, text));
}

std::vector<std::string> parse_origins(std::string_view text) {
  std::vector<std::string> origins;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find(',', start);
    auto item = trimmed(text.substr(start, end == std::string_view::npos ? end : end - start));
    while (!item.empty() && item.back() == '/') item.pop_back();
    if (!item.empty()) {
      if (item != "*" && !item.starts_with("http://") && !item.starts_with("https://")) {
        throw ConfigError(fmt::format("MPESA_CORS_ORIGINS contains '{}': list origins such as "
                                      "https://shop.example.com, or *", item));
      }
      origins.push_back(std::move(item));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return origins;
}

// The settings of the status API, the checkout page and the reconciler.
template <typename Get>
void read_frontend_settings(const Get& get, ServerConfig& config) {
  if (auto v = get("MPESA_RECONCILE")) config.reconcile = parse_switch("MPESA_RECONCILE", *v);
  if (auto v = get("MPESA_RECONCILE_QUERY_RATE")) {
    config.reconcile_query_rate = parse_number<double>("MPESA_RECONCILE_QUERY_RATE", *v, 0.01, 1000.0);
  }
  if (auto v = get("MPESA_RECONCILE_QUERY_BURST")) {
    config.reconcile_query_burst = parse_number<double>("MPESA_RECONCILE_QUERY_BURST", *v, 1.0, 10000.0);
  }
  if (auto v = get("MPESA_STATUS_MAX_WAITERS")) {
    config.status_max_waiters = parse_number<int>("MPESA_STATUS_MAX_WAITERS", *v, 0, 100'000);
  }
  if (auto v = get("MPESA_STATUS_RATE_LIMIT")) {
    config.status_rate_limit = parse_number<double>("MPESA_STATUS_RATE_LIMIT", *v, 0.0, 1'000'000.0);
  }
  if (auto v = get("MPESA_STATUS_RATE_BURST")) {
    config.status_rate_burst = parse_number<double>("MPESA_STATUS_RATE_BURST", *v, 1.0, 10'000'000.0);
  }
  if (auto v = get("MPESA_CORS_ORIGINS")) config.cors_origins = parse_origins(*v);
  if (auto v = get("MPESA_PUBLIC_CHECKOUT")) config.public_checkout = parse_switch("MPESA_PUBLIC_CHECKOUT", *v);
  if (auto v = get("MPESA_CHECKOUT_RATE_LIMIT")) {
    config.checkout_rate_limit = parse_number<double>("MPESA_CHECKOUT_RATE_LIMIT", *v, 0.0, 1'000'000.0);
  }
  if (auto v = get("MPESA_CHECKOUT_RATE_BURST")) {
    config.checkout_rate_burst = parse_number<double>("MPESA_CHECKOUT_RATE_BURST", *v, 1.0, 10'000'000.0);
  }
  if (auto v = get("MPESA_CHECKOUT_ACCOUNT_REFERENCE")) config.checkout_account_reference = *v;
  if (auto v = get("MPESA_STATIC_DIR")) config.static_dir = *v;
}

}  // namespace

ListenAddress ListenAddress::parse(std::string_view text, std::string_view setting) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw ConfigError(fmt::format("{}='{}' is invalid: use host:port, such as 0.0.0.0:8000", setting, text));
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  const int port = parse_number<int>(setting, text.substr(colon + 1), 0, 65535);
  return ListenAddress{std::move(host), port};
}

std::string ListenAddress::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

ServerConfig ServerConfig::from_settings(const Lookup& lookup) {
  ServerConfig config;
  const auto get = [&](std::string_view name) -> std::optional<std::string> {
    auto value = lookup(name);
    if (value && value->empty()) return std::nullopt;
    return value;
  };

  if (auto v = get("MPESA_CALLBACK_LISTEN")) config.callback_listen = ListenAddress::parse(*v, "MPESA_CALLBACK_LISTEN");
  if (auto v = get("MPESA_API_LISTEN")) config.api_listen = ListenAddress::parse(*v, "MPESA_API_LISTEN");
  if (auto v = get("MPESA_CALLBACK_PATH")) config.callback_path = *v;
  if (auto v = get("MPESA_CALLBACK_SECRET")) config.callback_secrets = parse_secrets(*v);

  const auto allowed = get("MPESA_ALLOWED_IPS").value_or(std::string(kSafaricomCallbackAddresses));
  if (trimmed(allowed) == "any") {
    config.allow_any_address = true;
  } else {
    config.allowed_addresses = parse_addresses("MPESA_ALLOWED_IPS", allowed);
  }
  if (auto v = get("MPESA_TRUSTED_PROXIES")) config.trusted_proxies = parse_addresses("MPESA_TRUSTED_PROXIES", *v);

  if (auto v = get("MPESA_CALLBACK_RATE_LIMIT")) {
    config.rate_limit = parse_number<int>("MPESA_CALLBACK_RATE_LIMIT", *v, 0, 1'000'000);
    config.rate_burst = config.rate_limit * 2;
  }
  if (auto v = get("MPESA_CALLBACK_RATE_BURST")) config.rate_burst = parse_number<int>("MPESA_CALLBACK_RATE_BURST", *v, 1, 10'000'000);
  if (auto v = get("MPESA_CALLBACK_MAX_BYTES")) config.max_body_bytes = parse_number<std::size_t>("MPESA_CALLBACK_MAX_BYTES", *v, 1024, 16 * 1024 * 1024);
  if (auto v = get("MPESA_CALLBACK_THREADS")) config.callback_threads = parse_number<int>("MPESA_CALLBACK_THREADS", *v, 1, 1024);
  if (auto v = get("MPESA_API_THREADS")) config.api_threads = parse_number<int>("MPESA_API_THREADS", *v, 1, 1024);
  if (auto v = get("MPESA_CALLBACK_BATCH_MAX")) config.batch_max = parse_number<std::size_t>("MPESA_CALLBACK_BATCH_MAX", *v, 1, 10'000);
  if (auto v = get("MPESA_CALLBACK_BATCH_WORKERS")) config.batch_workers = parse_number<int>("MPESA_CALLBACK_BATCH_WORKERS", *v, 1, 64);
  if (auto v = get("MPESA_TLS_CERT")) config.tls_cert = *v;
  if (auto v = get("MPESA_TLS_KEY")) config.tls_key = *v;
  if (auto v = get("MPESA_DATABASE_URL")) config.database_url = Secret(*v);
  if (auto v = get("MPESA_DB_POOL_SIZE")) config.db_pool_size = parse_number<std::size_t>("MPESA_DB_POOL_SIZE", *v, 1, 1000);
  if (auto v = get("MPESA_SPOOL_PATH")) config.spool_path = *v;
  if (auto v = get("MPESA_SPOOL_REPLAY_INTERVAL_MS")) {
    config.spool_replay_interval = std::chrono::milliseconds(parse_number<int>("MPESA_SPOOL_REPLAY_INTERVAL_MS", *v, 10, 3'600'000));
  }
  if (auto v = get("MPESA_API_KEY")) config.api_key = Secret(*v);
  if (auto v = get("MPESA_RECONCILE_AFTER")) config.reconcile_after = std::chrono::seconds(parse_number<int>("MPESA_RECONCILE_AFTER", *v, 1, 86'400));
  if (auto v = get("MPESA_PAYMENT_DEADLINE")) config.payment_deadline = std::chrono::seconds(parse_number<int>("MPESA_PAYMENT_DEADLINE", *v, 10, 7 * 86'400));
  read_frontend_settings(get, config);
  return config;
}

void ServerConfig::validate() const {
  if (database_url.empty()) {
    throw ConfigError("MPESA_DATABASE_URL is missing: set it to a PostgreSQL URI such as "
                      "postgresql://user@127.0.0.1:5432/mpesa");
  }
  if (callback_secrets.empty() && !insecure_no_secret) {
    throw ConfigError("MPESA_CALLBACK_SECRET is missing: set one or more long random secrets "
                      "(comma separated) and put one in the callback URL, or pass "
                      "--insecure-no-secret for local testing only");
  }
  if (callback_path.empty() || callback_path.front() != '/' || callback_path.back() == '/') {
    throw ConfigError(fmt::format("MPESA_CALLBACK_PATH='{}' is invalid: use an absolute path without "
                                  "a trailing slash, such as /mpesa/callback", callback_path));
  }
  if (tls_cert.empty() != tls_key.empty()) {
    throw ConfigError("MPESA_TLS_CERT and MPESA_TLS_KEY must be set together");
  }
  if (!allow_any_address && allowed_addresses.empty()) {
    throw ConfigError("MPESA_ALLOWED_IPS is empty: list the callback source addresses, or 'any'");
  }
  if (!static_dir.empty() && !std::filesystem::is_directory(static_dir)) {
    throw ConfigError(fmt::format("MPESA_STATIC_DIR='{}' is not a folder: give the folder of the "
                                  "checkout page, such as examples/web", static_dir.string()));
  }
  if (payment_deadline <= reconcile_after) {
    throw ConfigError("MPESA_PAYMENT_DEADLINE must be longer than MPESA_RECONCILE_AFTER");
  }
}

std::size_t ServerConfig::effective_pool_size() const noexcept {
  if (db_pool_size != 0) return db_pool_size;
  return static_cast<std::size_t>(batch_workers + api_threads + 2);
}

}  // namespace mpesa::server
