// Sends one STK push and asks STK Push Query for its result, using only the SDK.
//
//   MPESA_CONSUMER_KEY=... MPESA_CONSUMER_SECRET=... MPESA_SHORTCODE=174379 \
//   MPESA_PASSKEY=... MPESA_CALLBACK_URL=https://example.com/mpesa/callback \
//   ./push_payment 0712345678 10 INV-42
//
// Point MPESA_BASE_URL at `mpesa-stk simulate` to try it without a Daraja account.

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "mpesa/config.hpp"
#include "mpesa/stk_client.hpp"
#include "mpesa/types.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: push_payment PHONE AMOUNT REFERENCE\n";
    return 2;
  }

  // Amount::parse rejects "10.5" and "abc" instead of truncating them to 10 or 0.
  const auto amount = mpesa::Amount::parse(argv[2]);
  if (!amount) {
    std::cerr << amount.error().message << "\n";
    return 1;
  }

  try {
    mpesa::StkClient client(mpesa::Config::from_environment());

    mpesa::PushRequest request;
    request.phone = argv[1];
    request.amount = amount->shillings();
    request.account_reference = argv[3];
    const auto ack = client.push(request);
    if (!ack) {
      std::cerr << "push failed: " << ack.error().describe() << "\n";
      // An outcome-unknown push may still reach the phone: query it, never resend it.
      return 1;
    }
    std::cout << "prompt sent: " << ack->customer_message << "\n";

    // The callback normally brings the result. Without a callback server, ask STK Push
    // Query every 5 seconds for up to 2 minutes, the time a prompt stays on the phone.
    for (int attempt = 0; attempt < 24; ++attempt) {
      std::this_thread::sleep_for(std::chrono::seconds(5));
      const auto result = client.query(ack->checkout_request_id);
      if (!result) {
        std::cerr << "query failed: " << result.error().describe() << "\n";
        // Daraja sometimes returns "does not exist" for a push it accepted moments ago.
        const bool try_again = result.error().retryable() ||
                               result.error().kind == mpesa::ErrorKind::NotFound;
        if (!try_again) return 1;
        continue;
      }
      if (!result->pending) {
        std::cout << "status: " << mpesa::to_string(result->status()) << " ("
                  << result->result_desc << ")\n";
        return 0;
      }
      std::cout << "waiting for the customer...\n";
    }
    std::cout << "status: still pending; the callback or a later query will tell\n";
    return 0;
  } catch (const mpesa::ConfigError& error) {
    std::cerr << "configuration error: " << error.what() << "\n";
    return 2;
  }
}
