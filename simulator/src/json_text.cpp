#include "detail/json_text.hpp"

#include <fmt/format.h>

namespace mpesa::simulator::detail {

std::string json_quote(std::string_view text) {
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        quoted += "\\\"";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\n':
        quoted += "\\n";
        break;
      case '\r':
        quoted += "\\r";
        break;
      case '\t':
        quoted += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          quoted += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          quoted.push_back(c);
        }
    }
  }
  quoted.push_back('"');
  return quoted;
}

JsonObject& JsonObject::add_string(std::string_view key, std::string_view value) {
  return add_raw(key, json_quote(value));
}

JsonObject& JsonObject::add_raw(std::string_view key, std::string_view json) {
  if (!members_.empty()) members_.push_back(',');
  members_ += json_quote(key);
  members_.push_back(':');
  members_ += json;
  return *this;
}

std::string JsonObject::str() const { return "{" + members_ + "}"; }

std::string daraja_error_body(std::string_view request_id, std::string_view error_code,
                              std::string_view error_message) {
  return fmt::format("{{\n    \"requestId\": {},\n    \"errorCode\": {},\n    \"errorMessage\": {}\n}}",
                     json_quote(request_id), json_quote(error_code), json_quote(error_message));
}

}  // namespace mpesa::simulator::detail
