// Sends STK callbacks to a running `mpesa-stk serve` for the soak and fault tests, and
// records which ones the server acknowledged. Every run is bounded by a request count and a
// time limit.
//
// Plans:
//   steady  one success callback per payment ws_CO_<first>..ws_CO_<first+count-1>, paced at
//           --rate per second; used while PostgreSQL or the server is being disrupted.
//   soak    --count requests mixing valid callbacks, 10% duplicates (half sent at the same
//           moment as the original, half later), 5% unknown ids, 2% amount mismatches and
//           5% hostile requests aimed at decoy payments that must stay untouched.
//
// The ids of acknowledged success callbacks go to --acked-file, one a line. The soak plan
// writes the counts the database must show afterwards to --expect-file as key=value lines.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <httplib.h>

namespace {

using SteadyClock = std::chrono::steady_clock;

enum class Kind { Valid, Duplicate, Unknown, AmountMismatch, Hostile };

struct Job {
  Kind kind = Kind::Valid;
  std::string checkout_id;
  std::string path;
  std::string content_type = "application/json";
  std::string body;
  /// Hostile requests whose secret is right but whose body is not a callback.
  bool authentic_malformed = false;
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path;
  std::string plan = "steady";
  std::int64_t first = 1;
  std::int64_t count = 1000;
  int threads = 16;
  double rate = 0;
  double seconds = 120;
  std::string acked_file;
  std::string expect_file;
};

std::string callback_body(const std::string& checkout_id, std::int64_t receipt_number, const char* amount) {
  return fmt::format(
      R"({{"Body":{{"stkCallback":{{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"{}",)"
      R"("ResultCode":0,"ResultDesc":"The service request is processed successfully.",)"
      R"("CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":{}}},)"
      R"({{"Name":"MpesaReceiptNumber","Value":"QA{:08}"}},{{"Name":"TransactionDate","Value":20251204102115}},)"
      R"({{"Name":"PhoneNumber","Value":254700000001}}]}}}}}}}})",
      checkout_id, amount, receipt_number);
}

std::string checkout_id(std::int64_t n) { return fmt::format("ws_CO_{}", n); }

/// Replaces the secret in `path` (after "secret=") with a wrong one, or drops the query.
std::string wrong_secret_path(const std::string& path, bool drop) {
  const auto at = path.find("secret=");
  if (at == std::string::npos) return path + (drop ? "" : "x");
  if (drop) return path.substr(0, path.find('?'));
  return path.substr(0, at) + "secret=not-the-secret";
}

std::vector<Job> steady_plan(const Options& options) {
  std::vector<Job> jobs;
  jobs.reserve(static_cast<std::size_t>(options.count));
  for (std::int64_t n = options.first; n < options.first + options.count; ++n) {
    jobs.push_back({Kind::Valid, checkout_id(n), options.path, "application/json",
                    callback_body(checkout_id(n), n, "1.00")});
  }
  return jobs;
}

struct SoakShape {
  std::int64_t valid = 0;
  std::int64_t duplicates = 0;
  std::int64_t unknown = 0;
  std::int64_t mismatches = 0;
  std::int64_t hostile = 0;
  std::int64_t authentic_malformed = 0;
};

/// Builds the soak mix. Payments ws_CO_<first>.. get one valid callback each, the next
/// `mismatches` payments one callback with the wrong amount, and the `decoys` after them only
/// hostile requests.
std::vector<Job> soak_plan(const Options& options, SoakShape& shape) {
  const std::int64_t total = options.count;
  shape.duplicates = total / 10;
  shape.unknown = total / 20;
  shape.mismatches = total / 50;
  shape.hostile = total / 20;
  shape.valid = total - shape.duplicates - shape.unknown - shape.mismatches - shape.hostile;

  std::vector<Job> originals;
  originals.reserve(static_cast<std::size_t>(shape.valid));
  for (std::int64_t i = 0; i < shape.valid; ++i) {
    const auto n = options.first + i;
    originals.push_back({Kind::Valid, checkout_id(n), options.path, "application/json",
                         callback_body(checkout_id(n), n, "1.00")});
  }

  std::vector<Job> jobs;
  jobs.reserve(static_cast<std::size_t>(total));
  // The first half of the duplicates directly follow their original, so two threads send
  // both at nearly the same moment. The second half come at the end, after the original
  // was applied.
  const std::int64_t concurrent = shape.duplicates / 2;
  const std::int64_t late = shape.duplicates - concurrent;
  const std::int64_t spacing = std::max<std::int64_t>(1, shape.valid / std::max<std::int64_t>(1, concurrent));
  std::int64_t concurrent_made = 0;
  for (std::int64_t i = 0; i < shape.valid; ++i) {
    jobs.push_back(originals[static_cast<std::size_t>(i)]);
    if (i % spacing == 0 && concurrent_made < concurrent) {
      Job twin = originals[static_cast<std::size_t>(i)];
      twin.kind = Kind::Duplicate;
      jobs.push_back(std::move(twin));
      ++concurrent_made;
    }
  }
  for (std::int64_t i = 0; i < late + (concurrent - concurrent_made); ++i) {
    Job again = originals[static_cast<std::size_t>((i * 7919) % shape.valid)];
    again.kind = Kind::Duplicate;
    jobs.push_back(std::move(again));
  }

  // Unknown ids, amount mismatches and hostile requests are spread through the run.
  std::vector<Job> extras;
  for (std::int64_t i = 0; i < shape.unknown; ++i) {
    const auto id = fmt::format("ws_CO_unknown_{}", i);
    extras.push_back({Kind::Unknown, id, options.path, "application/json",
                      callback_body(id, 50'000'000 + i, "1.00")});
  }
  const std::int64_t mismatch_first = options.first + shape.valid;
  for (std::int64_t i = 0; i < shape.mismatches; ++i) {
    const auto n = mismatch_first + i;
    extras.push_back({Kind::AmountMismatch, checkout_id(n), options.path, "application/json",
                      callback_body(checkout_id(n), n, "2.00")});
  }
  const std::int64_t decoy_first = mismatch_first + shape.mismatches;
  const std::string oversized(1024 * 1024, ' ');
  for (std::int64_t i = 0; i < shape.hostile; ++i) {
    const auto n = decoy_first + (i % std::max<std::int64_t>(1, shape.hostile / 4));
    const auto id = checkout_id(n);
    Job job{Kind::Hostile, id, options.path, "application/json", callback_body(id, 90'000'000 + i, "1.00")};
    switch (i % 8) {
      case 0: job.path = wrong_secret_path(options.path, false); break;
      case 1: job.path = wrong_secret_path(options.path, true); break;
      case 2: job.content_type = "text/plain"; break;
      case 3: job.body = "{\"Body\":{\"stkCallback\":{\"CheckoutRequestID\":\"" + id + "\",\"ResultCode\":0"; job.authentic_malformed = true; break;
      case 4: job.body = "[1,2,3]"; job.authentic_malformed = true; break;
      case 5: job.body = callback_body(id, 90'000'000 + i, "1.00") + oversized; break;
      case 6: job.path = wrong_secret_path(options.path, false); job.body = "not json at all"; break;
      case 7: job.content_type = "application/x-www-form-urlencoded"; job.body = "Body=1"; break;
    }
    if (job.authentic_malformed) ++shape.authentic_malformed;
    extras.push_back(std::move(job));
  }
  // Interleave: one extra after every few regular jobs.
  std::vector<Job> mixed;
  mixed.reserve(jobs.size() + extras.size());
  const std::size_t every = std::max<std::size_t>(1, jobs.size() / std::max<std::size_t>(1, extras.size()));
  std::size_t next_extra = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    mixed.push_back(std::move(jobs[i]));
    if ((i + 1) % every == 0 && next_extra < extras.size()) mixed.push_back(std::move(extras[next_extra++]));
  }
  while (next_extra < extras.size()) mixed.push_back(std::move(extras[next_extra++]));
  return mixed;
}

