#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "mpesa/clock.hpp"
#include "mpesa/config.hpp"
#include "mpesa/error.hpp"
#include "mpesa/messages.hpp"

namespace mpesa {

/// What the application asks for. push() validates and normalises every field before any
/// network call.
struct PushRequest {
  /// Any accepted phone form (`0712 345 678`, `+254712345678`, ...).
  std::string phone;
  /// Whole shillings, 1 to 250,000.
  std::int64_t amount = 0;
  /// 1 to 12 characters; shown to the customer.
  std::string account_reference;
  /// Up to 13 characters; defaults to "Payment" when empty.
  std::string description;
  /// Overrides Config::callback_url for this push when not empty.
  std::string callback_url;
};

/// The operations the server and the reconciler need, so tests can substitute them.
class StkApi {
 public:
  virtual ~StkApi() = default;
  /// Sends an STK push. Errors: InvalidRequest (nothing sent), Auth, DarajaRejected,
  /// RateLimited, Unavailable, Network (nothing sent, retries used up), Tls, Parse (an
  /// unreadable OAuth response), OutcomeUnknown (reconcile with query(), never resend).
  [[nodiscard]] virtual Result<PushAck> push(const PushRequest& request) = 0;
  /// Asks STK Push Query about one CheckoutRequestID. "Being processed" is a pending result,
  /// not an error. Errors: InvalidRequest, NotFound (unknown id), Auth, DarajaRejected,
  /// RateLimited, Unavailable, Timeout, Network, Tls, Parse. Transient errors are retried
  /// with backoff before they are returned.
  [[nodiscard]] virtual Result<QueryResult> query(std::string_view checkout_request_id) = 0;
};

/// The Daraja client: a cached OAuth token, connection reuse, one retry policy. Thread-safe;
/// create one per process and share it.
class StkClient : public StkApi {
 public:
  /// Validates `config` and throws ConfigError when it is unusable. `logger` receives one
  /// line per Daraja call; null means spdlog's default logger.
  explicit StkClient(Config config, std::shared_ptr<spdlog::logger> logger = nullptr,
                     std::shared_ptr<const Clock> clock = system_clock());
  ~StkClient() override;
  StkClient(const StkClient&) = delete;
  StkClient& operator=(const StkClient&) = delete;

  [[nodiscard]] Result<PushAck> push(const PushRequest& request) override;
  [[nodiscard]] Result<QueryResult> query(std::string_view checkout_request_id) override;

  [[nodiscard]] const Config& config() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpesa
