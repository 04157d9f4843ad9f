// `mpesa-stk demo`: drives a running `mpesa-stk serve` and `mpesa-stk simulate` through one
// payment per simulator outcome, then replays the project's callback samples.
//
// Payments are created through POST /api/payments, as an application would. Their state is
// followed through GET /api/payments/{id} when the server has that route, and read from
// PostgreSQL otherwise; the final table always comes from PostgreSQL because only the
// database records how each result was learnt and when the payment settled.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <pqxx/pqxx>
#include <simdjson.h>

#include "command.hpp"
#include "mpesa/config.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/messages.hpp"
#include "mpesa/server/payment_store.hpp"
#include "mpesa/server/pg_payment_store.hpp"
#include "mpesa/server/pg_pool.hpp"

namespace mpesa::cli {
namespace {

using Clock = std::chrono::steady_clock;
using server::PaymentRecord;
using server::PgPaymentStore;

/// The PayBill the simulator and Daraja's sandbox use when MPESA_SHORTCODE is not set.
constexpr std::string_view kSandboxShortcode = "174379";

struct DemoOptions {
  std::string api_url = "http://127.0.0.1:8080";
  std::string api_key;
  std::string callback_url;
  std::string callback_secret;
  std::string database_url;
  std::string samples_dir = "tests/data/daraja/callback";
  std::string page_url;
  std::string phone_prefix = "2547083741";
  /// A real handset on Daraja's sandbox: one payment to it replaces the simulator outcomes.
  std::string phone;
  int settle_timeout_s = 120;
  int request_timeout_s = 30;
  bool skip_replay = false;
};

/// One demo payment: the simulator outcome its phone number selects and the state that
/// outcome must end in.
struct Scenario {
  std::string_view name;
  /// The last two digits of the phone number, which choose the simulator's outcome.
  std::string_view phone_suffix;
  std::int64_t amount;
  /// The final state the outcome implies; nothing when any final state will do (a real phone).
  std::optional<PaymentStatus> expected;
  /// True when a callback follows the query and fills in the receipt.
  bool receipt_follows;
};

constexpr Scenario kScenarios[] = {
    {"success", "49", 10, PaymentStatus::Succeeded, false},
    {"cancelled", "02", 20, PaymentStatus::Cancelled, false},
    {"wrong PIN", "05", 30, PaymentStatus::Failed, false},
    {"insufficient funds", "04", 40, PaymentStatus::Failed, false},
    {"timeout", "03", 50, PaymentStatus::TimedOut, false},
    {"callback lost", "10", 60, PaymentStatus::Succeeded, false},
    {"duplicate callback", "11", 70, PaymentStatus::Succeeded, false},
    {"late callback", "12", 80, PaymentStatus::Succeeded, true},
};

struct DemoPayment {
  const Scenario* scenario = nullptr;
  std::string phone;
  std::string public_id;
  /// The state last seen; pending until the payment settles.
  PaymentStatus status = PaymentStatus::Pending;
  std::string error;
  std::optional<PaymentRecord> record;
  /// The results stored for the payment, oldest first ("callback applied, callback duplicate").
  std::string events;
  bool reported = false;
};

// ---------------------------------------------------------------------------------------
// HTTP

struct SplitUrl {
  std::string origin;
  std::string path;
};

// Splits "http://host:port/a/b?c" into "http://host:port" and "/a/b?c".
SplitUrl split_url(const std::string& url, std::string_view flag) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos || !(url.starts_with("http://") || url.starts_with("https://"))) {
    throw ConfigError(fmt::format("{} \"{}\" is not an http or https URL: give one such as "
                                  "http://127.0.0.1:8080",
                                  flag, url));
  }
  const auto path_start = url.find('/', scheme_end + 3);
  if (path_start == std::string::npos) return {url, "/"};
  return {url.substr(0, path_start), url.substr(path_start)};
}

std::unique_ptr<httplib::Client> make_client(const std::string& origin, int timeout_s) {
  auto client = std::make_unique<httplib::Client>(origin);
  client->set_connection_timeout(5);
  client->set_read_timeout(timeout_s);
  client->set_write_timeout(10);
  return client;
}

