// Feeds arbitrary bytes to the STK callback parser, the code that reads every request body
// the callback endpoint accepts from the network.

#include "fuzz_check.hpp"
#include "mpesa/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto callback = mpesa::parse_stk_callback(mpesa::fuzz::as_text(data, size));
  if (!callback) {
    mpesa::fuzz::expect(callback.error().kind == mpesa::ErrorKind::Parse,
                        "a callback the parser refuses is a Parse error");
    return 0;
  }
  const auto status = callback->status();
  if (callback->result_code == "0" && !callback->receipt) {
    mpesa::fuzz::expect(status == mpesa::PaymentStatus::Failed,
                        "ResultCode 0 without a receipt is Failed");
  }
  mpesa::fuzz::expect(status != mpesa::PaymentStatus::Pending,
                      "a callback always carries a final state");
  return 0;
}
