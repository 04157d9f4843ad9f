#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpesa/secret.hpp"
#include "mpesa/server/address_list.hpp"

namespace mpesa::server {

/// A host and port to listen on. Port 0 picks a free port (tests).
struct ListenAddress {
  std::string host;
  int port = 0;

  /// Parses "host:port", "[v6]:port" or ":port" (all interfaces). Throws ConfigError naming
  /// `setting` when the text is not of that form.
  [[nodiscard]] static ListenAddress parse(std::string_view text, std::string_view setting);
  [[nodiscard]] std::string to_string() const;
};

/// Settings of `mpesa-stk serve` and of an embedded ServerApp. Each field names the
/// environment variable it is read from and its default.
struct ServerConfig {
  /// MPESA_CALLBACK_LISTEN (default 0.0.0.0:8000): the listener facing Safaricom.
  ListenAddress callback_listen{"0.0.0.0", 8000};
  /// MPESA_API_LISTEN (default 127.0.0.1:8080): /api/..., /healthz, /readyz, /metrics.
  ListenAddress api_listen{"127.0.0.1", 8080};
  /// MPESA_CALLBACK_PATH (default /mpesa/callback): also served as PATH/{secret}.
  std::string callback_path = "/mpesa/callback";
  /// MPESA_CALLBACK_SECRET: one or more active secrets, comma separated, for rotation.
  std::vector<Secret> callback_secrets;
  /// --insecure-no-secret: accept callbacks without a secret. Logged loudly at start.
  bool insecure_no_secret = false;
  /// MPESA_ALLOWED_IPS (default Safaricom's published list): addresses and CIDR ranges
  /// allowed to post callbacks; "any" allows every address.
  AddressList allowed_addresses;
  bool allow_any_address = false;
  /// MPESA_TRUSTED_PROXIES (default none): peers whose X-Forwarded-For is believed.
  AddressList trusted_proxies;
  /// MPESA_CALLBACK_RATE_LIMIT (default 50 per second, 0 turns it off) and
  /// MPESA_CALLBACK_RATE_BURST (default twice the rate): per client address.
  double rate_limit = 50;
  double rate_burst = 100;
  /// MPESA_CALLBACK_MAX_BYTES (default 65536): larger bodies get 413 before being read.
  std::size_t max_body_bytes = 64 * 1024;
  /// MPESA_CALLBACK_THREADS (default 64) and MPESA_API_THREADS (default 16). cpp-httplib
  /// keeps a worker thread for each open keep-alive connection, so these bound the number of
  /// connections served at once.
  int callback_threads = 64;
  int api_threads = 16;
  /// MPESA_CALLBACK_BATCH_MAX (default 128): most callbacks committed in one transaction;
  /// 1 commits each on its own.
  std::size_t batch_max = 128;
  /// MPESA_CALLBACK_BATCH_WORKERS (default 2): batches in flight at once, so that one batch
  /// runs while the other waits for its commit (docs/benchmarks.md compares 1 to 4).
  int batch_workers = 2;
  /// MPESA_TLS_CERT and MPESA_TLS_KEY (PEM files): serve the callback listener over HTTPS.
  std::string tls_cert;
  std::string tls_key;
  /// MPESA_DATABASE_URL (required): a libpq connection URI or key=value string.
  Secret database_url;
  /// MPESA_DB_POOL_SIZE (default: batch workers + API threads + 2).
  std::size_t db_pool_size = 0;
  /// MPESA_SPOOL_PATH (default ./mpesa-callback-spool.log): where callbacks wait while the
  /// database is unreachable.
  std::filesystem::path spool_path = "mpesa-callback-spool.log";
  /// MPESA_SPOOL_REPLAY_INTERVAL_MS (default 1000): how often a spool backlog is retried.
  std::chrono::milliseconds spool_replay_interval{1000};
  /// MPESA_API_KEY: bearer key for POST /api/payments. Without it every request gets 401.
  Secret api_key;
  /// MPESA_RECONCILE_AFTER (default 30 s): first STK Push Query this long after the push.
  std::chrono::seconds reconcile_after{30};
  /// MPESA_PAYMENT_DEADLINE (default 600 s): a payment still pending then is timed out.
  std::chrono::seconds payment_deadline{600};
  /// --migrate: apply migrations before serving.
  bool migrate = false;

  // Status API, checkout page and reconciler (docs/http-api.md).
  /// MPESA_RECONCILE (default 1; --no-reconcile sets 0): run the reconciler inside serve.
  bool reconcile = true;
  /// MPESA_RECONCILE_QUERY_RATE (default 2 per second) and MPESA_RECONCILE_QUERY_BURST
  /// (default 5): STK Push Queries the reconciler may send, so a backlog cannot trip
  /// Daraja's spike arrest. Shared by all payments of one process.
  double reconcile_query_rate = 2;
  double reconcile_query_burst = 5;
  /// MPESA_STATUS_MAX_WAITERS (default 0 = half the API threads): long polls held at once;
  /// past it a request with ?wait= is answered at once as a plain poll.
  int status_max_waiters = 0;
  /// MPESA_STATUS_RATE_LIMIT (default 5 per second, 0 turns it off) and
  /// MPESA_STATUS_RATE_BURST (default 20): per client address, on GET /api/payments/{id}.
  double status_rate_limit = 5;
  double status_rate_burst = 20;
  /// MPESA_CORS_ORIGINS (default none): origins allowed to call the status and checkout
  /// routes from a browser, comma separated, or "*".
  std::vector<std::string> cors_origins;
  /// MPESA_PUBLIC_CHECKOUT (default 0): enables POST /api/checkout, the browser-facing
  /// create route without the API key, for the checkout page.
  bool public_checkout = false;
  /// MPESA_CHECKOUT_RATE_LIMIT (default 0.2 per second) and MPESA_CHECKOUT_RATE_BURST
  /// (default 3): per client address, on POST /api/checkout.
  double checkout_rate_limit = 0.2;
  double checkout_rate_burst = 3;
  /// MPESA_CHECKOUT_ACCOUNT_REFERENCE (default "Checkout"): the AccountReference of payments
  /// created through POST /api/checkout when the page sends none.
  std::string checkout_account_reference = "Checkout";
  /// MPESA_STATIC_DIR (--static DIR): a folder served at / on the API listener.
  std::filesystem::path static_dir;

  /// Reads every setting through `lookup` (flags first, then the environment, then a dotenv
  /// file, as the caller arranges). Throws ConfigError naming the variable and the fix.
  using Lookup = std::function<std::optional<std::string>(std::string_view name)>;
  [[nodiscard]] static ServerConfig from_settings(const Lookup& lookup);

  /// Checks the combination of settings; throws ConfigError naming the variable.
  void validate() const;

  /// The pool size in use: db_pool_size, or batch_workers + api_threads + 2 when 0. Callback
  /// threads need no connection of their own, because the batch workers store their results.
  [[nodiscard]] std::size_t effective_pool_size() const noexcept;
};

}  // namespace mpesa::server