std::string describe_http_error(const httplib::Result& result, const std::string& what) {
  return fmt::format("{} failed: {}", what, httplib::to_string(result.error()));
}

std::optional<std::string> json_string(std::string_view body, std::string_view field) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(object) != simdjson::SUCCESS) return std::nullopt;
  std::string_view text;
  if (object[field].get(text) != simdjson::SUCCESS) return std::nullopt;
  return std::string(text);
}

// ---------------------------------------------------------------------------------------
// Creating the payments

std::string random_run_id() {
  std::random_device device;
  return fmt::format("{:08x}", device());
}

std::string create_body(const DemoPayment& payment, const std::string& run_id) {
  return fmt::format(
      R"({{"phone":"{}","amount":{},"account_reference":"DEMO{}","description":"Demo payment",)"
      R"("idempotency_key":"demo-{}-{}"}})",
      payment.phone, payment.scenario->amount, payment.scenario->phone_suffix, run_id,
      payment.scenario->phone_suffix);
}

// Sends POST /api/payments and stores the public id, or the reason in `payment.error`.
void create_payment(httplib::Client& api, const std::string& api_key, const std::string& run_id,
                    DemoPayment& payment) {
  const httplib::Headers headers{{"Authorization", "Bearer " + api_key}};
  auto result = api.Post("/api/payments", headers, create_body(payment, run_id), "application/json");
  if (!result) {
    payment.error = describe_http_error(result, "POST /api/payments");
    return;
  }
  if (result->status != 201) {
    const auto message = json_string(result->body, "error").value_or(result->body);
    payment.error = fmt::format("POST /api/payments returned HTTP {}: {}", result->status, message);
    return;
  }
  const auto id = json_string(result->body, "id");
  if (!id) {
    payment.error = "POST /api/payments returned no id";
    return;
  }
  payment.public_id = *id;
  const auto status = json_string(result->body, "status");
  if (status) payment.status = parse_payment_status(*status).value_or(PaymentStatus::Pending);
}

// ---------------------------------------------------------------------------------------
// Following the payments

/// The result of one GET /api/payments/{id}.
struct ApiStatus {
  std::optional<PaymentStatus> status;
  /// True when the server has no such route (404 without a JSON status).
  bool route_missing = false;
};

// One long poll, as a frontend sends it: the server returns when the payment changes or after
// `wait_s` seconds. Rate limiting (429) and transport errors return no status.
ApiStatus poll_status(httplib::Client& api, const std::string& public_id, int wait_s) {
  auto result = api.Get(fmt::format("/api/payments/{}?wait={}", public_id, wait_s));
  if (!result) return {};
  const auto status = result->status == 200 ? json_string(result->body, "status") : std::nullopt;
  if (!status) return {std::nullopt, result->status == 404};
  return {parse_payment_status(*status), false};
}

double seconds_between(std::chrono::system_clock::time_point from,
                       std::chrono::system_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::string learnt_via_text(const PaymentRecord& record) {
  if (!record.learnt_via) return "-";
  return std::string(server::to_string(*record.learnt_via));
}

void print_settled(const DemoPayment& payment, std::size_t done, std::size_t total) {
  std::string detail;
  if (payment.record) {
    const auto& record = *payment.record;
    detail = fmt::format("via {}", learnt_via_text(record));
    if (record.result_code) detail += fmt::format(", ResultCode {}", *record.result_code);
    if (record.completed_at) {
      detail += fmt::format(", {:.1f} s", seconds_between(record.created_at, *record.completed_at));
    }
  }
  std::cout << fmt::format("  [{}/{}] {:<19} {:<10} {}\n", done, total, payment.scenario->name,
                           to_string(payment.status), detail)
            << std::flush;
}

// A late callback fills in the receipt after the query settled the payment, so those
// payments are followed until the receipt arrives too.
bool waiting_for_receipt(const DemoPayment& payment) {
  return payment.scenario->receipt_follows && payment.status == PaymentStatus::Succeeded &&
         (!payment.record || !payment.record->receipt);
}

bool settled(const DemoPayment& payment) {
  return !payment.error.empty() || (is_final(payment.status) && !waiting_for_receipt(payment));
}

void print_pending(const std::vector<DemoPayment>& payments, double elapsed) {
  std::vector<std::string> names;
  for (const auto& payment : payments) {
    if (!settled(payment)) names.emplace_back(payment.scenario->name);
  }
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : ", ") + name;
  std::cout << fmt::format("  ... {:.0f} s: waiting for {}\n", elapsed, joined) << std::flush;
}

