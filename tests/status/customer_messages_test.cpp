// Customer messages: the reason for each state and failure code, and language choice.

#include <doctest/doctest.h>

#include "mpesa/server/customer_messages.hpp"

namespace mpesa::server {

TEST_CASE("each failure code has its own reason") {
  const auto failed = [](std::string_view code) { return message_reason(PaymentStatus::Failed, code, LearntVia::Callback); };
  CHECK(failed("2001") == MessageReason::WrongPin);
  CHECK(failed("1") == MessageReason::InsufficientFunds);
  CHECK(failed("17") == MessageReason::RuleLimited);
  CHECK(failed("1001") == MessageReason::TransactionInProgress);
  CHECK(failed("26") == MessageReason::SystemBusy);
  CHECK(failed("1025") == MessageReason::SystemBusy);
  CHECK(failed("9999") == MessageReason::SystemBusy);
  CHECK(failed("rate_limited") == MessageReason::SystemBusy);
  CHECK(failed("SFC_IC0003") == MessageReason::Failed);
  CHECK(message_reason(PaymentStatus::Cancelled, "1032", LearntVia::Callback) == MessageReason::Cancelled);
  CHECK(message_reason(PaymentStatus::TimedOut, "1037", LearntVia::Callback) == MessageReason::TimedOut);
  CHECK(message_reason(PaymentStatus::TimedOut, "1036", LearntVia::Query) == MessageReason::TimedOut);
  CHECK(message_reason(PaymentStatus::TimedOut, "", LearntVia::Deadline) == MessageReason::Unconfirmed);
  CHECK(message_reason(PaymentStatus::Pending, "", std::nullopt) == MessageReason::Pending);
  CHECK(message_reason(PaymentStatus::Succeeded, "0", LearntVia::Query) == MessageReason::Succeeded);
}

TEST_CASE("every reason has an English and a Swahili text that differ") {
  for (const auto reason : {MessageReason::Pending, MessageReason::Succeeded, MessageReason::Cancelled,
                            MessageReason::WrongPin, MessageReason::InsufficientFunds, MessageReason::TimedOut,
                            MessageReason::Unconfirmed, MessageReason::SystemBusy, MessageReason::RuleLimited,
                            MessageReason::TransactionInProgress, MessageReason::Failed}) {
    const auto english = customer_message(reason, Language::English);
    const auto swahili = customer_message(reason, Language::Swahili);
    INFO(to_string(reason));
    CHECK_FALSE(english.empty());
    CHECK_FALSE(swahili.empty());
    CHECK(english != swahili);
  }
  CHECK(customer_message(MessageReason::TimedOut, Language::English).find("SIM card") != std::string_view::npos);
  CHECK(customer_message(MessageReason::TimedOut, Language::Swahili).find("SIM kadi") != std::string_view::npos);
  CHECK(customer_message(MessageReason::RuleLimited, Language::English).find("two minutes") != std::string_view::npos);
  CHECK(customer_message(MessageReason::RuleLimited, Language::Swahili).find("dakika mbili") != std::string_view::npos);
}

TEST_CASE("choose_language prefers ?lang=, then the best Accept-Language q-value") {
  CHECK(choose_language("sw", "") == Language::Swahili);
  CHECK(choose_language("SW-ke", "en") == Language::Swahili);
  CHECK(choose_language("en", "sw") == Language::English);
  CHECK(choose_language("fr", "sw") == Language::Swahili);
  CHECK(choose_language("", "en;q=0.4, sw;q=0.6") == Language::Swahili);
  CHECK(choose_language("", "sw;q=0.2, en") == Language::English);
  CHECK(choose_language("", "sw;q=abc, en;q=0.1") == Language::English);
  CHECK(choose_language("", "de, fr") == Language::English);
  CHECK(choose_language("", "") == Language::English);
}

}  // namespace mpesa::server
