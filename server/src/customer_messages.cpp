#include "mpesa/server/customer_messages.hpp"

#include <array>
#include <cctype>
#include <charconv>

namespace mpesa::server {
namespace {

struct MessageText {
  MessageReason reason;
  std::string_view name;
  std::string_view english;
  std::string_view swahili;
};

// Short sentences a customer reads on a phone screen. The Swahili is everyday Kenyan usage
// ("kukatwa" for money taken from the account, "SIM kadi" for the SIM card).
constexpr std::array kMessages{
    MessageText{MessageReason::Pending, "pending",
                "Check your phone and enter your M-Pesa PIN to complete the payment.",
                "Angalia simu yako na uweke PIN yako ya M-Pesa ili kukamilisha malipo."},
    MessageText{MessageReason::Succeeded, "succeeded", "Payment received. Thank you!",
                "Malipo yamepokelewa. Asante!"},
    MessageText{MessageReason::Cancelled, "cancelled",
                "You cancelled the payment on your phone. No money was taken.",
                "Umeghairi malipo kwenye simu yako. Hakuna pesa iliyokatwa."},
    MessageText{MessageReason::WrongPin, "wrong_pin",
                "The M-Pesa PIN you entered is wrong. No money was taken. Please try again.",
                "PIN ya M-Pesa uliyoweka si sahihi. Hakuna pesa iliyokatwa. Tafadhali jaribu tena."},
    MessageText{MessageReason::InsufficientFunds, "insufficient_funds",
                "Your M-Pesa balance is too low for this payment. Top up and try again.",
                "Salio lako la M-Pesa halitoshi kwa malipo haya. Ongeza pesa kwenye M-Pesa kisha "
                "ujaribu tena."},
    MessageText{MessageReason::TimedOut, "timed_out",
                "Your phone did not answer in time. Try again and enter your PIN when the prompt "
                "appears. If this keeps happening, your SIM card may need an update: visit a "
                "Safaricom shop.",
                "Simu yako haikujibu kwa wakati. Jaribu tena na uweke PIN ujumbe wa M-Pesa "
                "ukitokea. Hali hii ikiendelea, huenda SIM kadi yako inahitaji kusasishwa: tembelea duka la "
                "Safaricom."},
    MessageText{MessageReason::Unconfirmed, "unconfirmed",
                "We could not confirm your payment. Check your M-Pesa messages before you pay "
                "again.",
                "Hatukuweza kuthibitisha malipo yako. Angalia ujumbe wako wa M-Pesa kabla ya "
                "kulipa tena."},
    MessageText{MessageReason::SystemBusy, "system_busy",
                "M-Pesa is busy right now. Please try again in a few minutes.",
                "M-Pesa ina shughuli nyingi kwa sasa. Tafadhali jaribu tena baada ya dakika "
                "chache."},
    MessageText{MessageReason::RuleLimited, "rule_limited",
                "M-Pesa stopped this payment because a similar one was made moments ago. Wait two "
                "minutes, then try again.",
                "M-Pesa imezuia malipo haya kwa sababu malipo kama haya yamefanyika sasa hivi. "
                "Subiri dakika mbili, kisha ujaribu tena."},
    MessageText{MessageReason::TransactionInProgress, "transaction_in_progress",
                "Another M-Pesa transaction is in progress on your phone. Finish it, then try "
                "again.",
                "Kuna muamala mwingine wa M-Pesa unaoendelea kwenye simu yako. Umalize, kisha "
                "ujaribu tena."},
    MessageText{MessageReason::Failed, "failed", "The payment did not go through. Please try again.",
                "Malipo hayakufanikiwa. Tafadhali jaribu tena."},
};

const MessageText& text_for(MessageReason reason) noexcept {
  for (const auto& text : kMessages) {
    if (text.reason == reason) return text;
  }
  return kMessages.back();
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// "sw", "sw-KE" and "SW_ke" are Swahili; "en", "en-GB" English; anything else nothing.
std::optional<Language> language_of_tag(std::string_view tag) noexcept {
  tag = trim(tag);
  const auto primary = tag.substr(0, tag.find_first_of("-_"));
  if (equals_ignoring_case(primary, "sw")) return Language::Swahili;
  if (equals_ignoring_case(primary, "en")) return Language::English;
  return std::nullopt;
}

// The q-value of one Accept-Language entry's parameters (";q=0.8"); 1 when absent, 0 when
// unreadable, so a malformed entry never wins.
double quality_of(std::string_view parameters) noexcept {
  const auto q = parameters.find("q=");
  if (q == std::string_view::npos) return 1.0;
  const auto value = trim(parameters.substr(q + 2));
  double quality = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), quality);
  if (error != std::errc()) return 0;
  return quality;
}

}  // namespace

std::string_view to_string(Language language) noexcept {
  return language == Language::Swahili ? "sw" : "en";
}

Language choose_language(std::string_view lang, std::string_view accept_language) noexcept {
  if (const auto chosen = language_of_tag(lang)) return *chosen;
  std::optional<Language> best;
  double best_quality = 0;
  while (!accept_language.empty()) {
    const auto comma = accept_language.find(',');
    const auto entry = accept_language.substr(0, comma);
    accept_language = comma == std::string_view::npos ? std::string_view() : accept_language.substr(comma + 1);
    const auto semicolon = entry.find(';');
    const auto language = language_of_tag(entry.substr(0, semicolon));
    const double quality = semicolon == std::string_view::npos ? 1.0 : quality_of(entry.substr(semicolon + 1));
    if (language && quality > best_quality) {
      best = language;
      best_quality = quality;
    }
  }
  return best.value_or(Language::English);
}

std::string_view to_string(MessageReason reason) noexcept { return text_for(reason).name; }

MessageReason message_reason(PaymentStatus status, std::string_view result_code,
                             std::optional<LearntVia> learnt_via) noexcept {
  switch (status) {
    case PaymentStatus::Pending: return MessageReason::Pending;
    case PaymentStatus::Succeeded: return MessageReason::Succeeded;
    case PaymentStatus::Cancelled: return MessageReason::Cancelled;
    case PaymentStatus::TimedOut:
      return learnt_via == LearntVia::Deadline ? MessageReason::Unconfirmed : MessageReason::TimedOut;
    case PaymentStatus::Failed: break;
  }
  if (result_code == "2001") return MessageReason::WrongPin;
  if (result_code == "1") return MessageReason::InsufficientFunds;
  if (result_code == "17") return MessageReason::RuleLimited;
  if (result_code == "1001") return MessageReason::TransactionInProgress;
  if (result_code == "1037" || result_code == "1036" || result_code == "1019") return MessageReason::TimedOut;
  // 26 "System busy", 1025 and 9999 "error while sending the push", and a push the server
  // could not send because Daraja was rate limiting or unavailable.
  if (result_code == "26" || result_code == "1025" || result_code == "9999" ||
      result_code == "rate_limited" || result_code == "unavailable" || result_code.starts_with("500.003.")) {
    return MessageReason::SystemBusy;
  }
  return MessageReason::Failed;
}

std::string_view customer_message(MessageReason reason, Language language) noexcept {
  const auto& text = text_for(reason);
  return language == Language::Swahili ? text.swahili : text.english;
}

}  // namespace mpesa::server