/// Follows each payment on a thread of its own, as a checkout page would: long polls on
/// GET /api/payments/{id}, then the database row for the details the API does not show.
/// Falls back to reading the database twice a second when the server has no status route.
class PaymentFollower {
 public:
  PaymentFollower(std::string api_origin, PgPaymentStore& store, std::vector<DemoPayment>& payments)
      : api_origin_(std::move(api_origin)), store_(store), payments_(payments) {}

  /// Returns when every payment has settled or `timeout` has passed, printing a line per
  /// settled payment and a summary of the rest every 10 seconds.
  void run(std::chrono::seconds timeout) {
    const auto start = Clock::now();
    const auto deadline = start + timeout;
    for (const auto& payment : payments_) done_ += payment.error.empty() ? 0 : 1;

    std::vector<std::thread> threads;
    for (auto& payment : payments_) {
      if (payment.error.empty()) threads.emplace_back([this, &payment, deadline] { follow(payment, deadline); });
    }
    {
      std::unique_lock lock(mutex_);
      while (done_ < payments_.size() && Clock::now() < deadline) {
        const auto summary_at = std::min(deadline, Clock::now() + std::chrono::seconds(10));
        if (changed_.wait_until(lock, summary_at, [&] { return done_ == payments_.size(); })) break;
        if (Clock::now() < deadline) {
          print_pending(payments_, std::chrono::duration<double>(Clock::now() - start).count());
        }
      }
    }
    for (auto& thread : threads) thread.join();
  }

  /// True when the server served GET /api/payments/{id}.
  [[nodiscard]] bool used_api() const noexcept { return !route_missing_; }

 private:
  void follow(DemoPayment& payment, Clock::time_point deadline) {
    auto api = make_client(api_origin_, kMaxWaitSeconds + 10);
    while (Clock::now() < deadline) {
      std::optional<PaymentStatus> reported;
      if (!route_missing_ && !is_final(current_status(payment))) {
        const auto remaining = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now());
        const int wait_s = static_cast<int>(std::clamp<long>(remaining.count(), 1, kMaxWaitSeconds));
        const auto polled = poll_status(*api, payment.public_id, wait_s);
        if (polled.route_missing) route_missing_ = true;
        reported = polled.status;
      }
      if (!reported) std::this_thread::sleep_for(std::chrono::milliseconds(500));
      if (update(payment, reported)) return;
    }
  }

  PaymentStatus current_status(const DemoPayment& payment) {
    std::lock_guard lock(mutex_);
    return payment.status;
  }

  // Stores the latest state and returns true once the payment has settled.
  bool update(DemoPayment& payment, std::optional<PaymentStatus> reported) {
    auto record = store_.find_by_public_id(payment.public_id);
    std::lock_guard lock(mutex_);
    if (record) {
      payment.record = std::move(*record);
      payment.status = payment.record->status;
    } else if (reported) {
      payment.status = *reported;
    }
    if (!settled(payment)) return false;
    payment.reported = true;
    print_settled(payment, ++done_, payments_.size());
    changed_.notify_all();
    return true;
  }

  /// The longest ?wait= the demo sends. The status route accepts up to 30 seconds.
  static constexpr long kMaxWaitSeconds = 25;

  std::string api_origin_;
  PgPaymentStore& store_;
  std::vector<DemoPayment>& payments_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t done_ = 0;
  std::atomic<bool> route_missing_{false};
};

// ---------------------------------------------------------------------------------------
// The result table

std::string settle_seconds(const PaymentRecord& record) {
  if (!record.completed_at) return "-";
  return fmt::format("{:.1f}", seconds_between(record.created_at, *record.completed_at));
}


bool reached_expected(const DemoPayment& payment) {
  if (!payment.error.empty()) return false;
  if (!payment.scenario->expected) return is_final(payment.status);
  return payment.status == *payment.scenario->expected;
}

