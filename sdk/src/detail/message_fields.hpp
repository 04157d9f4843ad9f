#pragma once

#include <string>
#include <string_view>

namespace mpesa::detail {

/// The id Daraja gives a response, for log lines: `requestId` of an error body, otherwise
/// `MerchantRequestID`; empty when the body has neither.
[[nodiscard]] std::string daraja_request_id(std::string_view body);

/// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_string(std::string_view text);

}  // namespace mpesa::detail
