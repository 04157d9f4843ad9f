#include "mpesa/server/status_listener.hpp"

#include <pqxx/pqxx>

#include "mpesa/server/pg_pool.hpp"

namespace mpesa::server {
namespace {

// How long one await_notification call blocks; bounds how long stop() waits.
constexpr long kAwaitMicroseconds = 200'000;
constexpr auto kFirstRetryDelay = std::chrono::milliseconds(250);
constexpr auto kMaxRetryDelay = std::chrono::seconds(5);

class Relay final : public pqxx::notification_receiver {
 public:
  Relay(pqxx::connection_base& connection, StatusNotifier& notifier)
      : pqxx::notification_receiver(connection, std::string(kStatusChannel)), notifier_(notifier) {}

  void operator()(const std::string& payload, int) override { notifier_.notify(payload); }

 private:
  StatusNotifier& notifier_;
};

}  // namespace

StatusListener::StatusListener(Secret database_url, std::shared_ptr<StatusNotifier> notifier,
                               std::shared_ptr<spdlog::logger> logger)
    : database_url_(std::move(database_url)), notifier_(std::move(notifier)), logger_(std::move(logger)) {}

StatusListener::~StatusListener() { stop(); }

void StatusListener::start() {
  std::lock_guard lock(start_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void StatusListener::stop() {
  std::lock_guard lock(start_mutex_);
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  listening_ = false;
}

bool StatusListener::wait_until_listening(std::chrono::milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!listening_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return listening_;
}

void StatusListener::run() {
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(kFirstRetryDelay);
  while (!stopping_) {
    try {
      listen_once();
      delay = std::chrono::duration_cast<std::chrono::milliseconds>(kFirstRetryDelay);
    } catch (const std::exception& error) {
      listening_ = false;
      logger_->warn("status listener lost PostgreSQL ({}); retrying in {} ms",
                    storage_error(error, "listen for status changes").message, delay.count());
    }
    const auto until = std::chrono::steady_clock::now() + delay;
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    delay = std::min(delay * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxRetryDelay));
  }
}

// Connects, listens and relays until stop() or a connection failure (thrown).
void StatusListener::listen_once() {
  pqxx::connection connection(with_connect_timeout(database_url_.reveal()));
  Relay relay(connection, *notifier_);
  // notification_receiver issues LISTEN lazily; a trivial statement makes it happen now,
  // so listening() means no later change can be missed.
  pqxx::nontransaction(connection).exec("SELECT 1");
  connection.get_notifs();
  listening_ = true;
  logger_->debug("listening for payment status changes on channel {}", kStatusChannel);
  while (!stopping_) {
    connection.await_notification(0, kAwaitMicroseconds);
    if (!connection.is_open()) throw pqxx::broken_connection("the listening connection closed");
  }
  listening_ = false;
}

}  // namespace mpesa::server