std::string expected_text(const Scenario& scenario) {
  return scenario.expected ? std::string(to_string(*scenario.expected)) : "any final state";
}

void print_table(const std::vector<DemoPayment>& payments) {
  constexpr std::string_view kRow = "{:<19} {:<13} {:>6}  {:<10} {:<10} {:<11} {:>7}  {:<3}  {}\n";
  std::cout << "\n"
            << fmt::format(fmt::runtime(kRow), "outcome", "phone", "amount", "status", "learnt via",
                           "receipt", "seconds", "ok", "results stored");
  for (const auto& payment : payments) {
    const PaymentRecord* record = payment.record ? &*payment.record : nullptr;
    std::cout << fmt::format(fmt::runtime(kRow), payment.scenario->name,
                             mask_phone(record ? record->phone : payment.phone), payment.scenario->amount,
                             to_string(payment.status), record ? learnt_via_text(*record) : "-",
                             record && record->receipt ? *record->receipt : "-",
                             record ? settle_seconds(*record) : "-", reached_expected(payment) ? "yes" : "NO",
                             payment.events.empty() ? "-" : payment.events);
    if (!reached_expected(payment)) {
      std::cout << fmt::format("    expected {}, got {}\n", expected_text(*payment.scenario),
                               to_string(payment.status));
    }
    if (!payment.error.empty()) std::cout << "    " << payment.error << "\n";
  }
}

// ---------------------------------------------------------------------------------------
// Replaying the callback samples

struct ReplayRow {
  std::string file;
  std::string result_code;
  std::string seeded;
  int http_status = 0;
  std::string outcome;
  std::string payment_status;
};

// The first secret of a comma-separated MPESA_CALLBACK_SECRET list.
std::string first_secret(const std::string& secrets) { return secrets.substr(0, secrets.find(',')); }

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::filesystem::path> sample_files(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::ranges::sort(files);
  return files;
}

// Stores a pending payment acknowledged with the sample's CheckoutRequestID, with the phone
// and amount the sample reports, so the callback has a payment to settle. The reconciler is
// kept away from it for a day because the simulator has never heard of these ids.
std::string seed_payment(PgPaymentStore& store, const StkCallback& callback, const std::string& shortcode) {
  const auto existing = store.find_by_checkout_request_id(callback.checkout_request_id);
  if (existing) return fmt::format("existing ({})", to_string(existing->status));

  server::NewPayment payment;
  payment.idempotency_key = "demo-sample-" + callback.checkout_request_id;
  payment.account_reference = "SAMPLE";
  payment.description = "Replay";
  payment.phone = callback.phone ? std::to_string(*callback.phone) : "254708374149";
  payment.amount = callback.amount_cents ? std::max<std::int64_t>(*callback.amount_cents / 100, 1) : 1;
  payment.shortcode = shortcode;
  payment.transaction_type = "CustomerPayBillOnline";
  const auto now = std::chrono::system_clock::now();
  payment.next_reconcile_at = now + std::chrono::hours(24);
  payment.deadline_at = now + std::chrono::hours(24);

  const auto created = store.create_payment(payment);
  if (!created) return "seed failed: " + created.error().message;
  PushAck ack;
  ack.merchant_request_id = callback.merchant_request_id;
  ack.checkout_request_id = callback.checkout_request_id;
  ack.response_code = "0";
  ack.response_description = "Success. Request accepted for processing";
  ack.customer_message = ack.response_description;
  const auto accepted = store.record_push_accepted(created->payment.id, ack);
  if (!accepted) return "seed failed: " + accepted.error().message;
  return "yes";
}

// The outcome the server recorded for the newest event about `checkout_request_id`.
std::string latest_outcome(server::PgConnectionPool& pool, const std::string& checkout_request_id) {
  auto lease = pool.acquire();
  if (!lease) return "unknown (" + lease.error().message + ")";
  try {
    pqxx::read_transaction transaction(**lease);
    const auto rows = transaction.exec_params(
        "SELECT outcome FROM stk_callback_events WHERE checkout_request_id = $1 "
        "ORDER BY id DESC LIMIT 1",
        checkout_request_id);
    if (rows.empty()) return "no event stored";
    return rows[0][0].as<std::string>();
  } catch (const std::exception& error) {
    lease->discard();
    return "unknown (" + server::storage_error(error, "read the event").message + ")";
  }
}

