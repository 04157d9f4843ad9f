// `mpesa-stk push`, `query` and `parse`: the SDK from the command line. Results go to
// stdout as JSON; errors and logs go to stderr, so the output can be piped.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "command.hpp"
#include "mpesa/config.hpp"
#include "mpesa/masking.hpp"
#include "mpesa/messages.hpp"
#include "mpesa/password.hpp"
#include "mpesa/stk_client.hpp"
#include "mpesa/types.hpp"

namespace mpesa::cli {
namespace {

struct SdkOptions {
  std::string config_file;
  bool verbose = false;
  std::string phone;
  std::string amount;
  std::string reference;
  std::string description;
  std::string checkout_request_id;
  std::string parse_file;
};

std::string json_string(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      quoted += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string json_or_null(const std::optional<std::string>& text) {
  return text ? json_string(*text) : "null";
}

int report(const Error& error) {
  std::cerr << "mpesa-stk: " << error.describe() << "\n";
  return kExitFailure;
}

// Logs go to stderr: stdout carries only the JSON result.
std::shared_ptr<spdlog::logger> stderr_logger(bool verbose) {
  auto logger = std::make_shared<spdlog::logger>(
      "mpesa-stk", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(verbose ? spdlog::level::info : spdlog::level::warn);
  return logger;
}

StkClient make_client(const SdkOptions& options) {
  std::optional<std::filesystem::path> file;
  if (!options.config_file.empty()) file = options.config_file;
  return StkClient(Config::from_environment(file), stderr_logger(options.verbose));
}

int run_push(const SdkOptions& options) {
  const auto amount = Amount::parse(options.amount);
  if (!amount) return report(amount.error());
  StkClient client = make_client(options);

  PushRequest request;
  request.phone = options.phone;
  request.amount = amount->shillings();
  request.account_reference = options.reference;
  request.description = options.description;
  const auto ack = client.push(request);
  if (!ack) return report(ack.error());
  std::cout << fmt::format(
      "{{\"merchant_request_id\":{},\"checkout_request_id\":{},\"response_code\":{},"
      "\"response_description\":{},\"customer_message\":{}}}\n",
      json_string(ack->merchant_request_id), json_string(ack->checkout_request_id),
      json_string(ack->response_code), json_string(ack->response_description),
      json_string(ack->customer_message));
  return kExitOk;
}

std::string query_json(const QueryResult& result) {
  return fmt::format(
      "{{\"checkout_request_id\":{},\"merchant_request_id\":{},\"result_code\":{},"
      "\"result_desc\":{},\"status\":\"{}\",\"amount\":null,\"receipt\":null,\"phone\":null,"
      "\"transaction_date\":null}}\n",
      json_string(result.checkout_request_id), json_string(result.merchant_request_id),
      json_string(result.result_code), json_string(result.result_desc),
      to_string(result.status()));
}

int run_query(const SdkOptions& options) {
  StkClient client = make_client(options);
  const auto result = client.query(options.checkout_request_id);
  if (!result) return report(result.error());
  std::cout << query_json(*result);
  return kExitOk;
}

std::optional<std::string> read_input(const std::string& file) {
  std::ostringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  text << in.rdbuf();
  return text.str();
}

// Amount in shillings as a JSON number: "1" for 100 cents, "1.50" for 150.
std::string amount_json(std::optional<std::int64_t> cents) {
  if (!cents) return "null";
  if (*cents % 100 == 0) return std::to_string(*cents / 100);
  return fmt::format("{}.{:02}", *cents / 100, *cents % 100);
}

Result<std::string> callback_json(const StkCallback& callback) {
  std::optional<std::string> date;
  if (callback.transaction_date) {
    std::chrono::system_clock::time_point instant;
    const std::string digits = std::to_string(*callback.transaction_date);
    if (!parse_nairobi_timestamp(digits, instant)) {
      Error error;
      error.kind = ErrorKind::Parse;
      error.message = fmt::format("TransactionDate {} is not a YYYYMMDDHHmmss date", digits);
      return fail(std::move(error));
    }
    date = nairobi_iso8601(instant);
  }
  std::optional<std::string> phone;
  if (callback.phone) phone = mask_phone(std::to_string(*callback.phone));
  return fmt::format(
      "{{\"checkout_request_id\":{},\"merchant_request_id\":{},\"result_code\":{},"
      "\"result_desc\":{},\"status\":\"{}\",\"amount\":{},\"receipt\":{},\"phone\":{},"
      "\"transaction_date\":{}}}\n",
      json_string(callback.checkout_request_id), json_string(callback.merchant_request_id),
      json_string(callback.result_code), json_string(callback.result_desc),
      to_string(callback.status()), amount_json(callback.amount_cents),
      json_or_null(callback.receipt), json_or_null(phone), json_or_null(date));
}

int run_parse(const std::string& file, bool is_callback) {
  const auto body = read_input(file);
  if (!body) {
    std::cerr << "mpesa-stk: cannot read " << file << ": check the path, or give - for stdin\n";
    return kExitFailure;
  }
  const auto on_error = [&](const Error& error) {
    std::cerr << "mpesa-stk: " << (file == "-" ? "stdin" : file) << ": " << error.message << "\n";
    return kExitFailure;
  };
  if (is_callback) {
    const auto callback = parse_stk_callback(*body);
    if (!callback) return on_error(callback.error());
    const auto json = callback_json(*callback);
    if (!json) return on_error(json.error());
    std::cout << *json;
    return kExitOk;
  }
  const auto result = parse_query_result(200, *body);
  if (!result) return on_error(result.error());
  std::cout << query_json(*result);
  return kExitOk;
}

void add_client_options(CLI::App* command, SdkOptions& options) {
  command->add_option("--config", options.config_file,
                      "dotenv file with MPESA_* settings; the environment wins over it")
      ->check(CLI::ExistingFile);
  command->add_flag("-v,--verbose", options.verbose, "log one line per Daraja call to stderr");
}

}  // namespace

void add_sdk_commands(CLI::App& app) {
  static SdkOptions options;

  CLI::App* push = app.add_subcommand("push", "Send an STK push and print Daraja's acknowledgement");
  push->add_option("--phone", options.phone, "customer phone: 07..., 01..., +254... or 254...")
      ->required();
  push->add_option("--amount", options.amount, "whole shillings, 1 to 250000")->required();
  push->add_option("--reference", options.reference, "AccountReference, 1 to 12 characters")
      ->required();
  push->add_option("--description", options.description,
                   "TransactionDesc, up to 13 characters (default: Payment)");
  add_client_options(push, options);
  on_run(push, [] { return run_push(options); });

  CLI::App* query = app.add_subcommand("query", "Ask STK Push Query for a payment's result");
  query->add_option("--checkout-request-id", options.checkout_request_id,
                    "the CheckoutRequestID from the push acknowledgement")
      ->required();
  add_client_options(query, options);
  on_run(query, [] { return run_query(options); });

  CLI::App* parse = app.add_subcommand("parse", "Print a Daraja message as normalised JSON");
  parse->require_subcommand(1);
  CLI::App* callback = parse->add_subcommand("callback", "Parse an STK callback body");
  callback->add_option("file", options.parse_file, "file to read, - for stdin")->required();
  on_run(callback, [] { return run_parse(options.parse_file, true); });
  CLI::App* query_answer = parse->add_subcommand("query", "Parse an STK Push Query answer");
  query_answer->add_option("file", options.parse_file, "file to read, - for stdin")->required();
  on_run(query_answer, [] { return run_parse(options.parse_file, false); });
}

}  // namespace mpesa::cli
