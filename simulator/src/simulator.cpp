// The Daraja simulator: lifecycle, routing, request logs and the control API.

#include "mpesa/simulator/simulator.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <filesystem>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "detail/json_text.hpp"
#include "detail/simulator_impl.hpp"
#include "mpesa/config.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/password.hpp"

namespace mpesa::simulator {

using detail::Reply;

namespace {

constexpr std::string_view kDarajaContentType = "application/json;charset=UTF-8";
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kWorkerThreads = 32;

std::string snapshot_json(const PushSnapshot& push) {
  detail::JsonObject object;
  object.add_string("CheckoutRequestID", push.checkout_request_id)
      .add_string("MerchantRequestID", push.merchant_request_id)
      .add_string("PhoneNumber", push.phone)
      .add_raw("Amount", std::to_string(push.amount))
      .add_string("AccountReference", push.account_reference)
      .add_string("CallBackURL", push.callback_url)
      .add_string("Outcome", push.outcome)
      .add_string("State", push.state)
      .add_string("ResultCode", push.result_code)
      .add_string("ResultDesc", push.result_desc)
      .add_string("MpesaReceiptNumber", push.receipt)
      .add_string("CallbackState", push.callback_state)
      .add_raw("CallbacksDelivered", std::to_string(push.callbacks_delivered))
      .add_string("AcceptedAt", push.accepted_at);
  return object.str();
}

// Shuts down every connected socket of this process whose local port is `port`: the
// connections the simulator accepted. cpp-httplib 0.11.4 keeps serving an idle keep-alive
// connection until its keep-alive timeout (5 s) even after Server::stop(), so without this
// a client that keeps its connection open (libcurl does) delays every stop by 5 s.
// NOTE: this walks /proc/self/fd, so it works on Linux only; elsewhere stop() still works
// but may wait for the keep-alive timeout.
void shut_down_accepted_connections(int port) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    int fd = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;

    sockaddr_storage local{};
    socklen_t local_size = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0) continue;
    int local_port = -1;
    if (local.ss_family == AF_INET) {
      local_port = ntohs(reinterpret_cast<const sockaddr_in&>(local).sin_port);
    } else if (local.ss_family == AF_INET6) {
      local_port = ntohs(reinterpret_cast<const sockaddr_in6&>(local).sin6_port);
    }
    sockaddr_storage peer{};
    socklen_t peer_size = sizeof peer;
    const bool connected = getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) == 0;
    if (local_port == port && connected) shutdown(fd, SHUT_RDWR);
  }
}

std::string control_error(std::string_view message) {
  return detail::JsonObject().add_string("error", message).str();
}

struct ResolveBody {
  std::string result_code;
  std::string result_desc;
};

// Reads `{"ResultCode": 1032}` or `{"ResultCode": "SFC_IC0003", "ResultDesc": "..."}`.
std::optional<ResolveBody> read_resolve_body(std::string_view body) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  simdjson::dom::object fields;
  if (parser.parse(padded).get_object().get(fields) != simdjson::SUCCESS) return std::nullopt;

  ResolveBody resolve;
  simdjson::dom::element code;
  if (fields.at_key("ResultCode").get(code) != simdjson::SUCCESS) return std::nullopt;
  if (code.is_int64()) {
    resolve.result_code = std::to_string(code.get_int64().value());
  } else if (code.is_string()) {
    resolve.result_code = std::string(code.get_string().value());
  } else {
    return std::nullopt;
  }
  std::string_view desc;
  if (fields.at_key("ResultDesc").get_string().get(desc) == simdjson::SUCCESS) {
    resolve.result_desc = std::string(desc);
  }
  return resolve;
}

}  // namespace

std::string_view to_string(PendingQueryForm form) noexcept {
  return form == PendingQueryForm::ErrorBody ? "error" : "4999";
}

std::optional<PendingQueryForm> parse_pending_query_form(std::string_view text) {
  if (text == "error") return PendingQueryForm::ErrorBody;
  if (text == "4999") return PendingQueryForm::ResultCode4999;
  return std::nullopt;
}

