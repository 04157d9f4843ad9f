#include <doctest/doctest.h>

#include <chrono>

#include "mpesa/error.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/password.hpp"
#include "mpesa/payment_status.hpp"
#include "mpesa/secret.hpp"
#include "mpesa/types.hpp"

using namespace std::chrono;

namespace {

// Daraja's public sandbox passkey for shortcode 174379, published in the Daraja docs.
constexpr const char* kSandboxPasskey =
    "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

system_clock::time_point utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

}  // namespace

TEST_SUITE("msisdn") {
  TEST_CASE("accepts every documented phone form") {
    const char* inputs[] = {"0712345678",   "712345678",  "+254712345678", "254712345678",
                            "0712 345 678", "+254 712-345-678", " 254712345678"};
    for (const char* input : inputs) {
      INFO("input: ", input);
      const auto parsed = mpesa::Msisdn::parse(input);
      REQUIRE(parsed.has_value());
      CHECK(parsed->digits() == "254712345678");
    }
  }

  TEST_CASE("accepts the 01 prefix") {
    for (const char* input : {"0110345678", "110345678", "254110345678"}) {
      INFO("input: ", input);
      const auto parsed = mpesa::Msisdn::parse(input);
      REQUIRE(parsed.has_value());
      CHECK(parsed->digits() == "254110345678");
    }
  }

  TEST_CASE("rejects numbers that are not Kenyan mobiles") {
    const char* inputs[] = {"",          "0812345678",  "25571234567",  "07123456",
                            "071234567a", "2547123456789", "+1 555 0100", "0712+345678"};
    for (const char* input : inputs) {
      INFO("input: ", input);
      const auto parsed = mpesa::Msisdn::parse(input);
      REQUIRE_FALSE(parsed.has_value());
      CHECK(parsed.error().kind == mpesa::ErrorKind::InvalidRequest);
      CHECK(parsed.error().field == "phone");
    }
  }

  TEST_CASE("error message masks the number") {
    const auto parsed = mpesa::Msisdn::parse("0812345678");
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().message.find("0812345678") == std::string::npos);
  }
}

TEST_SUITE("amount") {
  TEST_CASE("accepts whole shillings in range") {
    CHECK(mpesa::Amount::of(1).has_value());
    CHECK(mpesa::Amount::of(250000).has_value());
    CHECK(mpesa::Amount::parse("100")->shillings() == 100);
    CHECK(mpesa::Amount::parse("100.00")->shillings() == 100);
    CHECK(mpesa::Amount::parse("7.0")->shillings() == 7);
  }

  TEST_CASE("rejects out of range and fractional amounts") {
    CHECK_FALSE(mpesa::Amount::of(0).has_value());
    CHECK_FALSE(mpesa::Amount::of(-5).has_value());
    CHECK_FALSE(mpesa::Amount::of(250001).has_value());
    for (const char* input : {"10.50", "0.99", "", "abc", "-1", "1e3", "12345678901234567890", "."}) {
      INFO("input: ", input);
      const auto parsed = mpesa::Amount::parse(input);
      REQUIRE_FALSE(parsed.has_value());
      CHECK(parsed.error().field == "amount");
    }
  }
}

TEST_SUITE("text fields") {
  TEST_CASE("account reference allows 1 to 12 safe characters") {
    CHECK(mpesa::AccountReference::parse("INV-2026/001").has_value());
    CHECK_FALSE(mpesa::AccountReference::parse("").has_value());
    CHECK_FALSE(mpesa::AccountReference::parse("   ").has_value());
    CHECK_FALSE(mpesa::AccountReference::parse("ABCDEFGHIJKLM").has_value());
    CHECK_FALSE(mpesa::AccountReference::parse("a&b").has_value());
  }

  TEST_CASE("description allows up to 13 characters") {
    CHECK(mpesa::TransactionDesc::parse("Order 1234567").has_value());
    CHECK_FALSE(mpesa::TransactionDesc::parse("Order 12345678").has_value());
  }
}

TEST_SUITE("callback url") {
  TEST_CASE("production requires https") {
    CHECK(mpesa::CallbackUrl::parse("https://pay.example.com/mpesa/callback",
                                    mpesa::Environment::Production)
              .has_value());
    CHECK_FALSE(mpesa::CallbackUrl::parse("http://pay.example.com/cb",
                                          mpesa::Environment::Production)
                    .has_value());
    CHECK(mpesa::CallbackUrl::parse("http://127.0.0.1:8000/cb", mpesa::Environment::Sandbox)
              .has_value());
  }

  TEST_CASE("rejects spaces, relative URLs and upper-case hosts") {
    const auto sandbox = mpesa::Environment::Sandbox;
    CHECK_FALSE(mpesa::CallbackUrl::parse("https://example.com/a b", sandbox).has_value());
    CHECK_FALSE(mpesa::CallbackUrl::parse("/mpesa/callback", sandbox).has_value());
    CHECK_FALSE(mpesa::CallbackUrl::parse("https://Example.com/cb", sandbox).has_value());
    CHECK_FALSE(mpesa::CallbackUrl::parse("https:///cb", sandbox).has_value());
  }
}

