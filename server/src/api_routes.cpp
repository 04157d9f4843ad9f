// Routes of the API listener: POST /api/payments, /healthz, /readyz and /metrics.

#include <simdjson.h>

#include "detail/json_writer.hpp"
#include "mpesa/server/migrations.hpp"
#include "mpesa/server/server_app.hpp"

namespace mpesa::server {
namespace {

using detail::JsonObject;

// The rule each validated field must meet, named in 422 responses so a client can map the
// error to its form without parsing the message.
std::string_view rule_for(std::string_view field) {
  if (field == "phone") return "kenyan_mobile_number";
  if (field == "amount") return "whole_shillings_1_to_250000";
  if (field == "account_reference") return "1_to_12_letters_digits_space_or_-_.#/";
  if (field == "description") return "1_to_13_letters_digits_space_or_-_.#/";
  if (field == "idempotency_key") return "1_to_200_printable_ascii";
  return "valid";
}

void answer_json(httplib::Response& response, int status, const std::string& body) {
  response.status = status;
  response.set_content(body, "application/json");
}

void answer_error(httplib::Response& response, int status, std::string_view message) {
  answer_json(response, status, JsonObject().add("error", message).str());
}

void answer_invalid(httplib::Response& response, std::string_view field, std::string_view rule,
                    std::string_view message) {
  answer_json(response, 422, JsonObject().add("error", message).add("field", field).add("rule", rule).str());
}

// Bearer authentication with the API key, compared in constant time.
bool authorised(const httplib::Request& request, const Secret& api_key) {
  if (api_key.empty()) return false;
  const auto header = request.get_header_value("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (!std::string_view(header).starts_with(kScheme)) return false;
  return constant_time_equals(std::string_view(header).substr(kScheme.size()), api_key.reveal());
}

struct FieldError {
  std::string field;
  std::string rule;
  std::string message;
};

using simdjson::dom::element;

std::optional<FieldError> read_string(const simdjson::dom::object& body, std::string_view field,
                                      bool required, std::string& out) {
  element value;
  if (body[field].get(value) != simdjson::SUCCESS || value.is_null()) {
    if (!required) return std::nullopt;
    return FieldError{std::string(field), "required", std::string(field) + " is required"};
  }
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) {
    return FieldError{std::string(field), "type", std::string(field) + " must be a string"};
  }
  out = std::string(text);
  return std::nullopt;
}

std::optional<FieldError> read_phone(const simdjson::dom::object& body, std::string& out) {
  element value;
  if (body["phone"].get(value) != simdjson::SUCCESS || value.is_null()) {
    return FieldError{"phone", "required", "phone is required"};
  }
  std::uint64_t digits = 0;
  if (value.get(digits) == simdjson::SUCCESS) {
    out = std::to_string(digits);
    return std::nullopt;
  }
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) {
    return FieldError{"phone", "type", "phone must be a string such as \"0712345678\""};
  }
  out = std::string(text);
  return std::nullopt;
}

std::optional<FieldError> read_amount(const simdjson::dom::object& body, std::int64_t& out) {
  element value;
  if (body["amount"].get(value) != simdjson::SUCCESS || value.is_null()) {
    return FieldError{"amount", "required", "amount is required"};
  }
  std::int64_t whole = 0;
  double number = 0;
  std::string_view text;
  if (value.get(whole) == simdjson::SUCCESS) {
    out = whole;
  } else if (value.get(number) == simdjson::SUCCESS && number == static_cast<double>(static_cast<std::int64_t>(number))) {
    out = static_cast<std::int64_t>(number);
  } else if (value.get(text) == simdjson::SUCCESS) {
    auto parsed = Amount::parse(text);
    if (!parsed) return FieldError{"amount", std::string(rule_for("amount")), parsed.error().message};
    out = parsed->shillings();
  } else {
    return FieldError{"amount", std::string(rule_for("amount")),
                      "amount must be a whole number of shillings from 1 to 250000"};
  }
  return std::nullopt;
}

std::optional<FieldError> read_request(std::string_view text, CreatePaymentRequest& request) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object body;
  if (parser.parse(text.data(), text.size()).get(body) != simdjson::SUCCESS) {
    return FieldError{"", "json_object", "the body must be a JSON object"};
  }
  if (auto error = read_phone(body, request.phone)) return error;
  if (auto error = read_amount(body, request.amount)) return error;
  if (auto error = read_string(body, "account_reference", true, request.account_reference)) return error;
  if (auto error = read_string(body, "description", false, request.description)) return error;
  std::string key;
  if (auto error = read_string(body, "idempotency_key", false, key)) return error;
  if (!key.empty()) request.idempotency_key = key;
  return std::nullopt;
}

