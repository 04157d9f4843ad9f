// Runs the built `mpesa-stk` binary as a user would and checks its output and exit status.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fake_daraja.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kSamples = fs::path(MPESA_TEST_DATA_DIR) / "daraja";

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string quoted(const std::string& text) {
  std::string result = "'";
  for (const char c : text) result += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return result + "'";
}

// Runs mpesa-stk with `arguments` (already quoted), stdin from `input` when given.
Run run(const std::string& arguments, const std::string& input = "") {
  const fs::path dir = fs::temp_directory_path() / ("mpesa-cli-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string command = quoted(MPESA_STK_BINARY) + " " + arguments + " >" +
                        quoted((dir / "out").string()) + " 2>" + quoted((dir / "err").string());
  if (!input.empty()) {
    std::ofstream(dir / "in", std::ios::binary) << input;
    command += " <" + quoted((dir / "in").string());
  }
  const int raw = std::system(command.c_str());
  Run result;
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = slurp(dir / "out");
  result.err = slurp(dir / "err");
  fs::remove_all(dir);
  return result;
}

void set_client_environment(const std::string& base_url) {
  ::setenv("MPESA_BASE_URL", base_url.c_str(), 1);
  ::setenv("MPESA_CONSUMER_KEY", "cli-key", 1);
  ::setenv("MPESA_CONSUMER_SECRET", "cli-secret-2f9d", 1);
  ::setenv("MPESA_SHORTCODE", "174379", 1);
  ::setenv("MPESA_PASSKEY", "cli-passkey-77aa", 1);
  ::setenv("MPESA_CALLBACK_URL", "https://example.com/cb", 1);
}

}  // namespace

TEST_SUITE("mpesa-stk parse") {
  TEST_CASE("a success callback prints the normalised fields") {
    const Run result = run("parse callback " + quoted((kSamples / "callback" /
                                                       "01-docs-success-4-items-no-balance-amount-1.00.json")
                                                          .string()));
    CHECK(result.status == 0);
    CHECK(result.err.empty());
    CHECK(result.out ==
          R"({"checkout_request_id":"ws_CO_191220191020363925","merchant_request_id":)"
          R"("29115-34620561-1","result_code":"0","result_desc":"The service request is )"
          R"(processed successfully.","status":"succeeded","amount":1,"receipt":"NLJ4QK8ZWA",)"
          R"("phone":"2547*****149","transaction_date":"2019-12-19T10:21:15+03:00"})"
          "\n");
  }

  TEST_CASE("every callback sample parses with exit status 0 and a masked phone") {
    for (const auto& entry : fs::directory_iterator(kSamples / "callback")) {
      INFO("sample: ", entry.path().filename().string());
      const Run result = run("parse callback " + quoted(entry.path().string()));
      CHECK(result.status == 0);
      CHECK(result.out.find("\"checkout_request_id\":\"ws_CO_") != std::string::npos);
      CHECK(result.out.find("\"status\":\"") != std::string::npos);
      CHECK(result.out.find("25470000000") == std::string::npos);
      CHECK(result.out.find("254708374149") == std::string::npos);
    }
  }

  TEST_CASE("callback from stdin with a cancelled result") {
    const std::string body =
        slurp(kSamples / "callback" / "07-2019-1032-cancelled-stkcb-prefix.json");
    const Run result = run("parse callback -", body);
    CHECK(result.status == 0);
    CHECK(result.out.find(R"("result_code":"1032")") != std::string::npos);
    CHECK(result.out.find(R"("status":"cancelled")") != std::string::npos);
    CHECK(result.out.find(R"("amount":null)") != std::string::npos);
  }

  TEST_CASE("query answers print their state and being processed is pending") {
    const Run success = run("parse query " + quoted((kSamples / "stkquery" /
                                                      "01-docs-success-resultcode-string.json")
                                                         .string()));
    CHECK(success.status == 0);
    CHECK(success.out.find(R"("status":"succeeded")") != std::string::npos);
    CHECK(success.out.find(R"("result_code":"0")") != std::string::npos);
    const Run pending =
        run("parse query " +
            quoted((kSamples / "stkquery" /
                    "05-being-processed-500.001.1001-requestid-is-checkoutid.json")
                       .string()));
    CHECK(pending.status == 0);
    CHECK(pending.out.find(R"("status":"pending")") != std::string::npos);
  }

  TEST_CASE("malformed input exits 1 with one line naming the problem") {
    const Run junk = run("parse callback -", "{\"Body\":{}}");
    CHECK(junk.status == 1);
    CHECK(junk.out.empty());
    CHECK(junk.err == "mpesa-stk: stdin: callback has no Body.stkCallback object\n");
    const Run html = run("parse query -", "<html></html>");
    CHECK(html.status == 1);
    CHECK(html.err.find("not a JSON object") != std::string::npos);
    const Run missing = run("parse callback /nonexistent/callback.json");
    CHECK(missing.status == 1);
    CHECK(missing.err.find("cannot read /nonexistent/callback.json") != std::string::npos);
  }

  TEST_CASE("usage errors exit 2 and --help exits 0") {
    CHECK(run("parse").status == 2);
    CHECK(run("parse callback").status == 2);
    CHECK(run("push --phone 0708374149").status == 2);
    const Run help = run("parse callback --help");
    CHECK(help.status == 0);
    CHECK(help.out.find("stdin") != std::string::npos);
    CHECK(run("query --help").status == 0);
  }
}

