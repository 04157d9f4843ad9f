#include "mpesa/simulator/outcomes.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace mpesa::simulator {
namespace {

constexpr std::string_view kSuccessDesc = "The service request is processed successfully.";

// ResultDesc wordings come from Daraja callbacks and queries seen in the wild. 1037 is
// worded differently by the callback and the query for the same payment (sandbox, 2026).
// NOTE: "SFC_IC0003" has been seen as a ResultCode in a callback, but its ResultDesc was
// not recorded, so the wording used here is made up.
constexpr std::array kRules{
    OutcomeRule{"", "success", "0", kSuccessDesc, kSuccessDesc, false, Delivery::Once},
    OutcomeRule{"01", "success_with_balance", "0", kSuccessDesc, kSuccessDesc, true,
                Delivery::Once},
    OutcomeRule{"02", "cancelled", "1032", "Request cancelled by user",
                "Request cancelled by user", false, Delivery::Once},
    OutcomeRule{"03", "timed_out", "1037", "No response from user.",
                "DS timeout user cannot be reached.", false, Delivery::Once},
    OutcomeRule{"04", "insufficient_funds", "1",
                "The balance is insufficient for the transaction.",
                "The balance is insufficient for the transaction.", false, Delivery::Once},
    OutcomeRule{"05", "wrong_pin", "2001", "The initiator information is invalid.",
                "The initiator information is invalid.", false, Delivery::Once},
    OutcomeRule{"06", "expired", "1019", "Transaction has expired", "Transaction has expired",
                false, Delivery::Once},
    OutcomeRule{"07", "subscriber_locked", "1001",
                "Unable to lock subscriber, a transaction is already in process for the "
                "current subscriber",
                "Unable to lock subscriber, a transaction is already in process for the "
                "current subscriber",
                false, Delivery::Once},
    OutcomeRule{"08", "push_not_delivered", "1025",
                "An error occurred while sending a push request",
                "An error occurred while sending a push request", false, Delivery::Once},
    OutcomeRule{"09", "non_numeric_code", "SFC_IC0003", "The transaction could not be completed.",
                "The transaction could not be completed.", false, Delivery::Once},
    OutcomeRule{"10", "callback_lost", "0", kSuccessDesc, kSuccessDesc, false, Delivery::Lost},
    OutcomeRule{"11", "callback_twice", "0", kSuccessDesc, kSuccessDesc, false, Delivery::Twice},
    OutcomeRule{"12", "callback_late", "0", kSuccessDesc, kSuccessDesc, false, Delivery::Late},
};

std::string_view describe_delivery(Delivery delivery) {
  switch (delivery) {
    case Delivery::Once:
      return "callback sent once";
    case Delivery::Lost:
      return "no callback; only a query shows the result";
    case Delivery::Twice:
      return "the same callback sent twice";
    case Delivery::Late:
      return "callback sent after a query has returned the result";
  }
  return "";
}

}  // namespace

std::span<const OutcomeRule> outcome_rules() noexcept { return kRules; }

const OutcomeRule& outcome_for_phone(std::string_view phone) noexcept {
  if (phone.size() >= 2) {
    const std::string_view suffix = phone.substr(phone.size() - 2);
    for (const OutcomeRule& rule : kRules) {
      if (rule.phone_suffix == suffix) return rule;
    }
  }
  return kRules.front();
}

const OutcomeRule* rule_for_result_code(std::string_view result_code) noexcept {
  const auto found = std::ranges::find_if(kRules, [&](const OutcomeRule& rule) {
    return rule.result_code == result_code && rule.delivery == Delivery::Once;
  });
  return found == kRules.end() ? nullptr : &*found;
}

bool is_numeric_result_code(std::string_view result_code) noexcept {
  std::string_view digits = result_code;
  if (digits.starts_with('-')) digits.remove_prefix(1);
  return !digits.empty() && digits.size() <= 9 &&
         std::ranges::all_of(digits, [](char c) { return c >= '0' && c <= '9'; });
}

std::string outcome_table_text() {
  std::string text = "  ends  outcome               ResultCode   delivery\n";
  for (const OutcomeRule& rule : kRules) {
    const std::string_view suffix = rule.phone_suffix.empty() ? "other" : rule.phone_suffix;
    std::string code(rule.result_code);
    if (!is_numeric_result_code(rule.result_code)) code = fmt::format("\"{}\"", code);
    std::string extra;
    if (rule.balance_item) extra = ", with a Balance item without Value";
    text += fmt::format("  {:<5} {:<21} {:<12} {}{}\n", suffix, rule.name, code,
                        describe_delivery(rule.delivery), extra);
  }
  return text;
}

std::string_view to_string(Delivery delivery) noexcept {
  switch (delivery) {
    case Delivery::Once:
      return "once";
    case Delivery::Lost:
      return "lost";
    case Delivery::Twice:
      return "twice";
    case Delivery::Late:
      return "late";
  }
  return "once";
}

}  // namespace mpesa::simulator
