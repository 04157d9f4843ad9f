#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "mpesa/clock.hpp"
#include "mpesa/error.hpp"
#include "mpesa/secret.hpp"

namespace mpesa::simulator {

/// Daraja's public sandbox PayBill, used when no shortcode is configured.
inline constexpr std::string_view kSandboxShortcode = "174379";
/// The Lipa Na M-Pesa Online passkey Safaricom publishes for the sandbox PayBill 174379.
/// It is a public test value, not a secret.
inline constexpr std::string_view kSandboxPasskey =
    "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

/// How STK Push Query reports a push the customer has not answered yet. Daraja has used
/// both forms.
enum class PendingQueryForm {
  /// HTTP 500 with `{"requestId": <CheckoutRequestID>, "errorCode": "500.001.1001",
  /// "errorMessage": "The transaction is being processed"}`.
  ErrorBody,
  /// HTTP 200 with ResultCode "4999".
  ResultCode4999,
};

/// Returns "error" or "4999".
[[nodiscard]] std::string_view to_string(PendingQueryForm form) noexcept;
/// Parses "error" or "4999".
[[nodiscard]] std::optional<PendingQueryForm> parse_pending_query_form(std::string_view text);

/// Everything the simulator needs. Defaults suit a developer's laptop.
struct SimulatorConfig {
  /// The credentials of the only Daraja app. OAuth rejects any others.
  std::string consumer_key;
  Secret consumer_secret;
  /// The one PayBill or store number that exists; others get "Merchant does not exist.".
  std::string shortcode{kSandboxShortcode};
  /// The passkey of `shortcode`; the push and query Password must be built from it.
  Secret passkey{std::string(kSandboxPasskey)};
  /// Token lifetime, sent as `expires_in` (a string, as Daraja does). Daraja's is 3599 s.
  std::chrono::seconds token_lifetime{3599};
  /// How far a request's Timestamp may be from the current Nairobi time.
  std::chrono::seconds timestamp_tolerance{300};
  /// How long the simulated customer takes to answer a push.
  std::chrono::milliseconds answer_delay{3000};
  /// Time between the answer and the callback POST (and between the two POSTs of a
  /// duplicated callback).
  std::chrono::milliseconds callback_delay{300};
  /// A late callback is sent after the first query that returns the result, or after this
  /// long when no query comes.
  std::chrono::milliseconds late_callback_timeout{60000};
  /// Leaves every push pending until it is resolved through the control API.
  bool manual = false;
  PendingQueryForm pending_query_form = PendingQueryForm::ErrorBody;
  /// STK push and query requests allowed per second before the spike-arrest error; 0 turns
  /// the limit off.
  int rate_limit_per_second = 0;
  /// Seeds the generator of tokens, request ids and receipt numbers. Unset means random.
  /// CheckoutRequestIDs also contain the time, so they differ between runs anyway.
  std::optional<std::uint64_t> seed;
  /// Extra attempts for a callback POST that failed (connection error or non-2xx answer);
  /// 0 logs the failure and drops the callback, as the default.
  int callback_retries = 0;
  /// Wait before the first callback retry; each further retry waits twice as long.
  std::chrono::milliseconds callback_retry_delay{1000};
  /// Connect and read timeout of each callback POST.
  std::chrono::milliseconds callback_timeout{5000};
  /// The number of pushes kept for queries and the control API; the oldest settled ones
  /// are forgotten first.
  std::size_t max_kept_pushes = 100000;

  /// Throws ConfigError naming the field and the fix when a value is unusable.
  void validate() const;
};

/// One push as the control API shows it.
struct PushSnapshot {
  std::string checkout_request_id;
  std::string merchant_request_id;
  std::string phone;
  std::int64_t amount = 0;
  std::string account_reference;
  std::string callback_url;
  /// The outcome rule chosen by the phone number ("cancelled"), or "manual".
  std::string outcome;
  /// "pending" until the customer answers, then "settled".
  std::string state;
  /// Final ResultCode as text; empty while pending.
  std::string result_code;
  std::string result_desc;
  /// MpesaReceiptNumber of a success; empty otherwise.
  std::string receipt;
  /// "waiting", "withheld" (lost), "waiting_for_query" (late), "sending", "delivered",
  /// "failed" or "none" (not yet settled).
  std::string callback_state;
  /// Successful callback POSTs (2 for a duplicated callback).
  int callbacks_delivered = 0;
  /// Accepted time in Nairobi time, ISO 8601.
  std::string accepted_at;
};

/// A local stand-in for Daraja's OAuth, STK Push and STK Push Query endpoints that also
/// plays the customer's phone and POSTs callbacks. Routes:
///   GET  /oauth/v1/generate?grant_type=client_credentials
///   POST /mpesa/stkpush/v1/processrequest
///   POST /mpesa/stkpushquery/v1/query
///   GET  /simulator/pushes
///   POST /simulator/pushes/{CheckoutRequestID}/resolve   body {"ResultCode": 1032}
/// Request handlers never wait for a callback: a scheduler thread settles pushes and a
/// sender thread POSTs callbacks. All methods are thread-safe.
class Simulator {
 public:
  /// Validates `config` (ConfigError). `logger` gets one line per request; null means
  /// spdlog's default logger. `clock` gives the Nairobi time for timestamps and ids, and the
  /// monotonic time for token expiry.
  explicit Simulator(SimulatorConfig config, std::shared_ptr<spdlog::logger> logger = nullptr,
                     std::shared_ptr<const Clock> clock = system_clock());
  /// Stops serving and drops callbacks that have not been sent.
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  /// Binds `host`:`port` (port 0 picks a free one) and serves on a background thread.
  /// Returns the bound port. Throws ConfigError when the address cannot be bound, and
  /// std::logic_error when called a second time.
  int start(const std::string& host = "127.0.0.1", int port = 0);
  /// Stops serving and joins the threads. Safe to call twice.
  void stop();
  /// Blocks until stop() has been called from another thread.
  void wait();

  /// The bound port, or 0 before start().
  [[nodiscard]] int port() const noexcept;
  /// "http://host:port", for Config::base_url.
  [[nodiscard]] std::string base_url() const;

  /// Every kept push, oldest first.
  [[nodiscard]] std::vector<PushSnapshot> pushes() const;
  /// Settles a pending push with `result_code` ("0" is a success with a receipt) and
  /// schedules its callback. `result_desc` empty means the usual wording for the code.
  /// Errors: NotFound for an unknown id, Duplicate for a push already settled,
  /// InvalidRequest for an empty code.
  [[nodiscard]] Result<PushSnapshot> resolve(std::string_view checkout_request_id,
                                             std::string_view result_code,
                                             std::string_view result_desc = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpesa::simulator