struct Tally {
  std::atomic<std::int64_t> sent{0};
  std::atomic<std::int64_t> acknowledged{0};
  std::atomic<std::int64_t> rejected{0};
  std::atomic<std::int64_t> server_errors{0};
  std::atomic<std::int64_t> transport_errors{0};
  std::atomic<std::int64_t> unexpected{0};
};

bool is_acknowledgement(const httplib::Result& result) {
  return result && result->status == 200 && result->body.find("\"ResultCode\":0") != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"Sends STK callbacks to mpesa-stk serve for the soak and fault tests"};
  app.add_option("--port", options.port, "server port on 127.0.0.1")->required();
  app.add_option("--path", options.path, "callback path with the secret, e.g. /mpesa/callback?secret=s")->required();
  app.add_option("--plan", options.plan, "steady or soak")->check(CLI::IsMember({"steady", "soak"}));
  app.add_option("--first", options.first, "first payment number (ws_CO_<n>)");
  app.add_option("--count", options.count, "requests to send")->check(CLI::Range(1, 1'000'000));
  app.add_option("--threads", options.threads, "concurrent connections")->check(CLI::Range(1, 256));
  app.add_option("--rate", options.rate, "requests per second in total; 0 means as fast as possible");
  app.add_option("--seconds", options.seconds, "time limit; requests not sent by then are skipped");
  app.add_option("--acked-file", options.acked_file, "write the ids of acknowledged success callbacks here");
  app.add_option("--expect-file", options.expect_file, "soak: write the expected database counts here");
  CLI11_PARSE(app, argc, argv);

  SoakShape shape;
  const auto jobs = options.plan == "soak" ? soak_plan(options, shape) : steady_plan(options);

  Tally tally;
  std::atomic<std::size_t> next{0};
  std::mutex acked_mutex;
  std::vector<std::string> acked;
  const auto started = SteadyClock::now();
  const auto deadline = started + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options.seconds));

  std::vector<std::thread> workers;
  for (int t = 0; t < options.threads; ++t) {
    workers.emplace_back([&] {
      httplib::Client client(options.host, options.port);
      client.set_keep_alive(true);
      client.set_connection_timeout(2, 0);
      client.set_read_timeout(30, 0);
      std::vector<std::string> own_acked;
      while (SteadyClock::now() < deadline) {
        const std::size_t index = next.fetch_add(1);
        if (index >= jobs.size()) break;
        if (options.rate > 0) {
          const auto due = started + std::chrono::duration_cast<SteadyClock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(index) / options.rate));
          std::this_thread::sleep_until(due);
        }
        const Job& job = jobs[index];
        const auto result = client.Post(job.path, httplib::Headers{}, job.body, job.content_type);
        tally.sent.fetch_add(1);
        if (!result) {
          tally.transport_errors.fetch_add(1);
          // The server is down (a fault test): back off briefly instead of spinning.
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        const bool acknowledged = is_acknowledgement(result);
        if (acknowledged) tally.acknowledged.fetch_add(1);
        else if (result->status >= 500) tally.server_errors.fetch_add(1);
        else tally.rejected.fetch_add(1);
        // The server acknowledges an authentic body it cannot parse, keeping it for review,
        // because Daraja would only send it again.
        const bool should_ack = job.kind != Kind::Hostile || job.authentic_malformed;
        if (acknowledged != should_ack && result->status < 500) {
          if (tally.unexpected.fetch_add(1) < 5) {
            std::cerr << fmt::format("unexpected answer {} for a {} request to {}: {}\n", result->status,
                                     should_ack ? "valid" : "hostile", job.checkout_id, result->body.substr(0, 200));
          }
        }
        if (acknowledged && (job.kind == Kind::Valid || job.kind == Kind::Duplicate)) {
          own_acked.push_back(job.checkout_id);
        }
      }
      std::lock_guard lock(acked_mutex);
      acked.insert(acked.end(), own_acked.begin(), own_acked.end());
    });
  }
  for (auto& worker : workers) worker.join();
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();

  if (!options.acked_file.empty()) {
    std::sort(acked.begin(), acked.end());
    acked.erase(std::unique(acked.begin(), acked.end()), acked.end());
    std::ofstream out(options.acked_file);
    for (const auto& id : acked) out << id << '\n';
  }
  if (!options.expect_file.empty() && options.plan == "soak") {
    std::ofstream out(options.expect_file);
    out << "first=" << options.first << '\n'
        << "valid=" << shape.valid << '\n'
        << "duplicates=" << shape.duplicates << '\n'
        << "unknown=" << shape.unknown << '\n'
        << "mismatches=" << shape.mismatches << '\n'
        << "hostile=" << shape.hostile << '\n'
        << "authentic_malformed=" << shape.authentic_malformed << '\n'
        << "decoys=" << std::max<std::int64_t>(1, shape.hostile / 4) << '\n';
  }
  std::cout << fmt::format(
      "sent {} of {} in {:.1f} s ({:.0f}/s): acknowledged {}, rejected {}, server errors {}, "
      "transport errors {}, unexpected answers {}\n",
      tally.sent.load(), jobs.size(), seconds, static_cast<double>(tally.sent.load()) / seconds,
      tally.acknowledged.load(), tally.rejected.load(), tally.server_errors.load(),
      tally.transport_errors.load(), tally.unexpected.load());
  return 0;
}