void SimulatorConfig::validate() const {
  if (consumer_key.empty()) {
    throw ConfigError("MPESA_CONSUMER_KEY is empty: set the consumer key the SDK will send");
  }
  if (consumer_secret.empty()) {
    throw ConfigError(
        "MPESA_CONSUMER_SECRET is empty: set the consumer secret the SDK will send");
  }
  if (!ShortCode::parse(shortcode)) {
    throw ConfigError(fmt::format("MPESA_SHORTCODE \"{}\" is invalid: give 5 to 7 digits",
                                  shortcode));
  }
  if (passkey.empty()) throw ConfigError("MPESA_PASSKEY is empty: set the Lipa Na M-Pesa passkey");
  if (token_lifetime.count() < 1) {
    throw ConfigError("the token lifetime must be at least 1 second");
  }
  if (answer_delay.count() < 0 || callback_delay.count() < 0 ||
      late_callback_timeout.count() < 0 || callback_retry_delay.count() < 0) {
    throw ConfigError("delays must not be negative");
  }
  if (callback_timeout.count() < 1) throw ConfigError("the callback timeout must be positive");
  if (rate_limit_per_second < 0) {
    throw ConfigError("the rate limit must be 0 (off) or a positive number per second");
  }
  if (callback_retries < 0) throw ConfigError("callback retries must not be negative");
  if (max_kept_pushes < 1) throw ConfigError("at least one push must be kept");
}

Simulator::Impl::Impl(SimulatorConfig config_in, std::shared_ptr<spdlog::logger> logger_in,
                      std::shared_ptr<const Clock> clock_in)
    : config(std::move(config_in)),
      logger(logger_in ? std::move(logger_in) : spdlog::default_logger()),
      clock(std::move(clock_in)),
      ids(config.seed),
      tokens(config.token_lifetime),
      limiter(config.rate_limit_per_second),
      scheduler(),
      sender(config.callback_timeout,
             [this](const detail::CallbackJob& job, const detail::CallbackAttempt& attempt) {
               record_attempt(job, attempt);
             }) {
  std::string credentials = config.consumer_key + ":" + std::string(config.consumer_secret.reveal());
  expected_basic_auth = Secret("Basic " + base64_encode(credentials));
  std::fill(credentials.begin(), credentials.end(), '\0');
  register_routes();
}

Simulator::Impl::~Impl() { stop(); }

void Simulator::Impl::register_routes() {
  const auto route = [this](Reply (Impl::*handler)(const httplib::Request&)) {
    return [this, handler](const httplib::Request& request, httplib::Response& response) {
      const Reply reply = (this->*handler)(request);
      response.status = reply.status;
      if (!reply.body.empty()) response.set_content(reply.body, std::string(kDarajaContentType));
      logger->info("{} {} -> {} {}", request.method, request.path, reply.status, reply.log_detail);
    };
  };
  server.Get("/oauth/v1/generate", route(&Impl::generate_token));
  server.Post("/mpesa/stkpush/v1/processrequest", route(&Impl::process_push));
  server.Post("/mpesa/stkpushquery/v1/query", route(&Impl::query_push));

  server.Get("/simulator/pushes", [this](const httplib::Request&, httplib::Response& response) {
    std::string list;
    {
      std::lock_guard lock(mutex);
      for (const std::string& id : push_order) {
        const auto found = pushes.find(id);
        if (found == pushes.end()) continue;
        if (!list.empty()) list.push_back(',');
        list += snapshot_json(found->second.view);
      }
    }
    response.set_content("{\"pushes\":[" + list + "]}", "application/json");
  });

  server.Post(R"(/simulator/pushes/([^/]+)/resolve)",
              [this](const httplib::Request& request, httplib::Response& response) {
                const std::string id = request.matches[1];
                const auto body = read_resolve_body(request.body);
                if (!body) {
                  response.status = 400;
                  response.set_content(
                      control_error("the body must be JSON such as {\"ResultCode\": 1032}, with "
                                    "an optional \"ResultDesc\" string"),
                      "application/json");
                  return;
                }
                const auto resolved = resolve(id, body->result_code, body->result_desc);
                if (!resolved) {
                  response.status = resolved.error().http_status ? resolved.error().http_status : 400;
                  response.set_content(control_error(resolved.error().message), "application/json");
                  return;
                }
                response.set_content(snapshot_json(*resolved), "application/json");
              });

  // Requests that reach no route still get their log line.
  server.set_logger([this](const httplib::Request& request, const httplib::Response& response) {
    if (response.status == 404 && response.body.empty()) {
      logger->info("{} {} -> 404 no such route", request.method, request.path);
    }
  });
  // httplib's default socket options add SO_REUSEPORT, which would let a second simulator
  // bind the same port and share the traffic; only SO_REUSEADDR is wanted.
  server.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Each open keep-alive connection occupies a worker until it goes idle, and load tests
  // open many; httplib's default pool has as few as 8 workers.
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // Clients keep one connection per thread as they would with Daraja: httplib would close it
  // after 5 requests, and without TCP_NODELAY each small answer waits for the client's
  // delayed ACK (about 40 ms).
  server.set_keep_alive_max_count(100000);
  server.set_tcp_nodelay(true);
  server.set_payload_max_length(kMaxBodyBytes);
  server.set_read_timeout(std::chrono::seconds(10));
  server.set_write_timeout(std::chrono::seconds(10));
}