// The results stored for payment `payment_id`, oldest first, as "source outcome" pairs.
std::string event_trail(server::PgConnectionPool& pool, std::int64_t payment_id) {
  auto lease = pool.acquire();
  if (!lease) return "unknown (" + lease.error().message + ")";
  try {
    pqxx::read_transaction transaction(**lease);
    const auto rows = transaction.exec_params(
        "SELECT source, outcome FROM stk_callback_events WHERE payment_id = $1 ORDER BY id", payment_id);
    std::string trail;
    for (const auto& row : rows) {
      if (!trail.empty()) trail += ", ";
      trail += row[0].as<std::string>() + " " + row[1].as<std::string>();
    }
    return trail;
  } catch (const std::exception& error) {
    lease->discard();
    return "unknown (" + server::storage_error(error, "read the events").message + ")";
  }
}

ReplayRow replay_sample(const std::filesystem::path& file, httplib::Client& callback_client,
                        const std::string& callback_path, const std::string& secret, PgPaymentStore& store,
                        server::PgConnectionPool& pool, const std::string& shortcode) {
  ReplayRow row;
  row.file = file.filename().string();
  const auto body = read_file(file);
  if (!body) {
    row.outcome = "unreadable file";
    return row;
  }
  const auto callback = parse_stk_callback(*body);
  if (callback) {
    row.result_code = callback->result_code;
    row.seeded = seed_payment(store, *callback, shortcode);
  } else {
    row.seeded = "no (not a valid callback)";
  }

  httplib::Headers headers;
  if (!secret.empty()) headers.emplace("X-Callback-Secret", secret);
  auto result = callback_client.Post(callback_path, headers, *body, "application/json");
  if (!result) {
    row.outcome = describe_http_error(result, "POST");
    return row;
  }
  row.http_status = result->status;
  if (!callback) {
    row.outcome = result->status == 200 ? "malformed" : "rejected";
    return row;
  }
  row.outcome = result->status == 200 ? latest_outcome(pool, callback->checkout_request_id) : "rejected";
  if (const auto record = store.find_by_checkout_request_id(callback->checkout_request_id)) {
    row.payment_status = std::string(to_string(record->status));
  }
  return row;
}

void print_replay(const std::vector<ReplayRow>& rows) {
  constexpr std::string_view kRow = "{:<62} {:>10}  {:<20} {:>4}  {:<14} {}\n";
  std::cout << fmt::format(fmt::runtime(kRow), "sample", "ResultCode", "seeded payment", "HTTP",
                           "outcome", "payment");
  for (const auto& row : rows) {
    std::cout << fmt::format(fmt::runtime(kRow), row.file, row.result_code.empty() ? "-" : row.result_code,
                             row.seeded, row.http_status, row.outcome,
                             row.payment_status.empty() ? "-" : row.payment_status);
  }
}

// An outcome the store chose on purpose counts as handled; a transport failure, a rejection
// or a missing event does not.
bool replay_handled(const ReplayRow& row) {
  static const std::vector<std::string_view> kHandled = {
      "applied", "duplicate", "unmatched", "amount_mismatch", "phone_mismatch", "malformed",
      "late_success", "receipt_added", "conflict", "rematched"};
  return row.http_status == 200 && std::ranges::find(kHandled, row.outcome) != kHandled.end();
}

// The URL as it may be printed: each of the comma-separated secrets in it becomes "{secret}".
std::string without_secret(std::string url, std::string_view secrets) {
  while (!secrets.empty()) {
    const auto comma = secrets.find(',');
    const std::string secret(secrets.substr(0, comma));
    secrets = comma == std::string_view::npos ? std::string_view() : secrets.substr(comma + 1);
    if (secret.empty()) continue;
    for (auto at = url.find(secret); at != std::string::npos; at = url.find(secret)) {
      url.replace(at, secret.size(), "{secret}");
    }
  }
  return url;
}

