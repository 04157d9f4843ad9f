#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mpesa::simulator {

/// Delivery mode of the callback of a settled push.
enum class Delivery {
  /// One POST to the CallBackURL shortly after the customer answers.
  Once,
  /// No callback at all; only STK Push Query reveals the result.
  Lost,
  /// The same callback body POSTed twice.
  Twice,
  /// Held back until a query has returned the final result, then POSTed once.
  Late,
};

/// The behaviour of the simulated customer's phone for a push whose PhoneNumber ends with
/// `phone_suffix`.
struct OutcomeRule {
  /// The last two digits of the 12-digit PhoneNumber; empty for the default rule.
  std::string_view phone_suffix;
  /// A short name for logs, the control API and the documentation ("cancelled").
  std::string_view name;
  /// ResultCode as Daraja sends it: a number in the callback, a string in the query.
  /// A non-numeric code is sent as a JSON string in both.
  std::string_view result_code;
  /// ResultDesc in the callback.
  std::string_view callback_desc;
  /// ResultDesc in the STK Push Query response. Daraja words some codes differently there.
  std::string_view query_desc;
  /// True when a success callback carries a `{"Name":"Balance"}` item without a Value.
  bool balance_item = false;
  Delivery delivery = Delivery::Once;
};

/// Every rule, the default (success, suffix "") first. Suffixes are unique.
[[nodiscard]] std::span<const OutcomeRule> outcome_rules() noexcept;

/// The rule for a 12-digit PhoneNumber: the one whose suffix matches its last two digits,
/// or the default rule.
[[nodiscard]] const OutcomeRule& outcome_for_phone(std::string_view phone) noexcept;

/// The rule used to word a result set by hand: the first rule with `result_code` and
/// Delivery::Once, or nullptr when no rule has that code.
[[nodiscard]] const OutcomeRule* rule_for_result_code(std::string_view result_code) noexcept;

/// True when `result_code` is a decimal integer, so it is written as a JSON number in
/// callbacks.
[[nodiscard]] bool is_numeric_result_code(std::string_view result_code) noexcept;

/// The rule table as aligned plain text, one rule a line, for `--help` and logs.
[[nodiscard]] std::string outcome_table_text();

/// Returns "once", "lost", "twice" or "late".
[[nodiscard]] std::string_view to_string(Delivery delivery) noexcept;

}  // namespace mpesa::simulator
