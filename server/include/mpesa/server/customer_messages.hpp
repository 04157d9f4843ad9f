#pragma once

#include <optional>
#include <string_view>

#include "mpesa/payment_status.hpp"
#include "mpesa/server/payment_store.hpp"

namespace mpesa::server {

/// The languages customer messages are written in.
enum class Language { English, Swahili };

/// Returns "en" or "sw", for Content-Language.
[[nodiscard]] std::string_view to_string(Language language) noexcept;

/// Picks the language of a status response: `lang` ("en", "sw", from ?lang=) wins when it
/// names a supported language; otherwise the supported language with the highest q-value in
/// the Accept-Language header; otherwise English.
[[nodiscard]] Language choose_language(std::string_view lang, std::string_view accept_language) noexcept;

/// Why a payment is where it is, in terms a customer can act on. Frontends that show their
/// own texts switch on this; the server's own text for each is customer_message().
enum class MessageReason {
  Pending,
  Succeeded,
  Cancelled,
  WrongPin,
  InsufficientFunds,
  /// The phone did not respond in time (1037, 1036, 1019).
  TimedOut,
  /// The server gave up waiting at the payment deadline; the outcome is not known.
  Unconfirmed,
  /// M-Pesa is busy or could not reach the phone (26, 1025, 9999, Daraja rate limits).
  SystemBusy,
  /// Rule limited (17): a similar payment was made moments ago.
  RuleLimited,
  /// Another M-Pesa transaction is in progress for the customer (1001).
  TransactionInProgress,
  Failed,
};

/// Returns the reason as sent in the status JSON ("wrong_pin").
[[nodiscard]] std::string_view to_string(MessageReason reason) noexcept;

/// The reason for a payment's current state, from its status, result code and how the
/// result was learnt.
[[nodiscard]] MessageReason message_reason(PaymentStatus status, std::string_view result_code,
                                           std::optional<LearntVia> learnt_via) noexcept;

/// The text to show the customer for `reason`: one or two short sentences.
[[nodiscard]] std::string_view customer_message(MessageReason reason, Language language) noexcept;

}  // namespace mpesa::server
