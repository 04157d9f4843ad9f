#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <httplib.h>
#include <spdlog/logger.h>

#include "mpesa/server/address_list.hpp"
#include "mpesa/server/metrics.hpp"
#include "mpesa/server/payment_store.hpp"
#include "mpesa/server/rate_limiter.hpp"
#include "mpesa/server/result_batcher.hpp"
#include "mpesa/server/server_config.hpp"
#include "mpesa/server/spool.hpp"

namespace mpesa::server {

/// The fate of one callback that passed the checks.
struct StoredCallback {
  /// The store's outcome, or nothing when the event went to the spool.
  std::optional<CallbackOutcome> outcome;
  std::optional<PaymentStatus> status;
  /// The payer's phone from the callback (12 digits), for the masked log line.
  std::optional<std::string> phone;
  std::string checkout_request_id;
};

/// The Daraja callback route: POST PATH and POST PATH/{secret}.
///
/// Checks run in this order: body size (413), secret (403), source address (403),
/// per-address rate (429), Content-Type (415). These five run in cpp-httplib's pre-routing
/// handler, which cpp-httplib 0.11.4 calls after reading the request line and headers and
/// before reading the body. A rejection is a bare status with no body, and nothing is stored. The
/// route's handler then reads the body itself and stops at the cap (413 for a chunked body
/// past it), and the envelope is checked by parsing it; a body that fails is stored as
/// malformed and acknowledged, because the request proved itself authentic.
///
/// A callback is acknowledged with {"ResultCode":0,"ResultDesc":"Accepted"} only once it is
/// durable: committed to PostgreSQL, or appended and synced to the spool when the database
/// fails. When both fail the response is a bare 503. Concurrent callbacks are committed
/// together in batches (ResultBatcher), and each is acknowledged after its batch commits.
class CallbackEndpoint {
 public:
  CallbackEndpoint(const ServerConfig& config, std::shared_ptr<PaymentStore> store,
                   std::shared_ptr<Spool> spool, std::shared_ptr<Metrics> metrics,
                   std::shared_ptr<spdlog::logger> logger);

  /// Registers the routes, the pre-routing checks and the body cap on `server`.
  void install(httplib::Server& server);

  /// Runs the checks that precede reading the body; nothing when the request may proceed.
  [[nodiscard]] std::optional<Rejection> screen(const httplib::Request& request);

  /// Stores one authentic callback body (parsing it first), spooling it when the database
  /// fails. Errors: Storage when neither the database nor the spool could keep it.
  [[nodiscard]] Result<StoredCallback> store(const SpooledEvent& event);

  /// Stores a callback read back from the spool. Errors: Storage while the database is
  /// still unreachable.
  [[nodiscard]] Result<void> store_spooled(const SpooledEvent& event);

  /// True when `path` is the callback path or the callback path plus one segment, which it
  /// stores in `path_secret`.
  [[nodiscard]] bool matches_path(std::string_view path, std::string_view& path_secret) const;

 private:
  void handle(const httplib::Request& request, std::string body, httplib::Response& response);
  [[nodiscard]] bool read_capped_body(const httplib::Request& request,
                                      const httplib::ContentReader& content_reader, std::string& body) const;
  [[nodiscard]] Result<StoredCallback> store_in_database(const SpooledEvent& event, bool batched);
  [[nodiscard]] Result<StoredCallback> store_in_spool(const SpooledEvent& event);
  [[nodiscard]] std::optional<IpAddress> client_address(const httplib::Request& request) const;

  [[nodiscard]] bool body_size_allowed(const httplib::Request& request) const;
  [[nodiscard]] bool secret_matches(const httplib::Request& request, std::string_view path_secret) const;
  [[nodiscard]] bool source_allowed(const std::optional<IpAddress>& client) const;
  [[nodiscard]] bool rate_allowed(const IpAddress& client);
  [[nodiscard]] bool content_type_is_json(const httplib::Request& request) const;
  void log_callback(const StoredCallback& stored, std::chrono::nanoseconds latency) const;

  std::string path_;
  std::vector<Secret> secrets_;
  bool allow_any_address_;
  AddressList allowed_;
  AddressList trusted_proxies_;
  RateLimiter rate_limiter_;
  std::size_t max_body_bytes_;
  std::shared_ptr<PaymentStore> store_;
  std::shared_ptr<Spool> spool_;
  std::shared_ptr<Metrics> metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<ResultBatcher> batcher_;
};

/// The acknowledgement Daraja expects.
inline constexpr std::string_view kCallbackAccepted = R"({"ResultCode":0,"ResultDesc":"Accepted"})";

/// The header that may carry the callback secret, for senders that cannot put it in the URL.
inline constexpr std::string_view kCallbackSecretHeader = "X-Callback-Secret";

}  // namespace mpesa::server
