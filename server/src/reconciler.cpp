#include "mpesa/server/reconciler.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "detail/json_writer.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/server/server_config.hpp"

namespace mpesa::server {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// The query response as an event body. The SDK returns the parsed answer, not its bytes, so
// the event keeps the fields it carried.
std::string query_event_body(const QueryResult& query) {
  return detail::JsonObject()
      .add("ResponseCode", query.response_code)
      .add("ResponseDescription", query.response_description)
      .add("MerchantRequestID", query.merchant_request_id)
      .add("CheckoutRequestID", query.checkout_request_id)
      .add("ResultCode", query.result_code)
      .add("ResultDesc", query.result_desc)
      .str();
}

std::string describe_payment(const PaymentRecord& payment) {
  return fmt::format("{} (checkout {}, attempt {})", shorten_public_id(payment.public_id),
                     payment.checkout_request_id ? shorten_checkout_id(*payment.checkout_request_id) : "none",
                     payment.reconcile_attempts);
}

}  // namespace

std::string shorten_public_id(std::string_view public_id) {
  constexpr std::size_t kShown = 12;
  if (public_id.size() <= kShown) return std::string(public_id);
  return fmt::format("{}…", public_id.substr(0, kShown));
}

ReconcilerSettings ReconcilerSettings::from_config(const ServerConfig& config) {
  ReconcilerSettings settings;
  settings.reconcile_after = config.reconcile_after;
  settings.payment_deadline = config.payment_deadline;
  settings.query_rate = config.reconcile_query_rate;
  settings.query_burst = config.reconcile_query_burst;
  return settings;
}

QueryPacer::QueryPacer(double rate, double burst, std::shared_ptr<const Clock> clock)
    : rate_(rate), burst_(std::max(1.0, burst)), tokens_(std::max(1.0, burst)), clock_(std::move(clock)),
      refilled_(clock_->now_steady()) {}

void QueryPacer::refill() {
  const auto now = clock_->now_steady();
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  refilled_ = now;
}

int QueryPacer::available() {
  std::lock_guard lock(mutex_);
  refill();
  return static_cast<int>(std::floor(tokens_));
}

