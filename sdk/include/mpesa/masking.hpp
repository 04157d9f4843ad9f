#pragma once

#include <string>
#include <string_view>

namespace mpesa {

/// Hides the middle of a phone number for logs: `254708374149` becomes `2547*****149`.
/// Inputs shorter than 8 characters become all stars, so nothing short leaks whole.
[[nodiscard]] std::string mask_phone(std::string_view phone);

/// Shortens a CheckoutRequestID for logs. Modern ids end with the payer's phone digits,
/// so only the prefix and the time part survive: `ws_CO_0310…` (first 10 characters).
[[nodiscard]] std::string shorten_checkout_id(std::string_view checkout_request_id);

}  // namespace mpesa
