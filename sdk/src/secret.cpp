#include "mpesa/secret.hpp"

#include <openssl/crypto.h>

namespace mpesa {

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }

Secret& Secret::operator=(const Secret& other) {
  if (this != &other) {
    wipe();
    value_ = other.value_;
  }
  return *this;
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}

Secret::~Secret() { wipe(); }

std::string Secret::to_string() const { return value_.empty() ? "[empty]" : "[redacted]"; }

void Secret::wipe() noexcept {
  // OPENSSL_cleanse is not optimised away, unlike a plain memset before destruction.
  if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
  value_.clear();
}

bool constant_time_equals(std::string_view a, std::string_view b) noexcept {
  // Compare the length separately and still walk the longer input, so the time depends on
  // the lengths alone.
  const std::size_t length = a.size() > b.size() ? a.size() : b.size();
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < length; ++i) {
    const unsigned char left = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char right = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned char>(left ^ right);
  }
  return difference == 0;
}

}  // namespace mpesa