void create_payment(const httplib::Request& request, httplib::Response& response, ServerContext& context) {
  if (!authorised(request, context.config.api_key)) {
    response.set_header("WWW-Authenticate", "Bearer");
    answer_error(response, 401, "missing or wrong API key: send Authorization: Bearer <MPESA_API_KEY>");
    return;
  }
  if (!context.payments) {
    answer_error(response, 503, "payments cannot be created: the server has no Daraja settings");
    return;
  }

  CreatePaymentRequest create;
  if (const auto error = read_request(request.body, create)) {
    if (error->field.empty()) {
      answer_error(response, 400, error->message);
    } else {
      answer_invalid(response, error->field, error->rule, error->message);
    }
    return;
  }
  if (!create.idempotency_key && request.has_header("Idempotency-Key")) {
    create.idempotency_key = request.get_header_value("Idempotency-Key");
  }

  auto created = context.payments->create(create);
  if (!created) {
    const auto& error = created.error();
    if (error.kind == ErrorKind::InvalidRequest) {
      answer_invalid(response, error.field, rule_for(error.field), error.message);
    } else if (error.kind == ErrorKind::Duplicate) {
      answer_json(response, 409, JsonObject().add("error", error.message).add("field", error.field).str());
    } else {
      context.logger->error("could not create a payment: {}", error.describe());
      answer_error(response, 503, "the payment could not be stored; try again with the same idempotency_key");
    }
    return;
  }
  if (!created->created) response.set_header("Idempotent-Replayed", "true");
  answer_json(response, 201,
              JsonObject()
                  .add("id", created->payment.public_id)
                  .add("status", to_string(created->payment.status))
                  .add("message", created->message)
                  .str());
}

void readiness(httplib::Response& response, ServerContext& context) {
  const bool database_ok = context.store->ping().has_value();
  const auto version = database_ok ? context.store->schema_version() : Result<int>(0);
  const int applied = version ? *version : 0;
  const bool migrations_current = database_ok && version && applied >= latest_migration_version();
  const bool ready = database_ok && migrations_current;
  answer_json(response, ready ? 200 : 503,
              JsonObject()
                  .add("ready", ready)
                  .add("database", database_ok ? "reachable" : "unreachable")
                  .add("migrations", migrations_current ? "current" : "behind")
                  .add("schema_version", static_cast<std::int64_t>(applied))
                  .add("expected_schema_version", static_cast<std::int64_t>(latest_migration_version()))
                  .add("spool_backlog", static_cast<std::int64_t>(context.spool->backlog()))
                  .str());
}

}  // namespace

void install_api_routes(httplib::Server& server, ServerContext& context) {
  server.Post("/api/payments", [&context](const httplib::Request& request, httplib::Response& response) {
    create_payment(request, response, context);
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    answer_json(response, 200, R"({"status":"ok"})");
  });
  server.Get("/readyz", [&context](const httplib::Request&, httplib::Response& response) {
    readiness(response, context);
  });
  server.Get("/metrics", [&context](const httplib::Request&, httplib::Response& response) {
    response.set_content(context.metrics->render(context.spool->backlog()), "text/plain; version=0.0.4");
  });
}

}  // namespace mpesa::server
