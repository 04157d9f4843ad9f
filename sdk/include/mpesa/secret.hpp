#pragma once

#include <string>
#include <string_view>

namespace mpesa {

/// A credential (consumer secret, passkey, access token, API key, callback secret) that
/// never prints its value. It has no stream operator; `to_string()` returns a redacted
/// marker, and `reveal()` is the one way to read the value. The buffer is zeroed when the
/// object is destroyed or overwritten.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret& other) = default;
  Secret(Secret&& other) noexcept;
  Secret& operator=(const Secret& other);
  Secret& operator=(Secret&& other) noexcept;
  ~Secret();

  /// The value itself. Call it only where the value leaves the process (an HTTP header,
  /// a password hash, a constant-time comparison).
  [[nodiscard]] std::string_view reveal() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
  /// "[redacted]" or "[empty]": safe for logs.
  [[nodiscard]] std::string to_string() const;

 private:
  void wipe() noexcept;
  std::string value_;
};

/// Compares two byte strings in time that depends only on their lengths, never on where
/// they first differ, so that a remote caller cannot guess a secret byte by byte.
[[nodiscard]] bool constant_time_equals(std::string_view a, std::string_view b) noexcept;

}  // namespace mpesa
