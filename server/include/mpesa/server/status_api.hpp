#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <httplib.h>

#include "mpesa/server/customer_messages.hpp"
#include "mpesa/server/payment_store.hpp"
#include "mpesa/server/rate_limiter.hpp"

namespace mpesa::server {

struct ServerContext;

/// The longest ?wait= a status request may ask for, in seconds.
inline constexpr int kMaxStatusWaitSeconds = 30;

/// Renders the status JSON of `payment` in `language`: id, status, reason, message, amount,
/// account_reference, phone (masked), receipt, result_code, result_desc, created_at,
/// updated_at. Never the full phone, never the CheckoutRequestID (it embeds the phone).
[[nodiscard]] std::string render_payment_status(const PaymentRecord& payment, Language language);

/// A strong ETag for a response body: a quoted 64-bit FNV-1a hash in hex.
[[nodiscard]] std::string etag_for(std::string_view body);

/// True when an If-None-Match header value names `etag` (weak or strong, in a list, or "*").
[[nodiscard]] bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept;

/// The frontend routes of the API listener (docs/http-api.md):
///   GET     /api/payments/{public_id}[?wait=N&lang=sw]  status, plain or long-poll
///   POST    /api/checkout                               browser-facing create (opt-in)
///   OPTIONS on both                                     CORS preflight
///
/// Both routes are rate limited per client address (X-Forwarded-For believed only from
/// MPESA_TRUSTED_PROXIES). A long poll holds an API worker thread, so at most
/// `max_waiters()` requests wait at once; the rest are answered at once. Thread-safe.
class StatusApi {
 public:
  explicit StatusApi(ServerContext& context);

  /// Registers the routes on `server`.
  void install(httplib::Server& server);

  /// Long polls blocked right now, waiting for their payment to change.
  [[nodiscard]] int waiting() const noexcept { return blocked_.load(); }
  [[nodiscard]] int max_waiters() const noexcept { return max_waiters_; }

 private:
  class WaiterSlot;

  void get_status(const httplib::Request& request, httplib::Response& response);
  void create_checkout(const httplib::Request& request, httplib::Response& response);
  void preflight(const httplib::Request& request, httplib::Response& response) const;
  /// Adds the CORS headers when the request's Origin is allowed.
  void add_cors_headers(const httplib::Request& request, httplib::Response& response) const;
  [[nodiscard]] std::optional<IpAddress> client_address(const httplib::Request& request) const;
  /// Sends 429 and returns false when `limiter` rejects the client.
  [[nodiscard]] bool admit(RateLimiter& limiter, const httplib::Request& request,
                           httplib::Response& response);

  ServerContext& context_;
  RateLimiter status_limiter_;
  RateLimiter checkout_limiter_;
  int max_waiters_;
  /// Long-poll places taken (checked against max_waiters_).
  std::atomic<int> waiting_{0};
  /// Requests inside the wait itself; a subset of waiting_.
  std::atomic<int> blocked_{0};
};

}  // namespace mpesa::server
