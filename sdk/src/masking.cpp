#include "mpesa/masking.hpp"

namespace mpesa {

std::string mask_phone(std::string_view phone) {
  if (phone.size() < 8) return std::string(phone.size(), '*');
  std::string masked(phone);
  // Keep the country and network prefix (4 characters) and the last 3 digits.
  for (std::size_t i = 4; i + 3 < masked.size(); ++i) masked[i] = '*';
  return masked;
}

std::string shorten_checkout_id(std::string_view checkout_request_id) {
  constexpr std::size_t kVisible = 10;
  if (checkout_request_id.size() <= kVisible) return std::string(checkout_request_id);
  std::string shortened(checkout_request_id.substr(0, kVisible));
  shortened += "…";
  return shortened;
}

}  // namespace mpesa
