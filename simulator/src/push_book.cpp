// The simulated customer: accepted pushes, their results, query responses and callbacks.

#include <fmt/format.h>

#include "detail/json_text.hpp"
#include "detail/simulator_impl.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/password.hpp"

namespace mpesa::simulator {

using detail::PushRecord;
using detail::Reply;

namespace {

constexpr std::string_view kAccepted = "Success. Request accepted for processing";
// Daraja's query response really spells it "successsfully" (three s), in 2021 and 2023.
constexpr std::string_view kQueryAccepted = "The service request has been accepted successsfully";

std::string metadata_item(std::string_view name, std::string_view value_json) {
  return detail::JsonObject().add_string("Name", name).add_raw("Value", value_json).str();
}

// Builds `{"Body":{"stkCallback":{...}}}` as Daraja sends it: ResultCode a number unless
// it is not numeric, CallbackMetadata only on success, Amount written as `10.00`, and
// TransactionDate and PhoneNumber as numbers.
std::string callback_body(const PushSnapshot& push, std::string_view transaction_date,
                          bool balance_item) {
  detail::JsonObject callback;
  callback.add_string("MerchantRequestID", push.merchant_request_id);
  callback.add_string("CheckoutRequestID", push.checkout_request_id);
  if (is_numeric_result_code(push.result_code)) {
    callback.add_raw("ResultCode", push.result_code);
  } else {
    callback.add_string("ResultCode", push.result_code);
  }
  callback.add_string("ResultDesc", push.result_desc);

  if (push.result_code == "0") {
    std::string items = "[" + metadata_item("Amount", fmt::format("{}.00", push.amount));
    items += "," + metadata_item("MpesaReceiptNumber", detail::json_quote(push.receipt));
    if (balance_item) items += "," + detail::JsonObject().add_string("Name", "Balance").str();
    items += "," + metadata_item("TransactionDate", transaction_date);
    items += "," + metadata_item("PhoneNumber", push.phone) + "]";
    callback.add_raw("CallbackMetadata", detail::JsonObject().add_raw("Item", items).str());
  }

  const std::string stk = detail::JsonObject().add_raw("stkCallback", callback.str()).str();
  return detail::JsonObject().add_raw("Body", stk).str();
}

std::string query_body(const PushRecord& record) {
  return fmt::format(
      "{{\n  \"ResponseCode\": \"0\",\n  \"ResponseDescription\": {},\n"
      "  \"MerchantRequestID\": {},\n  \"CheckoutRequestID\": {},\n  \"ResultCode\": {},\n"
      "  \"ResultDesc\": {}\n}}",
      detail::json_quote(kQueryAccepted), detail::json_quote(record.view.merchant_request_id),
      detail::json_quote(record.view.checkout_request_id), detail::json_quote(record.view.result_code),
      detail::json_quote(record.query_desc));
}

}  // namespace

Reply Simulator::Impl::accept_push(const detail::PushFields& fields) {
  std::lock_guard lock(mutex);
  const auto locked = locked_phones.find(fields.phone);
  if (locked != locked_phones.end()) {
    return Reply{500,
                 detail::daraja_error_body(ids.request_id(), "500.001.1001",
                                           "Unable to lock subscriber, a transaction is already "
                                           "in process for the current subscriber"),
                 fmt::format("errorCode=500.001.1001 subscriber locked phone={}",
                             mask_phone(fields.phone))};
  }

  auto accepted_at = clock->now_utc();
  std::string checkout_id = detail::checkout_request_id(accepted_at, fields.phone);
  while (pushes.contains(checkout_id)) {
    accepted_at += std::chrono::milliseconds(1);
    checkout_id = detail::checkout_request_id(accepted_at, fields.phone);
  }

  PushRecord record;
  record.rule = &outcome_for_phone(fields.phone);
  PushSnapshot& view = record.view;
  view.checkout_request_id = checkout_id;
  view.merchant_request_id = ids.request_id();
  view.phone = fields.phone;
  view.amount = fields.amount;
  view.account_reference = fields.account_reference;
  view.callback_url = fields.callback_url;
  view.outcome = config.manual ? "manual" : std::string(record.rule->name);
  view.state = "pending";
  view.callback_state = "none";
  view.accepted_at = nairobi_iso8601(accepted_at);

  const std::string body = fmt::format(
      "{{\n  \"MerchantRequestID\": {},\n  \"CheckoutRequestID\": {},\n  \"ResponseCode\": \"0\",\n"
      "  \"ResponseDescription\": {},\n  \"CustomerMessage\": {}\n}}",
      detail::json_quote(view.merchant_request_id), detail::json_quote(checkout_id),
      detail::json_quote(kAccepted), detail::json_quote(kAccepted));
  const std::string log_detail =
      fmt::format("accepted phone={} amount={} checkout={} outcome={}", mask_phone(fields.phone),
                  fields.amount, shorten_checkout_id(checkout_id), view.outcome);

  pushes.emplace(checkout_id, std::move(record));
  push_order.push_back(checkout_id);
  locked_phones.emplace(fields.phone, checkout_id);
  if (!config.manual) {
    scheduler.schedule_after(config.answer_delay,
                             [this, checkout_id] { answer_automatically(checkout_id); });
  }
  forget_old_pushes_locked();
  return Reply{200, body, log_detail};
}

Reply Simulator::Impl::answer_query(const std::string& checkout_request_id) {
  std::lock_guard lock(mutex);
  const auto found = pushes.find(checkout_request_id);
  if (found == pushes.end()) {
    return Reply{500,
                 detail::daraja_error_body(ids.request_id(), "500.001.1001",
                                           "The transaction does not Exist"),
                 fmt::format("errorCode=500.001.1001 unknown checkout={}",
                             shorten_checkout_id(checkout_request_id))};
  }

  PushRecord& record = found->second;
  const std::string short_id = shorten_checkout_id(checkout_request_id);
  if (!record.settled) {
    if (config.pending_query_form == PendingQueryForm::ErrorBody) {
      // Daraja echoes the CheckoutRequestID as the requestId of this response.
      return Reply{500,
                   detail::daraja_error_body(checkout_request_id, "500.001.1001",
                                             "The transaction is being processed"),
                   fmt::format("pending checkout={}", short_id)};
    }
    PushRecord pending = record;
    pending.view.result_code = "4999";
    pending.query_desc = "The transaction is still under processing";
    return Reply{200, query_body(pending), fmt::format("pending (4999) checkout={}", short_id)};
  }

  if (record.rule->delivery == Delivery::Late && !record.late_callback_scheduled) {
    record.late_callback_scheduled = true;
    scheduler.schedule_after(config.callback_delay,
                             [this, checkout_request_id] { deliver(checkout_request_id); });
  }
  return Reply{200, query_body(record),
               fmt::format("ResultCode={} checkout={}", record.view.result_code, short_id)};
}

Result<PushSnapshot> Simulator::Impl::resolve(std::string_view checkout_request_id,
                                              std::string_view result_code,
                                              std::string_view result_desc) {
  if (result_code.empty()) {
    return fail(invalid_request("ResultCode", "ResultCode is empty: give a code such as 0 or 1032"));
  }
  std::lock_guard lock(mutex);
  const auto found = pushes.find(checkout_request_id);
  if (found == pushes.end()) {
    return fail(Error{ErrorKind::NotFound, 404, "", "",
                      fmt::format("no push has CheckoutRequestID {}",
                                  shorten_checkout_id(checkout_request_id)),
                      "", ""});
  }
  PushRecord& record = found->second;
  if (record.settled) {
    return fail(Error{ErrorKind::Duplicate, 409, "", "",
                      fmt::format("push {} is already settled with ResultCode {}",
                                  shorten_checkout_id(checkout_request_id),
                                  record.view.result_code),
                      "", ""});
  }

  const OutcomeRule* wording = rule_for_result_code(result_code);
  std::string callback_desc(result_desc);
  std::string query_desc(result_desc);
  if (result_desc.empty()) {
    callback_desc = wording ? wording->callback_desc : fmt::format("Simulated result {}", result_code);
    query_desc = wording ? wording->query_desc : callback_desc;
  }
  const bool balance_item = wording != nullptr && wording->balance_item;
  settle_locked(record, std::string(result_code), callback_desc, query_desc, balance_item);
  logger->info("push {} resolved by hand: ResultCode={}", shorten_checkout_id(checkout_request_id),
               result_code);
  return record.view;
}

void Simulator::Impl::answer_automatically(const std::string& checkout_request_id) {
  std::lock_guard lock(mutex);
  const auto found = pushes.find(checkout_request_id);
  if (found == pushes.end() || found->second.settled) return;
  const OutcomeRule& rule = *found->second.rule;
  settle_locked(found->second, std::string(rule.result_code), std::string(rule.callback_desc),
                std::string(rule.query_desc), rule.balance_item);
  logger->info("push {} answered: outcome={} ResultCode={}", shorten_checkout_id(checkout_request_id),
               rule.name, rule.result_code);
}

void Simulator::Impl::settle_locked(PushRecord& record, std::string result_code,
                                    std::string callback_desc, std::string query_desc,
                                    bool balance_item) {
  const auto now = clock->now_utc();
  PushSnapshot& view = record.view;
  record.settled = true;
  view.state = "settled";
  view.result_code = std::move(result_code);
  view.result_desc = std::move(callback_desc);
  record.query_desc = std::move(query_desc);
  if (view.result_code == "0") view.receipt = ids.receipt(now);
  record.callback_body = callback_body(view, nairobi_timestamp(now), balance_item);

  const auto locked = locked_phones.find(view.phone);
  if (locked != locked_phones.end() && locked->second == view.checkout_request_id) {
    locked_phones.erase(locked);
  }
  schedule_delivery_locked(record);
}

void Simulator::Impl::schedule_delivery_locked(PushRecord& record) {
  const std::string id = record.view.checkout_request_id;
  switch (record.rule->delivery) {
    case Delivery::Once:
      record.view.callback_state = "waiting";
      scheduler.schedule_after(config.callback_delay, [this, id] { deliver(id); });
      return;
    case Delivery::Twice:
      record.view.callback_state = "waiting";
      scheduler.schedule_after(config.callback_delay, [this, id] { deliver(id); });
      scheduler.schedule_after(2 * config.callback_delay, [this, id] { deliver(id); });
      return;
    case Delivery::Lost:
      record.view.callback_state = "withheld";
      logger->info("callback for {} withheld: this outcome loses it", shorten_checkout_id(id));
      return;
    case Delivery::Late:
      record.view.callback_state = "waiting_for_query";
      scheduler.schedule_after(config.late_callback_timeout, [this, id] { deliver_late(id); });
      return;
  }
}

void Simulator::Impl::deliver_late(const std::string& checkout_request_id) {
  {
    std::lock_guard lock(mutex);
    const auto found = pushes.find(checkout_request_id);
    if (found == pushes.end() || found->second.late_callback_scheduled) return;
    found->second.late_callback_scheduled = true;
  }
  deliver(checkout_request_id);
}

void Simulator::Impl::deliver(const std::string& checkout_request_id) {
  std::lock_guard lock(mutex);
  const auto found = pushes.find(checkout_request_id);
  if (found == pushes.end()) return;
  found->second.view.callback_state = "sending";
  sender.enqueue(detail::CallbackJob{checkout_request_id, found->second.view.callback_url,
                                     found->second.callback_body, 0});
}

void Simulator::Impl::record_attempt(const detail::CallbackJob& job,
                                     const detail::CallbackAttempt& attempt) {
  const std::string short_id = shorten_checkout_id(job.checkout_request_id);
  std::lock_guard lock(mutex);
  const auto found = pushes.find(job.checkout_request_id);
  PushSnapshot* view = found == pushes.end() ? nullptr : &found->second.view;

  if (attempt.delivered) {
    logger->info("callback for {} delivered: HTTP {}", short_id, attempt.http_status);
    if (view) {
      view->callbacks_delivered += 1;
      view->callback_state = "delivered";
    }
    return;
  }

  // The CallBackURL is not logged: it often carries a secret path token or query.
  if (job.attempt < config.callback_retries) {
    const auto delay = config.callback_retry_delay * (1 << std::min(job.attempt, 16));
    logger->warn("callback for {} failed ({}); retry {} of {} in {} ms", short_id,
                 attempt.detail, job.attempt + 1, config.callback_retries, delay.count());
    if (view) view->callback_state = "retrying";
    detail::CallbackJob retry = job;
    retry.attempt += 1;
    scheduler.schedule_after(delay, [this, retry] { sender.enqueue(retry); });
    return;
  }
  logger->warn("callback for {} failed ({}); not retried", short_id, attempt.detail);
  if (view && view->callbacks_delivered == 0) view->callback_state = "failed";
}

// Forgets settled pushes from the oldest end while more than max_kept_pushes are kept.
// NOTE: a pending push at the oldest end stops the sweep, so many pushes that are never
// answered (manual mode) can keep the count above the limit.
void Simulator::Impl::forget_old_pushes_locked() {
  while (pushes.size() > config.max_kept_pushes && !push_order.empty()) {
    const auto found = pushes.find(push_order.front());
    if (found != pushes.end() && !found->second.settled) return;
    if (found != pushes.end()) pushes.erase(found);
    push_order.pop_front();
  }
}

}  // namespace mpesa::simulator
