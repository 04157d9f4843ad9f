// The callback listener over HTTPS (MPESA_TLS_CERT, MPESA_TLS_KEY).

#include <cstdlib>

#include <doctest/doctest.h>

#include "harness.hpp"

namespace mpesa::test {
namespace {

// Writes a self-signed certificate for 127.0.0.1 and its key into `dir` with the openssl
// command; returns false when that fails.
bool make_certificate(const std::filesystem::path& dir) {
  const auto command = fmt::format(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout {}/key.pem -out {}/cert.pem >/dev/null 2>&1",
      dir.string(), dir.string());
  return std::system(command.c_str()) == 0;
}

}  // namespace

TEST_CASE("tls: callback listener serves HTTPS") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  TempDir dir;
  REQUIRE_MESSAGE(make_certificate(dir.path()), "the openssl command could not create a test certificate");
  auto config = test_config(dir.path() / "spool.log");
  config.tls_cert = (dir.path() / "cert.pem").string();
  config.tls_key = (dir.path() / "key.pem").string();
  TestServer server(std::move(config));

  httplib::SSLClient client("127.0.0.1", server.app().callback_port());
  client.set_ca_cert_path((dir.path() / "cert.pem").c_str());
  client.enable_server_certificate_verification(true);
  const auto result = client.Post(fmt::format("/mpesa/callback/{}", kSecretOne),
                                  read_test_file("daraja/callback/02-docs-1032-cancelled-uuidlike-ids.json"),
                                  "application/json");
  REQUIRE_MESSAGE(result, httplib::to_string(result.error()));
  CHECK(result->status == 200);
  CHECK(result->body == server::kCallbackAccepted);
  CHECK(database.scalar("SELECT outcome FROM stk_callback_events") == "unmatched");

  httplib::Client plain("127.0.0.1", server.app().callback_port());
  const auto plain_result = plain.Post(fmt::format("/mpesa/callback/{}", kSecretOne), "{}", "application/json");
  CHECK_MESSAGE(!(plain_result && plain_result->status == 200), "plain HTTP must not reach the route");
  CHECK(database.event_count() == 1);
}

TEST_CASE("tls: unreadable certificate is a configuration error") {
  TempDir dir;
  auto config = test_config(dir.path() / "spool.log");
  config.tls_cert = (dir.path() / "missing-cert.pem").string();
  config.tls_key = (dir.path() / "missing-key.pem").string();
  CHECK_THROWS_AS(server::ServerApp(config, nullptr, nullptr, {}), ConfigError);
}

}  // namespace mpesa::test
