#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/logger.h>

#include "mpesa/clock.hpp"
#include "mpesa/stk_client.hpp"
#include "mpesa/server/payment_store.hpp"

namespace mpesa::server {

struct ServerConfig;

/// Pacing settings of the reconciler.
struct ReconcilerSettings {
  /// The first query comes this long after the push (set by PaymentService when it stores
  /// the payment); later ones wait reconcile_after × 2^(attempt-1), at most max_backoff.
  std::chrono::seconds reconcile_after{30};
  std::chrono::seconds max_backoff{300};
  /// The deadline PaymentService gave payments, for the timed_out result description.
  std::chrono::seconds payment_deadline{600};
  /// STK Push Queries per second and the burst allowed, across all payments.
  double query_rate = 2;
  double query_burst = 5;
  /// Payments claimed per pass.
  int batch_size = 20;
  /// A claimed payment is not claimed again for this long, so a crashed reconciler's claims
  /// come back after it.
  std::chrono::seconds lease{60};
  /// How often an idle reconciler looks for due payments.
  std::chrono::milliseconds idle_interval{1000};

  /// The settings of `config` (MPESA_RECONCILE_AFTER, MPESA_RECONCILE_QUERY_RATE, ...).
  [[nodiscard]] static ReconcilerSettings from_config(const ServerConfig& config);
};

/// Counts of what one pass did.
struct ReconcilePass {
  int claimed = 0;
  int queried = 0;
  /// Final results applied (as a callback would; outcomes other than applied included).
  int settled = 0;
  /// "Being processed": asked again later.
  int still_pending = 0;
  /// Query errors (spike arrest, 5xx, "does not exist", network): asked again later.
  int transient_errors = 0;
  /// Payments timed out at their deadline.
  int timed_out = 0;
};

/// A token bucket for STK Push Queries: `rate` per second, up to `burst` at once.
class QueryPacer {
 public:
  QueryPacer(double rate, double burst, std::shared_ptr<const Clock> clock);
  /// Whole tokens available now.
  [[nodiscard]] int available();
  /// Takes one token; false when none is left.
  [[nodiscard]] bool take();
  /// Time until the next whole token.
  [[nodiscard]] std::chrono::milliseconds time_to_next();
  /// Empties the bucket, after Daraja's spike arrest rejected a query, so queries resume only at
  /// the configured rate.
  void drain();

 private:
  void refill();
  double rate_;
  double burst_;
  double tokens_;
  std::shared_ptr<const Clock> clock_;
  std::chrono::steady_clock::time_point refilled_;
  std::mutex mutex_;
};

/// Settles payments whose callback never came.
///
/// Each pass: times out payments long past their deadline, then claims due pending payments
/// (FOR UPDATE SKIP LOCKED, so instances sharing a database never claim the same row) as
/// many as the query pacer allows, and asks STK Push Query about each. A final ResultCode
/// goes through PaymentStore::apply_result like a callback, recorded as learnt by query.
/// "Being processed" and every query error only reschedule, with backoff; a payment whose
/// deadline has passed and that is still not final becomes timed_out. Logs one line per
/// query with shortened ids.
class Reconciler {
 public:
  Reconciler(std::shared_ptr<PaymentStore> store, std::shared_ptr<StkApi> stk, ReconcilerSettings settings,
             std::shared_ptr<spdlog::logger> logger, std::shared_ptr<const Clock> clock = system_clock());
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  /// Runs one pass now, on the calling thread.
  ReconcilePass run_once();

  /// Runs passes on a background thread until stop().
  void start();
  /// Stops the thread after its current query. Safe to call twice.
  void stop();

 private:
  void run();
  void time_out_overdue(ReconcilePass& pass);
  void reconcile(const PaymentRecord& payment, ReconcilePass& pass);
  void after_unsettled(const PaymentRecord& payment, ReconcilePass& pass);
  void schedule_next(const PaymentRecord& payment);
  void time_out(const PaymentRecord& payment, ReconcilePass& pass);

  std::shared_ptr<PaymentStore> store_;
  std::shared_ptr<StkApi> stk_;
  ReconcilerSettings settings_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<const Clock> clock_;
  QueryPacer pacer_;
  std::mutex pass_mutex_;
  std::mutex state_mutex_;
  std::condition_variable state_changed_;
  bool stopping_ = false;
  std::thread thread_;
};

/// The first characters of a public id, for logs ("pay_3f9c1a…").
[[nodiscard]] std::string shorten_public_id(std::string_view public_id);

}  // namespace mpesa::server