bool QueryPacer::take() {
  std::lock_guard lock(mutex_);
  refill();
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

milliseconds QueryPacer::time_to_next() {
  std::lock_guard lock(mutex_);
  refill();
  if (tokens_ >= 1.0 || rate_ <= 0) return milliseconds(0);
  return milliseconds(static_cast<std::int64_t>(std::ceil((1.0 - tokens_) / rate_ * 1000.0)));
}

void QueryPacer::drain() {
  std::lock_guard lock(mutex_);
  refill();
  tokens_ = 0;
}

Reconciler::Reconciler(std::shared_ptr<PaymentStore> store, std::shared_ptr<StkApi> stk,
                       ReconcilerSettings settings, std::shared_ptr<spdlog::logger> logger,
                       std::shared_ptr<const Clock> clock)
    : store_(std::move(store)),
      stk_(std::move(stk)),
      settings_(settings),
      logger_(std::move(logger)),
      clock_(std::move(clock)),
      pacer_(settings.query_rate, settings.query_burst, clock_) {}

Reconciler::~Reconciler() { stop(); }

ReconcilePass Reconciler::run_once() {
  std::lock_guard pass_lock(pass_mutex_);
  ReconcilePass pass;
  time_out_overdue(pass);
  // Claim only as many payments as the pacer allows queries now. The rest stay due for the
  // next pass.
  const int limit = std::min(settings_.batch_size, pacer_.available());
  if (limit <= 0) return pass;
  auto claimed = store_->claim_due_payments(limit, settings_.lease);
  if (!claimed) {
    logger_->warn("reconciler could not claim due payments: {}", claimed.error().describe());
    return pass;
  }
  pass.claimed = static_cast<int>(claimed->size());
  for (const auto& payment : *claimed) reconcile(payment, pass);
  return pass;
}

// Payments past their deadline by more than a lease were either never queryable (no
// CheckoutRequestID) or lost their claimer, so no query will settle them now.
void Reconciler::time_out_overdue(ReconcilePass& pass) {
  auto overdue = store_->find_overdue_payments(settings_.batch_size);
  if (!overdue) {
    logger_->warn("reconciler could not read overdue payments: {}", overdue.error().describe());
    return;
  }
  const auto now = clock_->now_utc();
  for (const auto& payment : *overdue) {
    if (!payment.checkout_request_id || payment.deadline_at + settings_.lease <= now) time_out(payment, pass);
  }
}

void Reconciler::reconcile(const PaymentRecord& payment, ReconcilePass& pass) {
  if (!payment.checkout_request_id) {
    // The push answer was lost: only a callback matched by phone and amount, or the
    // deadline, can settle it.
    logger_->info("reconcile {}: no CheckoutRequestID to query; waiting for a callback or the deadline",
                  describe_payment(payment));
    after_unsettled(payment, pass);
    return;
  }
  if (!pacer_.take()) {
    // Not asked: due again at once for the next pass.
    (void)store_->schedule_reconcile(payment.id, clock_->now_utc());
    return;
  }
  ++pass.queried;
  auto query = stk_->query(*payment.checkout_request_id);
  if (!query) {
    ++pass.transient_errors;
    logger_->warn("reconcile {}: query failed, asking again later: {}", describe_payment(payment),
                  query.error().describe());
    if (query.error().kind == ErrorKind::RateLimited) pacer_.drain();
    after_unsettled(payment, pass);
    return;
  }
  if (query->pending) {
    ++pass.still_pending;
    logger_->info("reconcile {}: still being processed", describe_payment(payment));
    after_unsettled(payment, pass);
    return;
  }
  QueryResult answer = *query;
  if (answer.checkout_request_id.empty()) answer.checkout_request_id = *payment.checkout_request_id;
  auto applied = store_->apply_result(ReceivedResult::from_query(answer, query_event_body(answer), clock_->now_utc()));
  if (!applied) {
    ++pass.transient_errors;
    logger_->warn("reconcile {}: could not store ResultCode {}: {}", describe_payment(payment),
                  answer.result_code, applied.error().describe());
    schedule_next(payment);
    return;
  }
  ++pass.settled;
  logger_->info("reconcile {}: ResultCode {} -> {} ({})", describe_payment(payment), answer.result_code,
                applied->status ? to_string(*applied->status) : "unmatched", to_string(applied->outcome));
}

// Times the payment out once its deadline has passed, otherwise schedules the next query.
void Reconciler::after_unsettled(const PaymentRecord& payment, ReconcilePass& pass) {
  if (clock_->now_utc() >= payment.deadline_at) {
    time_out(payment, pass);
    return;
  }
  schedule_next(payment);
}

void Reconciler::schedule_next(const PaymentRecord& payment) {
  const int doublings = std::clamp(payment.reconcile_attempts - 1, 0, 20);
  const auto delay = std::min<std::chrono::seconds>(settings_.reconcile_after * (1LL << doublings),
                                                    settings_.max_backoff);
  // The last question comes at the deadline, so a payment is never timed out unasked.
  const auto next = payment.checkout_request_id
                        ? std::min(clock_->now_utc() + delay, payment.deadline_at)
                        : payment.deadline_at;
  auto scheduled = store_->schedule_reconcile(payment.id, next);
  if (!scheduled) {
    logger_->warn("reconcile {}: could not reschedule (the claim lease brings it back): {}",
                  describe_payment(payment), scheduled.error().describe());
  }
}

void Reconciler::time_out(const PaymentRecord& payment, ReconcilePass& pass) {
  const auto description = fmt::format(
      "No result from M-Pesa within {} seconds of the push; the server timed the payment out",
      settings_.payment_deadline.count());
  auto changed = store_->time_out_payment(payment.id, description);
  if (!changed) {
    logger_->warn("reconcile {}: could not time out: {}", describe_payment(payment), changed.error().describe());
    return;
  }
  if (!*changed) return;
  ++pass.timed_out;
  logger_->info("reconcile {}: deadline passed, timed out", describe_payment(payment));
}

void Reconciler::start() {
  std::lock_guard lock(state_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Reconciler::stop() {
  {
    std::lock_guard lock(state_mutex_);
    stopping_ = true;
  }
  state_changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Reconciler::run() {
  logger_->info("reconciler running: first query {} s after the push, at most {} queries per second",
                settings_.reconcile_after.count(), settings_.query_rate);
  std::unique_lock lock(state_mutex_);
  while (!stopping_) {
    lock.unlock();
    const auto pass = run_once();
    lock.lock();
    // A full batch means a backlog: go on at once, the pacer keeps the rate.
    auto pause = pass.claimed >= settings_.batch_size ? milliseconds(0) : settings_.idle_interval;
    pause = std::max(pause, std::min(pacer_.time_to_next(), settings_.idle_interval));
    if (pause.count() > 0) state_changed_.wait_for(lock, pause, [this] { return stopping_; });
  }
}

}  // namespace mpesa::server
