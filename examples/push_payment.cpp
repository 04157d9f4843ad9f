// Sends one STK push and asks STK Push Query for its result, using only the SDK.
//
//   MPESA_CONSUMER_KEY=... MPESA_CONSUMER_SECRET=... MPESA_SHORTCODE=174379 \
//   MPESA_PASSKEY=... MPESA_CALLBACK_URL=https://example.com/mpesa/callback \
//   ./push_payment 0712345678 10 INV-42
//
// Point MPESA_BASE_URL at `mpesa-stk simulate` to try it without a Daraja account.

#include <cstdlib>
#include <iostream>
#include <string>

#include "mpesa/config.hpp"
#include "mpesa/stk_client.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: push_payment PHONE AMOUNT REFERENCE\n";
    return 2;
  }

  try {
    mpesa::StkClient client(mpesa::Config::from_environment());

    mpesa::PushRequest request;
    request.phone = argv[1];
    request.amount = std::strtoll(argv[2], nullptr, 10);
    request.account_reference = argv[3];
    const auto ack = client.push(request);
    if (!ack) {
      std::cerr << "push failed: " << ack.error().describe() << "\n";
      // An outcome-unknown push may still reach the phone: query it, never resend it.
      return 1;
    }
    std::cout << "prompt sent: " << ack->customer_message << "\n";

    // The callback normally brings the result; a query works too once the customer answers.
    const auto result = client.query(ack->checkout_request_id);
    if (!result) {
      std::cerr << "query failed: " << result.error().describe() << "\n";
      return 1;
    }
    std::cout << "status: " << mpesa::to_string(result->status()) << "\n";
    return 0;
  } catch (const mpesa::ConfigError& error) {
    std::cerr << "configuration error: " << error.what() << "\n";
    return 2;
  }
}
