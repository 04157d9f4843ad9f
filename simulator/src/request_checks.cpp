#include "detail/request_checks.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <simdjson.h>

#include "mpesa/password.hpp"

namespace mpesa::simulator::detail {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// A scalar field as text: strings as they are, integers in decimal, doubles in decimal
// without a fraction when they are whole (1.0 becomes "1") and with one otherwise.
std::optional<std::string> scalar_text(const object& fields, std::string_view key) {
  element value;
  if (fields.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  switch (value.type()) {
    case element_type::STRING:
      return std::string(value.get_string().value());
    case element_type::INT64:
      return std::to_string(value.get_int64().value());
    case element_type::UINT64:
      return std::to_string(value.get_uint64().value());
    case element_type::DOUBLE: {
      const double number = value.get_double().value();
      if (std::floor(number) == number && std::fabs(number) < 1e15) {
        return std::to_string(static_cast<std::int64_t>(number));
      }
      return fmt::format("{}", number);
    }
    default:
      return std::nullopt;
  }
}

std::optional<std::string> string_field(const object& fields, std::string_view key) {
  element value;
  if (fields.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return std::string(text);
}

bool is_msisdn(std::string_view text) {
  return text.size() == 12 && (text.starts_with("2547") || text.starts_with("2541")) &&
         std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

bool is_timestamp(std::string_view text) {
  std::chrono::system_clock::time_point instant;
  return parse_nairobi_timestamp(text, instant);
}

// Parses `body` into `parser` and returns its top-level object.
std::optional<object> parse_object(simdjson::dom::parser& parser, std::string_view body) {
  const simdjson::padded_string padded(body);
  element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return std::nullopt;
  object fields;
  if (root.get_object().get(fields) != simdjson::SUCCESS) return std::nullopt;
  return fields;
}

// Reads the three fields push and query share; returns the invalid field's name or "".
std::string read_credentials(const object& fields, std::string& shortcode, std::string& password,
                             std::string& timestamp) {
  const auto code = scalar_text(fields, "BusinessShortCode");
  if (!code || !ShortCode::parse(*code)) return "BusinessShortCode";
  shortcode = *code;

  const auto pass = string_field(fields, "Password");
  if (!pass || pass->empty()) return "Password";
  password = *pass;

  const auto stamp = scalar_text(fields, "Timestamp");
  if (!stamp || !is_timestamp(*stamp)) return "Timestamp";
  timestamp = *stamp;
  return "";
}

std::string read_parties(const object& fields, PushFields& push) {
  const auto type = string_field(fields, "TransactionType");
  if (!type) return "TransactionType";
  const auto parsed_type = parse_transaction_type(*type);
  if (!parsed_type) return "TransactionType";
  push.transaction_type = *parsed_type;

  const auto amount_text = scalar_text(fields, "Amount");
  if (!amount_text) return "Amount";
  const auto amount = Amount::parse(*amount_text);
  if (!amount) return "Amount";
  push.amount = amount->shillings();

  const auto party_a = scalar_text(fields, "PartyA");
  if (!party_a || !is_msisdn(*party_a)) return "PartyA";
  push.party_a = *party_a;

  // A PayBill push pays the PayBill itself; a BuyGoods push pays a till of the store.
  const auto party_b = scalar_text(fields, "PartyB");
  if (!party_b || !ShortCode::parse(*party_b)) return "PartyB";
  if (push.transaction_type == TransactionType::CustomerPayBillOnline &&
      *party_b != push.shortcode) {
    return "PartyB";
  }
  push.party_b = *party_b;

  const auto phone = scalar_text(fields, "PhoneNumber");
  if (!phone || !is_msisdn(*phone)) return "PhoneNumber";
  push.phone = *phone;
  return "";
}

std::string read_texts(const object& fields, PushFields& push) {
  const auto url = string_field(fields, "CallBackURL");
  if (!url || !CallbackUrl::parse(*url, Environment::Sandbox)) return "CallBackURL";
  push.callback_url = *url;

  const auto reference = scalar_text(fields, "AccountReference");
  if (!reference || !AccountReference::parse(*reference)) return "AccountReference";
  push.account_reference = *reference;

  const auto description = scalar_text(fields, "TransactionDesc");
  if (!description || !TransactionDesc::parse(*description)) return "TransactionDesc";
  push.transaction_desc = *description;
  return "";
}

}  // namespace

std::expected<PushFields, std::string> read_push_fields(std::string_view body) {
  simdjson::dom::parser parser;
  const auto fields = parse_object(parser, body);
  if (!fields) return std::unexpected<std::string>("BusinessShortCode");

  PushFields push;
  std::string invalid = read_credentials(*fields, push.shortcode, push.password, push.timestamp);
  if (invalid.empty()) invalid = read_parties(*fields, push);
  if (invalid.empty()) invalid = read_texts(*fields, push);
  if (!invalid.empty()) return std::unexpected(std::move(invalid));
  return push;
}

std::expected<QueryFields, std::string> read_query_fields(std::string_view body) {
  simdjson::dom::parser parser;
  const auto fields = parse_object(parser, body);
  if (!fields) return std::unexpected<std::string>("BusinessShortCode");

  QueryFields query;
  std::string invalid =
      read_credentials(*fields, query.shortcode, query.password, query.timestamp);
  if (!invalid.empty()) return std::unexpected(std::move(invalid));

  const auto checkout = string_field(*fields, "CheckoutRequestID");
  if (!checkout || checkout->empty() || checkout->size() > 64) {
    return std::unexpected<std::string>("CheckoutRequestID");
  }
  query.checkout_request_id = *checkout;
  return query;
}

bool is_json_content_type(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  std::string lowered;
  for (const char c : media) {
    if (c != ' ') lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return lowered == "application/json";
}

}  // namespace mpesa::simulator::detail
