#pragma once

// A minimal JSON object writer for the server's small responses.

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace mpesa::server::detail {

/// Appends `text` to `out` as a JSON string literal, quotes included.
inline void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

/// Builds `{"key": value, ...}` one member at a time.
class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value) {
    begin_member(key);
    append_json_string(text_, value);
    return *this;
  }
  JsonObject& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonObject& add(std::string_view key, std::int64_t value) {
    begin_member(key);
    text_ += std::to_string(value);
    return *this;
  }
  JsonObject& add(std::string_view key, bool value) {
    begin_member(key);
    text_ += value ? "true" : "false";
    return *this;
  }
  JsonObject& add_null(std::string_view key) {
    begin_member(key);
    text_ += "null";
    return *this;
  }
  /// Adds a value that is already JSON text.
  JsonObject& add_raw(std::string_view key, std::string_view json) {
    begin_member(key);
    text_ += json;
    return *this;
  }
  [[nodiscard]] std::string str() const { return text_ + "}"; }

 private:
  void begin_member(std::string_view key) {
    text_ += text_.size() == 1 ? "" : ",";
    append_json_string(text_, key);
    text_ += ':';
  }
  std::string text_ = "{";
};

}  // namespace mpesa::server::detail
