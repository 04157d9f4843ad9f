#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "mpesa/types.hpp"

namespace mpesa::simulator::detail {

/// The fields of an STK push request after Daraja's checks. Numeric fields may arrive as
/// JSON numbers or strings (Daraja's own example mixes them); here they are text.
struct PushFields {
  std::string shortcode;
  std::string password;
  std::string timestamp;
  TransactionType transaction_type = TransactionType::CustomerPayBillOnline;
  std::int64_t amount = 0;
  std::string party_a;
  std::string party_b;
  std::string phone;
  std::string callback_url;
  std::string account_reference;
  std::string transaction_desc;
};

/// The fields of an STK Push Query request.
struct QueryFields {
  std::string shortcode;
  std::string password;
  std::string timestamp;
  std::string checkout_request_id;
};

/// Reads a push body. On failure returns the Daraja name of the first invalid or missing
/// field, for the error message "Bad Request - Invalid <field>". A body that is not a JSON object
/// fails on "BusinessShortCode", the first field Daraja reads.
[[nodiscard]] std::expected<PushFields, std::string> read_push_fields(std::string_view body);

/// Reads a query body, failing like read_push_fields.
[[nodiscard]] std::expected<QueryFields, std::string> read_query_fields(std::string_view body);

/// True for `application/json` with or without parameters such as `;charset=UTF-8`.
[[nodiscard]] bool is_json_content_type(std::string_view content_type);

}  // namespace mpesa::simulator::detail
