// Links the installed SDK and uses a few of its functions, without any network call.

#include <iostream>

#include "mpesa/masking.hpp"
#include "mpesa/messages.hpp"
#include "mpesa/types.hpp"

int main() {
  const auto phone = mpesa::Msisdn::parse("0708 374 149");
  if (!phone) return 1;
  const auto ack = mpesa::parse_push_ack(
      R"({"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1","ResponseCode":"0"})");
  if (!ack) return 1;
  std::cout << phone->masked() << " " << ack->checkout_request_id << "\n";
  return 0;
}
