#include "mpesa/server/payment_store.hpp"

#include <array>

#include "mpesa/password.hpp"

namespace mpesa::server {
namespace {

constexpr std::array kOutcomeNames = {
    std::pair{CallbackOutcome::Applied, std::string_view("applied")},
    std::pair{CallbackOutcome::Duplicate, std::string_view("duplicate")},
    std::pair{CallbackOutcome::Unmatched, std::string_view("unmatched")},
    std::pair{CallbackOutcome::AmountMismatch, std::string_view("amount_mismatch")},
    std::pair{CallbackOutcome::PhoneMismatch, std::string_view("phone_mismatch")},
    std::pair{CallbackOutcome::Malformed, std::string_view("malformed")},
    std::pair{CallbackOutcome::LateSuccess, std::string_view("late_success")},
    std::pair{CallbackOutcome::ReceiptAdded, std::string_view("receipt_added")},
    std::pair{CallbackOutcome::Conflict, std::string_view("conflict")},
};

}  // namespace

std::string_view to_string(CallbackOutcome outcome) noexcept {
  for (const auto& [value, name] : kOutcomeNames) {
    if (value == outcome) return name;
  }
  return "unknown";
}

std::optional<CallbackOutcome> parse_callback_outcome(std::string_view text) noexcept {
  for (const auto& [value, name] : kOutcomeNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

std::string_view to_string(LearntVia via) noexcept {
  switch (via) {
    case LearntVia::Callback: return "callback";
    case LearntVia::Query: return "query";
    case LearntVia::Deadline: return "deadline";
  }
  return "callback";
}

ReceivedResult ReceivedResult::from_callback(const StkCallback& callback, std::string raw_body,
                                             std::string source_address, TimePoint received_at) {
  ReceivedResult result;
  result.source = LearntVia::Callback;
  result.checkout_request_id = callback.checkout_request_id;
  result.merchant_request_id = callback.merchant_request_id;
  result.result_code = callback.result_code;
  result.result_desc = callback.result_desc;
  result.status = callback.status();
  result.receipt = callback.receipt;
  result.paid_amount_cents = callback.amount_cents;
  if (callback.phone) result.paid_phone = std::to_string(*callback.phone);
  if (callback.transaction_date) {
    TimePoint instant;
    if (parse_nairobi_timestamp(std::to_string(*callback.transaction_date), instant)) {
      result.transaction_time = instant;
    }
  }
  result.raw_body = std::move(raw_body);
  result.source_address = std::move(source_address);
  result.received_at = received_at;
  return result;
}

ReceivedResult ReceivedResult::from_query(const QueryResult& query, std::string raw_body,
                                          TimePoint received_at) {
  ReceivedResult result;
  result.source = LearntVia::Query;
  result.checkout_request_id = query.checkout_request_id;
  result.merchant_request_id = query.merchant_request_id;
  result.result_code = query.result_code;
  result.result_desc = query.result_desc;
  result.status = query.status();
  result.raw_body = std::move(raw_body);
  result.received_at = received_at;
  return result;
}

Result<std::vector<AppliedResult>> PaymentStore::apply_results(std::span<const ReceivedResult> results) {
  std::vector<AppliedResult> applied;
  applied.reserve(results.size());
  for (const auto& result : results) {
    auto one = apply_result(result);
    if (!one) return fail(std::move(one.error()));
    applied.push_back(std::move(*one));
  }
  return applied;
}

}  // namespace mpesa::server
