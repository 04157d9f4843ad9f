// The mpesa-stk binary: `migrate` and `serve` exit statuses, and a graceful stop on SIGTERM.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include <doctest/doctest.h>

#include "harness.hpp"

namespace mpesa::test {
namespace {

struct ProcessResult {
  int exit_status = -1;
  std::string output;
};

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Starts mpesa-stk with only `environment` (plus PATH), its stdout and stderr going to `log`.
// Everything the child needs is built before fork(), so the child only calls
// async-signal-safe functions.
pid_t spawn(const std::vector<std::string>& arguments, const std::vector<std::string>& environment,
            const std::filesystem::path& log) {
  std::vector<std::string> argument_copies = {MPESA_STK_BINARY};
  argument_copies.insert(argument_copies.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& argument : argument_copies) argv.push_back(argument.data());
  argv.push_back(nullptr);
  std::vector<std::string> environment_copies = environment;
  environment_copies.emplace_back("PATH=/usr/bin:/bin");
  std::vector<char*> envp;
  for (auto& entry : environment_copies) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const std::string log_path = log.string();

  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, STDOUT_FILENO);
  dup2(fd, STDERR_FILENO);
  execve(argv[0], argv.data(), envp.data());
  _exit(127);
}

int wait_for_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ProcessResult run(const std::vector<std::string>& arguments, const std::vector<std::string>& environment) {
  TempDir dir;
  const auto log = dir.path() / "output.log";
  ProcessResult result;
  result.exit_status = wait_for_exit(spawn(arguments, environment, log));
  result.output = read_all(log);
  return result;
}

// Binds a socket to a free loopback port and returns both; close the socket to free the port.
std::pair<int, int> bind_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return {fd, ntohs(address.sin_port)};
}

// Two distinct ports that were free a moment ago; the server binds them right after. Both
// probe sockets stay open until both ports are known, so the two cannot be the same.
std::pair<int, int> free_ports() {
  const auto [first_fd, first_port] = bind_free_port();
  const auto [second_fd, second_port] = bind_free_port();
  ::close(first_fd);
  ::close(second_fd);
  return {first_port, second_port};
}

}  // namespace

TEST_CASE("serve command: missing database URL exits 2") {
  const auto result = run({"serve"}, {"MPESA_CALLBACK_SECRET=0123456789abcdef0123"});
  CHECK(result.exit_status == 2);
  CHECK(result.output.find("MPESA_DATABASE_URL") != std::string::npos);
}

TEST_CASE("serve command: missing secret exits 2") {
  const auto result = run({"serve"}, {"MPESA_DATABASE_URL=" + PgTestDatabase::instance().url()});
  CHECK(result.exit_status == 2);
  CHECK(result.output.find("MPESA_CALLBACK_SECRET") != std::string::npos);
  CHECK(result.output.find("--insecure-no-secret") != std::string::npos);
}

TEST_CASE("serve command: invalid allow list exits 2") {
  const auto result = run({"serve", "--allowed-ips", "196.201.214.0/99"},
                          {"MPESA_DATABASE_URL=" + PgTestDatabase::instance().url(),
                           "MPESA_CALLBACK_SECRET=0123456789abcdef0123"});
  CHECK(result.exit_status == 2);
  CHECK(result.output.find("MPESA_ALLOWED_IPS") != std::string::npos);
}

TEST_CASE("migrate command: unreachable database exits 1") {
  const auto result = run({"migrate"}, {"MPESA_DATABASE_URL=postgresql://mpesa:pw-not-shown@127.0.0.1:1/none"});
  CHECK(result.exit_status == 1);
  CHECK(result.output.find("pw-not-shown") == std::string::npos);
}

TEST_CASE("migrate command: current schema applies nothing") {
  const auto result = run({"migrate"}, {"MPESA_DATABASE_URL=" + PgTestDatabase::instance().url()});
  CHECK(result.exit_status == 0);
  CHECK(result.output.find("already current") != std::string::npos);
}

TEST_CASE("serve command: SIGTERM stops gracefully with status 0") {
  auto& database = PgTestDatabase::instance();
  database.reset();
  database.seed_payment("ws_CO_191220191020363925", "254708374149", 1);
  TempDir dir;
  const auto [callback_port, api_port] = free_ports();
  const auto log = dir.path() / "serve.log";
  const pid_t pid = spawn({"serve"},
                          {"MPESA_DATABASE_URL=" + database.url(), fmt::format("MPESA_CALLBACK_SECRET={}", kSecretOne),
                           "MPESA_ALLOWED_IPS=127.0.0.1", fmt::format("MPESA_CALLBACK_LISTEN=127.0.0.1:{}", callback_port),
                           fmt::format("MPESA_API_LISTEN=127.0.0.1:{}", api_port),
                           "MPESA_SPOOL_PATH=" + (dir.path() / "spool.log").string()},
                          log);

  httplib::Client api("127.0.0.1", api_port);
  bool ready = false;
  for (int attempt = 0; attempt < 100 && !ready; ++attempt) {
    const auto health = api.Get("/healthz");
    ready = health && health->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_MESSAGE(ready, read_all(log));

  httplib::Client callbacks("127.0.0.1", callback_port);
  const auto posted = callbacks.Post(fmt::format("/mpesa/callback/{}", kSecretOne),
                                     read_test_file("daraja/callback/01-docs-success-4-items-no-balance-amount-1.00.json"),
                                     "application/json");
  REQUIRE_MESSAGE(posted, read_all(log));
  CHECK(posted->status == 200);

  kill(pid, SIGTERM);
  CHECK(wait_for_exit(pid) == 0);
  const auto output = read_all(log);
  CHECK(output.find("received SIGTERM") != std::string::npos);
  CHECK(output.find("stopped") != std::string::npos);
  CHECK(output.find(kSecretOne) == std::string::npos);
  CHECK(database.scalar("SELECT status FROM stk_payments") == "succeeded");
}

}  // namespace mpesa::test
