// Feeds arbitrary bytes to the OAuth answer parser.

#include "fuzz_check.hpp"
#include "mpesa/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto token = mpesa::parse_token_response(mpesa::fuzz::as_text(data, size));
  if (!token) {
    mpesa::fuzz::expect(token.error().kind == mpesa::ErrorKind::Parse,
                        "an OAuth answer the parser refuses is a Parse error");
    return 0;
  }
  mpesa::fuzz::expect(!token->access_token.empty(), "an accepted token is not empty");
  mpesa::fuzz::expect(token->expires_in_seconds > 0, "an accepted token has a positive lifetime");
  return 0;
}