TEST_SUITE("password") {
  TEST_CASE("matches the Daraja documentation vector") {
    const auto credentials =
        mpesa::make_stk_credentials("174379", kSandboxPasskey, utc(2021, 6, 28, 6, 24, 8));
    CHECK(credentials.timestamp == "20210628092408");
    CHECK(credentials.password ==
          "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGEx"
          "ZWQyYzkxOTIwMjEwNjI4MDkyNDA4");
  }

  TEST_CASE("timestamp crosses midnight in Nairobi before UTC") {
    // 21:30 UTC on 31 December is 00:30 on 1 January in Nairobi.
    CHECK(mpesa::nairobi_timestamp(utc(2025, 12, 31, 21, 30, 0)) == "20260101003000");
    CHECK(mpesa::nairobi_timestamp(utc(2026, 2, 28, 20, 59, 59)) == "20260228235959");
    CHECK(mpesa::nairobi_timestamp(utc(2026, 2, 28, 21, 0, 0)) == "20260301000000");
  }

  TEST_CASE("parses transaction dates back to UTC") {
    system_clock::time_point instant;
    REQUIRE(mpesa::parse_nairobi_timestamp("20191219102115", instant));
    CHECK(instant == utc(2019, 12, 19, 7, 21, 15));
    CHECK(mpesa::nairobi_iso8601(instant) == "2019-12-19T10:21:15+03:00");
    CHECK_FALSE(mpesa::parse_nairobi_timestamp("20191319102115", instant));
    CHECK_FALSE(mpesa::parse_nairobi_timestamp("2019121910211", instant));
  }
}

TEST_SUITE("masking") {
  TEST_CASE("phone keeps prefix and last three digits") {
    CHECK(mpesa::mask_phone("254708374149") == "2547*****149");
    CHECK(mpesa::mask_phone("123") == "***");
  }

  TEST_CASE("checkout id drops the phone digits") {
    const std::string shortened = mpesa::shorten_checkout_id("ws_CO_021020261810465180000006");
    CHECK(shortened.find("0000006") == std::string::npos);
    CHECK(shortened.starts_with("ws_CO_0210"));
  }
}

TEST_SUITE("payment status") {
  TEST_CASE("result codes map to states") {
    using mpesa::PaymentStatus;
    CHECK(mpesa::status_for_result_code("0") == PaymentStatus::Succeeded);
    CHECK(mpesa::status_for_result_code("1032") == PaymentStatus::Cancelled);
    CHECK(mpesa::status_for_result_code("1031") == PaymentStatus::Cancelled);
    CHECK(mpesa::status_for_result_code("1037") == PaymentStatus::TimedOut);
    CHECK(mpesa::status_for_result_code("1036") == PaymentStatus::TimedOut);
    CHECK(mpesa::status_for_result_code("1019") == PaymentStatus::TimedOut);
    CHECK(mpesa::status_for_result_code("2001") == PaymentStatus::Failed);
    CHECK(mpesa::status_for_result_code("abc") == PaymentStatus::Failed);
  }
}

TEST_SUITE("secret") {
  TEST_CASE("to_string never shows the value") {
    const mpesa::Secret secret("s3cr3t-value");
    CHECK(secret.to_string() == "[redacted]");
    CHECK(secret.reveal() == "s3cr3t-value");
  }

  TEST_CASE("constant time comparison") {
    CHECK(mpesa::constant_time_equals("abc", "abc"));
    CHECK_FALSE(mpesa::constant_time_equals("abc", "abd"));
    CHECK_FALSE(mpesa::constant_time_equals("abc", "abcd"));
    CHECK_FALSE(mpesa::constant_time_equals("", "a"));
  }
}

TEST_SUITE("error") {
  TEST_CASE("describe shortens a checkout id used as requestId") {
    mpesa::Error error;
    error.kind = mpesa::ErrorKind::Unavailable;
    error.http_status = 500;
    error.daraja_error_code = "500.001.1001";
    error.request_id = "ws_CO_021020261810465180000006";
    error.message = "the transaction is being processed";
    const std::string text = error.describe();
    CHECK(text.find("ws_CO_0210") != std::string::npos);
    CHECK(text.find("5180000006") == std::string::npos);
    CHECK(text.find("errorCode 500.001.1001") != std::string::npos);
  }

  TEST_CASE("describe keeps other request ids whole") {
    mpesa::Error error;
    error.kind = mpesa::ErrorKind::DarajaRejected;
    error.http_status = 400;
    error.request_id = "c9b1-4b6e-93d1-4bd1a1d8e5f2";
    error.message = "Invalid CallBackURL";
    CHECK(error.describe().find("requestId c9b1-4b6e-93d1-4bd1a1d8e5f2") != std::string::npos);
  }
}
