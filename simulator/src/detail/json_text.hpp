#pragma once

#include <string>
#include <string_view>

namespace mpesa::simulator::detail {

/// Returns `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_quote(std::string_view text);

/// Builds a compact JSON object one member at a time.
class JsonObject {
 public:
  JsonObject& add_string(std::string_view key, std::string_view value);
  /// Adds `json` unchanged: a number, `true`, or an object or array built elsewhere.
  JsonObject& add_raw(std::string_view key, std::string_view json);
  /// The object text, `{}` when nothing was added.
  [[nodiscard]] std::string str() const;

 private:
  std::string members_;
};

/// Daraja's error body `{requestId, errorCode, errorMessage}`, indented as the gateway
/// sends it.
[[nodiscard]] std::string daraja_error_body(std::string_view request_id,
                                            std::string_view error_code,
                                            std::string_view error_message);

}  // namespace mpesa::simulator::detail