void Simulator::Impl::stop() {
  server.stop();
  if (server_thread.joinable()) {
    shut_down_accepted_connections(port);
    server_thread.join();
  }
  const std::size_t unsent_jobs = scheduler.stop() + sender.stop();
  if (unsent_jobs > 0) {
    logger->info("simulator stopped; {} scheduled answers, callbacks or timers dropped", unsent_jobs);
  }
  {
    std::lock_guard lock(run_mutex);
    stopped = true;
  }
  stopped_signal.notify_all();
}

Simulator::Simulator(SimulatorConfig config, std::shared_ptr<spdlog::logger> logger,
                     std::shared_ptr<const Clock> clock) {
  config.validate();
  impl_ = std::make_unique<Impl>(std::move(config), std::move(logger), std::move(clock));
}

Simulator::~Simulator() = default;

int Simulator::start(const std::string& host, int port) {
  Impl& impl = *impl_;
  if (impl.server_thread.joinable() || impl.stopped) {
    throw std::logic_error("Simulator::start called twice: create a new Simulator instead");
  }
  const int bound = port == 0 ? impl.server.bind_to_any_port(host)
                              : (impl.server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    throw ConfigError(fmt::format(
        "cannot listen on {}:{}: the port is in use or the address is not local; choose "
        "another --listen address",
        host, port));
  }
  impl.host = host;
  impl.port = bound;
  impl.server_thread = std::thread([&impl] { impl.server.listen_after_bind(); });

  // Server::stop() does nothing until the accept loop runs, so wait for it (bounded).
  for (int i = 0; i < 2000 && !impl.server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl.logger->info("Daraja simulator listening on http://{}:{} (shortcode {}, {} mode)", host,
                    bound, impl.config.shortcode, impl.config.manual ? "manual" : "automatic");
  return bound;
}

void Simulator::stop() { impl_->stop(); }

void Simulator::wait() {
  std::unique_lock lock(impl_->run_mutex);
  impl_->stopped_signal.wait(lock, [this] { return impl_->stopped; });
}

int Simulator::port() const noexcept { return impl_->port; }

std::string Simulator::base_url() const {
  return fmt::format("http://{}:{}", impl_->host, impl_->port);
}

std::vector<PushSnapshot> Simulator::pushes() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<PushSnapshot> list;
  for (const std::string& id : impl_->push_order) {
    const auto found = impl_->pushes.find(id);
    if (found != impl_->pushes.end()) list.push_back(found->second.view);
  }
  return list;
}

Result<PushSnapshot> Simulator::resolve(std::string_view checkout_request_id,
                                        std::string_view result_code,
                                        std::string_view result_desc) {
  return impl_->resolve(checkout_request_id, result_code, result_desc);
}

}  // namespace mpesa::simulator
