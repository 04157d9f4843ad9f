// Hosts the Daraja callback endpoint and the payments API inside an application's own
// process, next to a route of the application's own.
//
//   MPESA_DATABASE_URL=postgresql://localhost/mpesa MPESA_CALLBACK_SECRET=<32 random chars> \
//   MPESA_API_KEY=<random> MPESA_CONSUMER_KEY=... MPESA_CONSUMER_SECRET=... \
//   MPESA_SHORTCODE=174379 MPESA_PASSKEY=... \
//   MPESA_CALLBACK_URL=https://shop.example.com/mpesa/callback/<the secret> \
//   ./embed_server
//
// It reads the same MPESA_* variables as `mpesa-stk serve` (docs/configuration.md) and
// applies the migrations at start. Without MPESA_CONSUMER_KEY it only receives callbacks.
// SIGINT or SIGTERM stops it gracefully.

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "mpesa/config.hpp"
#include "mpesa/server/migrations.hpp"
#include "mpesa/server/server_app.hpp"
#include "mpesa/server/server_config.hpp"
#include "mpesa/stk_client.hpp"

namespace {

std::optional<std::string> environment_value(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// The Daraja client is optional: a process that only receives callbacks needs no credentials.
std::shared_ptr<mpesa::StkApi> daraja_client() {
  if (!environment_value("MPESA_CONSUMER_KEY")) return nullptr;
  return std::make_shared<mpesa::StkClient>(mpesa::Config::from_environment());
}

// ServerApp fills in the reconcile and deadline times from its ServerConfig.
mpesa::server::PaymentSettings payment_settings(const mpesa::StkApi* stk) {
  mpesa::server::PaymentSettings settings;
  if (const auto* client = dynamic_cast<const mpesa::StkClient*>(stk)) {
    settings.shortcode = client->config().shortcode;
    settings.transaction_type = client->config().transaction_type;
  }
  return settings;
}

// The application's own route, served by the same API listener as /api/payments.
void add_application_routes(httplib::Server& api) {
  api.Get("/shop/ping", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"shop":"open"})", "application/json");
  });
}

}  // namespace

int main() {
  // Blocked before any thread starts, so sigwait() below receives them instead of a worker.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    auto config = mpesa::server::ServerConfig::from_settings(environment_value);
    config.validate();
    if (const auto report = mpesa::server::apply_migrations(config.database_url); !report) {
      std::cerr << "migration failed: " << report.error().describe() << "\n";
      return 1;
    }

    auto stk = daraja_client();
    const auto settings = payment_settings(stk.get());
    mpesa::server::ServerApp app(std::move(config), nullptr, stk, settings, spdlog::default_logger());
    add_application_routes(app.api_server());
    app.start();
    spdlog::info("callbacks on port {}, API and /shop/ping on port {}", app.callback_port(), app.api_port());

    int received = 0;
    sigwait(&stop_signals, &received);
    app.stop();
    return 0;
  } catch (const mpesa::ConfigError& error) {
    std::cerr << "configuration error: " << error.what() << "\n";
    return 2;
  }
}