TEST_SUITE("mpesa-stk push and query") {
  TEST_CASE("push prints the acknowledgement and query the result") {
    mpesa::testing::FakeDaraja daraja;
    set_client_environment(daraja.base_url());
    const Run push = run("push --phone '+254 708 374 149' --amount 10 --reference INV-7");
    CHECK_MESSAGE(push.status == 0, push.err);
    CHECK(push.out.find(R"("checkout_request_id":"ws_CO_04122026101010123708374149")") !=
          std::string::npos);
    CHECK(push.out.find(R"("response_code":"0")") != std::string::npos);
    CHECK(daraja.requests().back().body.find(R"("PhoneNumber":"254708374149")") !=
          std::string::npos);

    const Run query = run("query --checkout-request-id ws_CO_04122026101010123708374149");
    CHECK_MESSAGE(query.status == 0, query.err);
    CHECK(query.out.find(R"("status":"succeeded")") != std::string::npos);
  }

  TEST_CASE("bad input exits 1 before any request and missing config exits 2") {
    mpesa::testing::FakeDaraja daraja;
    set_client_environment(daraja.base_url());
    const Run fraction = run("push --phone 0708374149 --amount 10.50 --reference INV-7");
    CHECK(fraction.status == 1);
    CHECK(fraction.err.find("amount \"10.50\" has cents") != std::string::npos);
    const Run phone = run("push --phone 12345 --amount 10 --reference INV-7");
    CHECK(phone.status == 1);
    CHECK(phone.err.find("phone") != std::string::npos);
    CHECK(daraja.requests().empty());

    ::unsetenv("MPESA_PASSKEY");
    const Run config = run("push --phone 0708374149 --amount 10 --reference INV-7");
    CHECK(config.status == 2);
    CHECK(config.err.find("MPESA_PASSKEY is not set") != std::string::npos);
  }

  TEST_CASE("push reads settings from --config") {
    mpesa::testing::FakeDaraja daraja;
    for (const char* name : {"MPESA_BASE_URL", "MPESA_CONSUMER_KEY", "MPESA_CONSUMER_SECRET",
                             "MPESA_SHORTCODE", "MPESA_PASSKEY", "MPESA_CALLBACK_URL"}) {
      ::unsetenv(name);
    }
    const fs::path file = fs::temp_directory_path() /
                          ("mpesa-cli-" + std::to_string(::getpid()) + ".env");
    std::ofstream(file) << "MPESA_BASE_URL=" << daraja.base_url() << "\n"
                        << "MPESA_CONSUMER_KEY=file-key\nMPESA_CONSUMER_SECRET=file-secret\n"
                        << "MPESA_SHORTCODE=174379\nMPESA_PASSKEY=file-passkey\n"
                        << "MPESA_CALLBACK_URL=https://example.com/cb\n";
    const Run push = run("push --phone 0708374149 --amount 5 --reference INV-8 --config " +
                         quoted(file.string()));
    fs::remove(file);
    CHECK_MESSAGE(push.status == 0, push.err);
    CHECK(daraja.count(mpesa::testing::kPushPath) == 1);
    CHECK(run("push --phone 0708374149 --amount 5 --reference INV-8 --config /nonexistent.env")
              .status == 2);
  }

  TEST_CASE("a Daraja rejection exits 1 with its error code") {
    mpesa::testing::FakeDaraja daraja;
    set_client_environment(daraja.base_url());
    daraja.script(mpesa::testing::kPushPath,
                  {{500, R"({"requestId":"119414-258858845-1","errorCode":"500.001.1001",)"
                         R"("errorMessage":"Unable to lock subscriber, a transaction is already )"
                         R"(in process for the current subscriber"})"}});
    const Run push = run("push --phone 0708374149 --amount 10 --reference INV-7");
    CHECK(push.status == 1);
    CHECK(push.out.empty());
    CHECK(push.err.find("daraja_rejected") != std::string::npos);
    CHECK(push.err.find("500.001.1001") != std::string::npos);
  }
}
