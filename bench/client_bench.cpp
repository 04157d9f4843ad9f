// Measures the SDK client: pushes per second from several threads sharing one StkClient,
// against an in-process simulator. A counting TCP proxy between them reports how many
// connections the client opened and how many OAuth requests it sent.
//
// usage: mpesa-bench-client [THREADS] [PUSHES_PER_THREAD]   (defaults 8 and 500)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "mpesa/simulator/simulator.hpp"
#include "mpesa/stk_client.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kOauthRequestLine = "GET /oauth/v1/generate";

/// Forwards loopback TCP connections to `target_port`, counting connections and the OAuth
/// request lines that pass from client to server.
class CountingProxy {
 public:
  explicit CountingProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int yes = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in address = loopback(0);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      std::perror("proxy bind");
      std::exit(1);
    }
    socklen_t length = sizeof address;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~CountingProxy() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (const int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& pump : pumps_) pump.join();
    for (const int fd : open_fds_) ::close(fd);
  }

  CountingProxy(const CountingProxy&) = delete;
  CountingProxy& operator=(const CountingProxy&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int connections() const { return connections_.load(); }
  [[nodiscard]] int oauth_requests() const { return oauth_requests_.load(); }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }

  void accept_loop() {
    while (true) {
      const int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in target = loopback(target_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      // Forward each write at once, so the proxy adds no Nagle delay of its own.
      const int yes = 1;
      ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      connections_.fetch_add(1);
      std::lock_guard lock(mutex_);
      open_fds_.push_back(client);
      open_fds_.push_back(server);
      pumps_.emplace_back([this, client, server] { pump(client, server, true); });
      pumps_.emplace_back([this, client, server] { pump(server, client, false); });
    }
  }

  void pump(int from, int to, bool client_to_server) {
    std::vector<char> buffer(64 * 1024);
    std::string carry;
    while (true) {
      const ssize_t received = ::recv(from, buffer.data(), buffer.size(), 0);
      if (received <= 0) break;
      if (client_to_server) count_oauth(carry, std::string_view(buffer.data(), static_cast<std::size_t>(received)));
      ssize_t sent = 0;
      while (sent < received) {
        const ssize_t n = ::send(to, buffer.data() + sent, static_cast<std::size_t>(received - sent), MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += n;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  /// Counts request lines in `chunk`, including one split across the previous chunk, whose
  /// last bytes `carry` keeps.
  void count_oauth(std::string& carry, std::string_view chunk) {
    std::string text = carry;
    text.append(chunk);
    for (std::size_t at = text.find(kOauthRequestLine); at != std::string::npos;
         at = text.find(kOauthRequestLine, at + 1)) {
      oauth_requests_.fetch_add(1);
    }
    const std::size_t keep = std::min(text.size(), kOauthRequestLine.size() - 1);
    carry = text.substr(text.size() - keep);
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> oauth_requests_{0};
  std::mutex mutex_;
  std::vector<int> open_fds_;
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

int parse_count(const char* text, int fallback) {
  if (text == nullptr) return fallback;
  const int value = std::atoi(text);
  if (value <= 0) {
    std::fprintf(stderr, "error: counts must be positive whole numbers, got '%s'\n", text);
    std::exit(2);
  }
  return value;
}

double percentile_ms(std::vector<double>& samples, double fraction) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1));
  return samples[index];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = parse_count(argc > 1 ? argv[1] : nullptr, 8);
  const int pushes_per_thread = parse_count(argc > 2 ? argv[2] : nullptr, 500);
  auto quiet = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());

  mpesa::simulator::SimulatorConfig simulator_config;
  simulator_config.consumer_key = "bench-key";
  simulator_config.consumer_secret = mpesa::Secret("bench-consumer-secret");
  // The simulated customer answers after the run, so no callback is sent and pushes stay pending.
  simulator_config.answer_delay = std::chrono::minutes(30);
  simulator_config.late_callback_timeout = std::chrono::minutes(30);
  simulator_config.max_kept_pushes = static_cast<std::size_t>(threads) * static_cast<std::size_t>(pushes_per_thread) + 16;
  mpesa::simulator::Simulator simulator(simulator_config, quiet);
  const int simulator_port = simulator.start("127.0.0.1", 0);
  CountingProxy proxy(simulator_port);

  mpesa::Config config;
  config.base_url = fmt::format("http://127.0.0.1:{}", proxy.port());
  config.consumer_key = simulator_config.consumer_key;
  config.consumer_secret = simulator_config.consumer_secret;
  config.shortcode = std::string(mpesa::simulator::kSandboxShortcode);
  config.passkey = mpesa::Secret(std::string(mpesa::simulator::kSandboxPasskey));
  config.callback_url = "http://127.0.0.1:9/mpesa/callback";
  mpesa::StkClient client(config, quiet);

  std::atomic<int> failures{0};
  std::mutex samples_mutex;
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(threads) * static_cast<std::size_t>(pushes_per_thread));
  std::string first_error;

  const auto started = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<double> own;
      own.reserve(static_cast<std::size_t>(pushes_per_thread));
      for (int i = 0; i < pushes_per_thread; ++i) {
        mpesa::PushRequest request;
        // One number per push: the simulator, like Daraja, locks a subscriber with a push in
        // progress. Suffix 99 has no outcome rule, so every push is a plain success.
        request.phone = fmt::format("2547{:06}99", t * pushes_per_thread + i);
        request.amount = 1 + (t * pushes_per_thread + i) % 100;
        request.account_reference = "BENCH";
        request.description = "Bench";
        const auto sent = Clock::now();
        auto ack = client.push(request);
        own.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        if (!ack) {
          if (failures.fetch_add(1) == 0) {
            std::lock_guard lock(samples_mutex);
            first_error = ack.error().describe();
          }
        }
      }
      std::lock_guard lock(samples_mutex);
      samples.insert(samples.end(), own.begin(), own.end());
    });
  }
  for (auto& worker : workers) worker.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  const int total = threads * pushes_per_thread;
  const double p50 = percentile_ms(samples, 0.50);
  const double p99 = percentile_ms(samples, 0.99);
  fmt::print("client pushes: {} in {:.2f} s = {:.0f} pushes/s from {} threads, p50 {:.2f} ms, "
             "p99 {:.2f} ms, failures {}\n",
             total, seconds, total / seconds, threads, p50, p99, failures.load());
  fmt::print("client OAuth requests: {} (target 1)\n", proxy.oauth_requests());
  fmt::print("client TCP connections opened: {} (target at most {})\n", proxy.connections(), threads);
  if (!first_error.empty()) fmt::print("client first failure: {}\n", first_error);
  simulator.stop();
  return failures.load() == 0 ? 0 : 1;
}
