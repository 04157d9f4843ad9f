#pragma once

// The private state of mpesa::simulator::Simulator, shared by simulator.cpp (lifecycle and
// control API), daraja_routes.cpp (OAuth, push and query) and push_book.cpp (settling
// pushes and sending callbacks).

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <httplib.h>

#include "detail/callback_sender.hpp"
#include "detail/ids.hpp"
#include "detail/request_checks.hpp"
#include "detail/scheduler.hpp"
#include "detail/token_store.hpp"
#include "mpesa/simulator/outcomes.hpp"
#include "mpesa/simulator/simulator.hpp"

namespace mpesa::simulator {

namespace detail {

/// An HTTP response and the detail that goes into its log line.
struct Reply {
  int status = 200;
  std::string body;
  /// Words for the log line: masked phone, shortened id, error code. Never a secret.
  std::string log_detail;
};

/// One accepted push and what has happened to it.
struct PushRecord {
  PushSnapshot view;
  /// The rule chosen by the phone number; its Delivery also applies to manual results.
  const OutcomeRule* rule = nullptr;
  bool settled = false;
  std::string query_desc;
  std::string callback_body;
  /// For Delivery::Late: whether the callback has been scheduled yet.
  bool late_callback_scheduled = false;
};

}  // namespace detail

struct Simulator::Impl {
  Impl(SimulatorConfig config, std::shared_ptr<spdlog::logger> logger,
       std::shared_ptr<const Clock> clock);
  ~Impl();

  // daraja_routes.cpp
  detail::Reply generate_token(const httplib::Request& request);
  detail::Reply process_push(const httplib::Request& request);
  detail::Reply query_push(const httplib::Request& request);
  std::optional<detail::Reply> check_gateway(const httplib::Request& request);
  std::optional<detail::Reply> check_merchant(const std::string& shortcode,
                                              const std::string& password,
                                              const std::string& timestamp);
  detail::Reply daraja_error(int status, std::string_view code, std::string_view message);

  // push_book.cpp
  detail::Reply accept_push(const detail::PushFields& fields);
  detail::Reply answer_query(const std::string& checkout_request_id);
  Result<PushSnapshot> resolve(std::string_view checkout_request_id, std::string_view result_code,
                               std::string_view result_desc);
  void answer_automatically(const std::string& checkout_request_id);
  void settle_locked(detail::PushRecord& record, std::string result_code,
                     std::string callback_desc, std::string query_desc, bool balance_item);
  void schedule_delivery_locked(detail::PushRecord& record);
  void deliver(const std::string& checkout_request_id);
  void deliver_late(const std::string& checkout_request_id);
  void record_attempt(const detail::CallbackJob& job, const detail::CallbackAttempt& attempt);
  void forget_old_pushes_locked();

  // simulator.cpp
  void register_routes();
  void stop();

  SimulatorConfig config;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<const Clock> clock;
  /// The expected Authorization header of the OAuth call: "Basic " + base64(key:secret).
  Secret expected_basic_auth;

  mutable std::mutex mutex;
  detail::IdGenerator ids;
  detail::TokenStore tokens;
  detail::RateLimiter limiter;
  std::map<std::string, detail::PushRecord, std::less<>> pushes;
  std::deque<std::string> push_order;
  /// Phone number to the CheckoutRequestID of its unanswered push.
  std::map<std::string, std::string, std::less<>> locked_phones;

  httplib::Server server;
  std::thread server_thread;
  std::string host;
  int port = 0;
  std::mutex run_mutex;
  std::condition_variable stopped_signal;
  bool stopped = false;

  // Declared last so that they are destroyed first: their threads call back into the
  // members above.
  detail::Scheduler scheduler;
  detail::CallbackSender sender;
};

}  // namespace mpesa::simulator
