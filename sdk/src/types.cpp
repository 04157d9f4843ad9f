#include "mpesa/types.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "mpesa/masking.hpp"

namespace mpesa {
namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

// Letters, digits, space and `-_.#/`: characters every Daraja deployment has accepted in
// AccountReference and TransactionDesc. Others (`&`, `<`, quotes, emoji) have produced
// "Invalid AccountReference" answers or garbled prompts on the customer's phone.
bool is_safe_text_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == ' ' || c == '-' || c == '_' || c == '.' || c == '#' ||
         c == '/';
}

Result<std::string> parse_safe_text(std::string_view input, std::string_view field,
                                    std::size_t max_length) {
  if (input.empty() || std::ranges::all_of(input, [](char c) { return c == ' '; })) {
    return fail(invalid_request(std::string(field),
                                fmt::format("{} is empty: give 1 to {} characters", field,
                                            max_length)));
  }
  if (input.size() > max_length) {
    return fail(invalid_request(
        std::string(field), fmt::format("{} \"{}\" has {} characters: Daraja allows at most {}",
                                        field, input, input.size(), max_length)));
  }
  const auto bad = std::ranges::find_if_not(input, is_safe_text_char);
  if (bad != input.end()) {
    return fail(invalid_request(
        std::string(field),
        fmt::format("{} \"{}\" contains '{}': use letters, digits, space and -_.#/ only", field,
                    input, *bad)));
  }
  return std::string(input);
}

}  // namespace

Result<Msisdn> Msisdn::parse(std::string_view input) {
  std::string digits;
  digits.reserve(input.size());
  for (std::size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c == '+' && digits.empty() && i == input.find_first_not_of(' ')) {
      continue;
    } else if (c != ' ' && c != '-' && c != '.') {
      return fail(invalid_request(
          "phone", fmt::format("phone number \"{}\" contains '{}': give digits such as "
                               "0712345678 or 254712345678",
                               mask_phone(input), c)));
    }
  }

  std::string national;  // the 9 digits after 254 or 0
  if (digits.size() == 12 && digits.starts_with("254")) {
    national = digits.substr(3);
  } else if (digits.size() == 10 && digits.starts_with('0')) {
    national = digits.substr(1);
  } else if (digits.size() == 9) {
    national = digits;
  } else {
    return fail(invalid_request(
        "phone", fmt::format("phone number \"{}\" has {} digits: give a Kenyan mobile number "
                             "such as 0712345678, 712345678 or 254712345678",
                             mask_phone(input), digits.size())));
  }
  if (national[0] != '7' && national[0] != '1') {
    return fail(invalid_request(
        "phone", fmt::format("phone number \"{}\" is not a Kenyan mobile number: it must start "
                             "with 07, 01, 2547 or 2541",
                             mask_phone(input))));
  }
  return Msisdn("254" + national);
}

std::string Msisdn::masked() const { return mask_phone(digits_); }

Result<Amount> Amount::of(std::int64_t shillings) {
  if (shillings < kMin || shillings > kMax) {
    return fail(invalid_request(
        "amount", fmt::format("amount {} is out of range: give whole shillings from {} to {}",
                              shillings, kMin, kMax)));
  }
  return Amount(shillings);
}

Result<Amount> Amount::parse(std::string_view input) {
  const std::size_t dot = input.find('.');
  const std::string_view whole = input.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : input.substr(dot + 1);
  if (!all_digits(whole) || (dot != std::string_view::npos && !all_digits(fraction))) {
    return fail(invalid_request(
        "amount", fmt::format("amount \"{}\" is not a number: give whole shillings such as 100",
                              input)));
  }
  if (std::ranges::any_of(fraction, [](char c) { return c != '0'; })) {
    return fail(invalid_request(
        "amount", fmt::format("amount \"{}\" has cents: M-Pesa charges whole shillings, so "
                              "round it before sending",
                              input)));
  }
  if (whole.size() > 7) {
    return fail(invalid_request(
        "amount", fmt::format("amount \"{}\" is out of range: give whole shillings from {} to {}",
                              input, kMin, kMax)));
  }
  return of(std::stoll(std::string(whole)));
}

Result<AccountReference> AccountReference::parse(std::string_view input) {
  auto text = parse_safe_text(input, "account_reference", kMaxLength);
  if (!text) return fail(std::move(text.error()));
  return AccountReference(std::move(*text));
}

Result<TransactionDesc> TransactionDesc::parse(std::string_view input) {
  auto text = parse_safe_text(input, "description", kMaxLength);
  if (!text) return fail(std::move(text.error()));
  return TransactionDesc(std::move(*text));
}

std::string_view to_string(Environment environment) noexcept {
  return environment == Environment::Production ? "production" : "sandbox";
}

Result<Environment> parse_environment(std::string_view input) {
  std::string lower(input);
  std::ranges::transform(lower, lower.begin(),
                         [](char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "sandbox") return Environment::Sandbox;
  if (lower == "production") return Environment::Production;
  return fail(invalid_request(
      "environment",
      fmt::format("environment \"{}\" is unknown: use sandbox or production", input)));
}

std::string_view default_base_url(Environment environment) noexcept {
  return environment == Environment::Production ? "https://api.safaricom.co.ke"
                                                : "https://sandbox.safaricom.co.ke";
}

Result<CallbackUrl> CallbackUrl::parse(std::string_view input, Environment environment) {
  const auto reject = [&](std::string_view why) {
    return fail(invalid_request("callback_url",
                                fmt::format("callback URL \"{}\" {}", input, why)));
  };
  if (input.find_first_of(" \t\r\n") != std::string_view::npos) {
    return reject("contains white space: Daraja rejects it with \"Invalid CallBackURL\"");
  }
  std::string_view rest;
  if (input.starts_with("https://")) {
    rest = input.substr(8);
  } else if (input.starts_with("http://")) {
    if (environment == Environment::Production) {
      return reject("uses http: production requires https");
    }
    rest = input.substr(7);
  } else {
    return reject("is not an absolute http or https URL");
  }
  const std::string_view host = rest.substr(0, rest.find_first_of(":/?#"));
  if (host.empty()) return reject("has no host");
  if (std::ranges::any_of(host, [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return reject("has upper-case letters in the host: write the host in lower case");
  }
  return CallbackUrl(std::string(input));
}

Result<ShortCode> ShortCode::parse(std::string_view input) {
  if (!all_digits(input) || input.size() < 5 || input.size() > 8) {
    return fail(invalid_request(
        "shortcode", fmt::format("shortcode \"{}\" is invalid: give the 5 to 8 digit PayBill, "
                                 "store or till number",
                                 input)));
  }
  return ShortCode(std::string(input));
}

std::string_view to_string(TransactionType type) noexcept {
  return type == TransactionType::CustomerBuyGoodsOnline ? "CustomerBuyGoodsOnline"
                                                         : "CustomerPayBillOnline";
}

Result<TransactionType> parse_transaction_type(std::string_view input) {
  if (input == "CustomerPayBillOnline") return TransactionType::CustomerPayBillOnline;
  if (input == "CustomerBuyGoodsOnline") return TransactionType::CustomerBuyGoodsOnline;
  return fail(invalid_request(
      "transaction_type",
      fmt::format("transaction type \"{}\" is unknown: use CustomerPayBillOnline or "
                  "CustomerBuyGoodsOnline",
                  input)));
}

}  // namespace mpesa