bool replay_samples(const DemoOptions& options, PgPaymentStore& store, server::PgConnectionPool& pool,
                    const std::string& shortcode) {
  const auto files = sample_files(options.samples_dir);
  std::cout << fmt::format("\nReplaying {} callback samples from {} to {}\n", files.size(),
                           options.samples_dir, without_secret(options.callback_url, options.callback_secret));
  if (files.empty()) {
    std::cout << "  no .json files found: give the folder with --samples\n";
    return false;
  }
  const auto [origin, path] = split_url(options.callback_url, "--callback-url");
  auto client = make_client(origin, options.request_timeout_s);

  std::vector<ReplayRow> rows;
  bool all_handled = true;
  for (const auto& file : files) {
    rows.push_back(
        replay_sample(file, *client, path, first_secret(options.callback_secret), store, pool, shortcode));
    all_handled = all_handled && replay_handled(rows.back());
  }
  print_replay(rows);
  return all_handled;
}

// ---------------------------------------------------------------------------------------
// The command

void require(const std::string& value, std::string_view what) {
  if (value.empty()) throw ConfigError(std::string(what));
}

void check_options(const DemoOptions& options) {
  require(options.api_key, "the API key is missing: set MPESA_API_KEY or --api-key to the key `serve` uses");
  require(options.database_url,
          "the database URL is missing: set MPESA_DATABASE_URL or --database-url to the database "
          "`serve` uses");
  if (!options.skip_replay) {
    require(options.callback_url,
            "the callback URL is missing: set MPESA_CALLBACK_URL or --callback-url, or pass "
            "--skip-replay");
  }
  if (options.phone_prefix.size() != 10 ||
      options.phone_prefix.find_first_not_of("0123456789") != std::string::npos) {
    throw ConfigError(fmt::format("--phone-prefix \"{}\" is invalid: give the first 10 of the 12 "
                                  "digits, such as 2547083741",
                                  options.phone_prefix));
  }
}


/// The single payment of --phone: a real handset decides the outcome.
constexpr Scenario kOwnPhone{"your phone", "", 1, std::nullopt, false};

std::vector<DemoPayment> create_payments(const DemoOptions& options, httplib::Client& api) {
  const std::string run_id = random_run_id();
  std::vector<const Scenario*> scenarios;
  if (options.phone.empty()) {
    for (const auto& scenario : kScenarios) scenarios.push_back(&scenario);
  } else {
    scenarios.push_back(&kOwnPhone);
  }
  std::vector<DemoPayment> payments;
  for (const Scenario* scenario_pointer : scenarios) {
    const Scenario& scenario = *scenario_pointer;
    DemoPayment payment;
    payment.scenario = &scenario;
    payment.phone = options.phone.empty() ? options.phone_prefix + std::string(scenario.phone_suffix)
                                          : options.phone;
    create_payment(api, options.api_key, run_id, payment);
    std::cout << fmt::format("  {:<19} {} KES {:<4} {}\n", scenario.name, mask_phone(payment.phone),
                             scenario.amount, payment.error.empty() ? payment.public_id : payment.error);
    payments.push_back(std::move(payment));
  }
  return payments;
}

// Reads every payment's final row, including a receipt that arrived after it settled, and
// the results stored for it.
void refresh_from_database(std::vector<DemoPayment>& payments, PgPaymentStore& store,
                           server::PgConnectionPool& pool) {
  for (auto& payment : payments) {
    if (payment.public_id.empty()) continue;
    if (auto record = store.find_by_public_id(payment.public_id)) {
      payment.record = *record;
      payment.status = record->status;
      payment.events = event_trail(pool, record->id);
    }
  }
}

// Replays the samples and prints the verdict; returns true when the server handled each one.
bool run_replay(const DemoOptions& options, PgPaymentStore& store, server::PgConnectionPool& pool) {
  const auto shortcode = lookup_setting("MPESA_SHORTCODE", {}).value_or(std::string(kSandboxShortcode));
  const bool handled = replay_samples(options, store, pool, shortcode);
  std::cout << (handled ? "Every sample was handled by the server\n"
                        : "Some samples were not handled: see the rows above\n");
  return handled;
}

