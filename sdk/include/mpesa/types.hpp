#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mpesa/error.hpp"

namespace mpesa {

/// A Kenyan mobile number normalised to 12 digits, `2547XXXXXXXX` or `2541XXXXXXXX`.
class Msisdn {
 public:
  /// Accepts `07…`, `01…`, `7…`, `1…`, `+254…` and `254…`, with spaces, dashes or dots
  /// between digits. Anything else is an InvalidRequest error on field "phone".
  [[nodiscard]] static Result<Msisdn> parse(std::string_view input);
  [[nodiscard]] const std::string& digits() const noexcept { return digits_; }
  /// The number with the middle digits hidden (`2547*****149`), safe for logs.
  [[nodiscard]] std::string masked() const;
  friend bool operator==(const Msisdn&, const Msisdn&) = default;

 private:
  explicit Msisdn(std::string digits) : digits_(std::move(digits)) {}
  std::string digits_;
};

/// An amount in whole Kenya shillings, 1 to 250,000 (Daraja's limit for STK Push).
class Amount {
 public:
  static constexpr std::int64_t kMin = 1;
  static constexpr std::int64_t kMax = 250'000;
  [[nodiscard]] static Result<Amount> of(std::int64_t shillings);
  /// Parses a decimal string. "100", "100.0" and "100.00" are accepted; "100.50" is
  /// rejected, because Daraja charges whole shillings and rounding would change the price.
  [[nodiscard]] static Result<Amount> parse(std::string_view input);
  [[nodiscard]] std::int64_t shillings() const noexcept { return shillings_; }
  friend bool operator==(const Amount&, const Amount&) = default;

 private:
  explicit Amount(std::int64_t shillings) : shillings_(shillings) {}
  std::int64_t shillings_;
};

/// Daraja's AccountReference: 1 to 12 characters from letters, digits, space and `-_.#/`.
/// The customer sees it in the prompt ("Pay KES 10 to SHOP for account INV-42").
class AccountReference {
 public:
  static constexpr std::size_t kMaxLength = 12;
  [[nodiscard]] static Result<AccountReference> parse(std::string_view input);
  [[nodiscard]] const std::string& value() const noexcept { return value_; }

 private:
  explicit AccountReference(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

/// Daraja's TransactionDesc: 1 to 13 characters from the same set as AccountReference.
class TransactionDesc {
 public:
  static constexpr std::size_t kMaxLength = 13;
  [[nodiscard]] static Result<TransactionDesc> parse(std::string_view input);
  [[nodiscard]] const std::string& value() const noexcept { return value_; }

 private:
  explicit TransactionDesc(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

/// The Daraja deployment the client sends requests to.
enum class Environment { Sandbox, Production };

/// Returns "sandbox" or "production".
[[nodiscard]] std::string_view to_string(Environment environment) noexcept;
/// Parses "sandbox" or "production" (case-insensitive).
[[nodiscard]] Result<Environment> parse_environment(std::string_view input);
/// The Daraja base URL of the environment, without a trailing slash.
[[nodiscard]] std::string_view default_base_url(Environment environment) noexcept;

/// An absolute callback URL that Daraja accepts: http or https, lowercase host, no spaces.
/// Production requires https; the sandbox also accepts http.
class CallbackUrl {
 public:
  [[nodiscard]] static Result<CallbackUrl> parse(std::string_view input, Environment environment);
  [[nodiscard]] const std::string& value() const noexcept { return value_; }
  [[nodiscard]] bool is_https() const noexcept { return value_.starts_with("https://"); }

 private:
  explicit CallbackUrl(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

/// A PayBill or till number: 5 to 7 digits (Daraja's sandbox PayBill is 174379).
class ShortCode {
 public:
  [[nodiscard]] static Result<ShortCode> parse(std::string_view input);
  [[nodiscard]] const std::string& value() const noexcept { return value_; }
  friend bool operator==(const ShortCode&, const ShortCode&) = default;

 private:
  explicit ShortCode(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

/// The STK TransactionType. PayBill sends PartyB = shortcode; BuyGoods sends PartyB = till.
enum class TransactionType { CustomerPayBillOnline, CustomerBuyGoodsOnline };

/// Returns Daraja's spelling, "CustomerPayBillOnline" or "CustomerBuyGoodsOnline".
[[nodiscard]] std::string_view to_string(TransactionType type) noexcept;
[[nodiscard]] Result<TransactionType> parse_transaction_type(std::string_view input);

}  // namespace mpesa
