// Address ranges, X-Forwarded-For resolution and the rate limiter.

#include <doctest/doctest.h>

#include "mpesa/server/address_list.hpp"
#include "mpesa/server/rate_limiter.hpp"
#include "mpesa/server/status_notifier.hpp"

#include <thread>

namespace mpesa::test {
namespace {

server::AddressList list(std::string_view text) {
  auto parsed = server::AddressList::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), text);
  return *parsed;
}

std::string resolve(std::string_view peer, std::string_view forwarded, std::string_view trusted) {
  const auto address = server::resolve_client_address(peer, forwarded, list(trusted));
  return address ? server::to_string(*address) : "none";
}

}  // namespace

TEST_CASE("address list: IPv4 CIDR and single addresses") {
  const auto allowed = list("196.201.214.200, 196.201.212.0/24");
  CHECK(allowed.contains("196.201.214.200"));
  CHECK_FALSE(allowed.contains("196.201.214.201"));
  CHECK(allowed.contains("196.201.212.1"));
  CHECK(allowed.contains("196.201.212.255"));
  CHECK_FALSE(allowed.contains("196.201.213.0"));
  CHECK_MESSAGE(allowed.contains("::ffff:196.201.214.200"), "a dual-stack peer shows IPv4 as IPv4-mapped IPv6");
  CHECK_FALSE(allowed.contains("not an address"));
}

TEST_CASE("address list: IPv6 ranges") {
  const auto allowed = list("2001:db8::/32 ::1");
  CHECK(allowed.contains("2001:db8:1::5"));
  CHECK_FALSE(allowed.contains("2001:db9::1"));
  CHECK(allowed.contains("::1"));
  CHECK_FALSE(allowed.contains("127.0.0.1"));
}

TEST_CASE("address list: odd prefix lengths") {
  const auto allowed = list("10.0.0.0/9");
  CHECK(allowed.contains("10.127.255.255"));
  CHECK_FALSE(allowed.contains("10.128.0.0"));
  CHECK(list("0.0.0.0/0").contains("203.0.113.9"));
}

TEST_CASE("address list: invalid entries are rejected") {
  for (const auto* text : {"300.1.1.1", "10.0.0.0/33", "10.0.0.0/", "2001:db8::/129", "example.com", "10.0.0.0/8x"}) {
    CAPTURE(text);
    const auto parsed = server::AddressList::parse(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().message.find(text) != std::string::npos);
  }
}

TEST_CASE("forwarded for: untrusted peer ignores the header") {
  CHECK(resolve("203.0.113.9", "196.201.214.200", "10.0.0.0/8") == "203.0.113.9");
}

TEST_CASE("forwarded for: trusted peer walks from the right") {
  CHECK(resolve("10.0.0.2", "196.201.214.200", "10.0.0.0/8") == "196.201.214.200");
  CHECK(resolve("10.0.0.2", "196.201.214.200, 10.0.0.7", "10.0.0.0/8") == "196.201.214.200");
  CHECK(resolve("10.0.0.2", "196.201.214.200, 203.0.113.9, 10.0.0.7", "10.0.0.0/8") == "203.0.113.9");
  CHECK_MESSAGE(resolve("10.0.0.2", "10.0.0.9, 10.0.0.7", "10.0.0.0/8") == "10.0.0.9",
                "when every hop is trusted the left-most is the client");
  CHECK(resolve("10.0.0.2", "", "10.0.0.0/8") == "10.0.0.2");
  CHECK(resolve("10.0.0.2", "garbage", "10.0.0.0/8") == "none");
}

TEST_CASE("rate limiter: burst then refill") {
  server::RateLimiter limiter(10, 3);
  const auto address = *server::IpAddress::parse("196.201.214.200");
  const auto other = *server::IpAddress::parse("196.201.214.206");
  const auto start = server::RateLimiter::Clock::now();
  CHECK(limiter.allow(address, start));
  CHECK(limiter.allow(address, start));
  CHECK(limiter.allow(address, start));
  CHECK_FALSE(limiter.allow(address, start));
  CHECK_MESSAGE(limiter.allow(other, start), "each address has its own bucket");
  CHECK(limiter.allow(address, start + std::chrono::milliseconds(100)));
  CHECK_FALSE(limiter.allow(address, start + std::chrono::milliseconds(100)));
}

TEST_CASE("rate limiter: zero rate allows everything") {
  server::RateLimiter limiter(0, 1);
  const auto address = *server::IpAddress::parse("127.0.0.1");
  for (int i = 0; i < 100; ++i) CHECK(limiter.allow(address));
}

TEST_CASE("status notifier: change before the wait is not lost") {
  server::StatusNotifier notifier;
  auto subscription = notifier.subscribe("pay_1");
  notifier.notify("pay_1");
  CHECK(subscription.wait_for(std::chrono::milliseconds(0)));
}

TEST_CASE("status notifier: other payments do not wake a waiter") {
  server::StatusNotifier notifier;
  auto subscription = notifier.subscribe("pay_1");
  notifier.notify("pay_2");
  CHECK_FALSE(subscription.wait_for(std::chrono::milliseconds(20)));
}

TEST_CASE("status notifier: wakes a waiting thread") {
  server::StatusNotifier notifier;
  auto subscription = notifier.subscribe("pay_1");
  std::thread notifier_thread([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    notifier.notify("pay_1");
  });
  CHECK(subscription.wait_for(std::chrono::seconds(5)));
  notifier_thread.join();
}

TEST_CASE("status notifier: slots go away with their subscriptions") {
  server::StatusNotifier notifier;
  {
    auto first = notifier.subscribe("pay_1");
    auto second = notifier.subscribe("pay_1");
    CHECK(notifier.watched_count() == 1);
  }
  CHECK(notifier.watched_count() == 0);
}

}  // namespace mpesa::test