int run_demo(const DemoOptions& options) {
  check_options(options);
  const auto api_origin = split_url(options.api_url, "--api-url").origin;
  auto api = make_client(api_origin, options.request_timeout_s);
  PgPaymentStore store(Secret(options.database_url), 2);
  if (const auto ping = store.ping(); !ping) {
    std::cerr << "mpesa-stk: cannot reach the database: " << ping.error().describe()
              << "\nCheck --database-url (MPESA_DATABASE_URL): it must name the database `serve` uses.\n";
    return kExitFailure;
  }

  std::cout << fmt::format("Creating payments through {}/api/payments\n", api_origin);
  auto payments = create_payments(options, *api);

  PaymentFollower follower(api_origin, store, payments);
  std::cout << fmt::format("Waiting up to {} s for every payment to settle\n", options.settle_timeout_s);
  follower.run(std::chrono::seconds(options.settle_timeout_s));
  server::PgConnectionPool pool(Secret(options.database_url), 1);
  refresh_from_database(payments, store, pool);
  if (!follower.used_api()) {
    std::cout << "(GET /api/payments/{id} is not served here, so states were read from the database)\n";
  }
  print_table(payments);
  const auto reached = std::ranges::count_if(payments, reached_expected);
  std::cout << fmt::format("\n{} of {} payments reached the state their outcome implies\n", reached,
                           payments.size());

  const bool replay_ok = options.skip_replay || run_replay(options, store, pool);

  const std::string page = options.page_url.empty() ? api_origin + "/" : options.page_url;
  std::cout << "\nCheckout page: " << page << "\n";
  return reached == static_cast<long>(payments.size()) && replay_ok ? kExitOk : kExitFailure;
}

std::string demo_footer() {
  std::string text =
      "Each payment's phone number ends with the two digits that choose the simulator's outcome:\n";
  for (const auto& scenario : kScenarios) {
    text += fmt::format("  {:<19} ends {}, expected {}\n", scenario.name, scenario.phone_suffix,
                        expected_text(scenario));
  }
  text +=
      "Exit status 0 only when every payment reached its expected state and every sample was\n"
      "handled. scripts/demo starts PostgreSQL, the simulator and the server, then runs this.";
  return text;
}

// Where the server, its database and its callback route are.
void add_server_options(CLI::App* command, DemoOptions& options) {
  command->add_option("--api-url", options.api_url, "base URL of the server's API listener")
      ->capture_default_str();
  command->add_option("--api-key", options.api_key, "bearer key of POST /api/payments")
      ->envname("MPESA_API_KEY");
  command->add_option("--callback-url", options.callback_url,
                      "URL of the server's callback route that the samples are POSTed to")
      ->envname("MPESA_CALLBACK_URL");
  command->add_option("--callback-secret", options.callback_secret,
                      "secret sent in X-Callback-Secret with each sample (the first of a comma "
                      "separated list is used)")
      ->envname("MPESA_CALLBACK_SECRET");
  command->add_option("--database-url", options.database_url,
                      "PostgreSQL URI of the server's database, for the result table and sample seeding")
      ->envname("MPESA_DATABASE_URL");
  command->add_option("--page-url", options.page_url,
                      "where the checkout page is served, to print at the end; default the API URL")
      ->capture_default_str();
}

// What the demo sends and how long it waits.
void add_run_options(CLI::App* command, DemoOptions& options) {
  command->add_option("--samples", options.samples_dir, "folder of callback samples (*.json) to replay")
      ->capture_default_str();
  command->add_option("--phone-prefix", options.phone_prefix,
                      "first 10 digits of every demo phone number; the last 2 choose the outcome")
      ->capture_default_str();
  command->add_option("--phone", options.phone,
                      "send one payment to this real handset instead (Daraja's sandbox); any final "
                      "state passes");
  command->add_option("--timeout", options.settle_timeout_s, "seconds to wait for all payments to settle")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--request-timeout", options.request_timeout_s, "seconds to wait for each HTTP response")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--skip-replay", options.skip_replay, "do not replay the callback samples");
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* command = app.add_subcommand(
      "demo",
      "Create one payment per simulator outcome through a running `mpesa-stk serve`, wait for each "
      "to settle, print the results, then replay the callback samples against the callback route");
  command->footer(demo_footer());
  add_server_options(command, *options);
  add_run_options(command, *options);
  on_run(command, [options] { return run_demo(*options); });
}

}  // namespace mpesa::cli
