#pragma once

// The OAuth token cache shared by every StkClient of one process that uses the same
// credentials, because a new Daraja token may invalidate the previous one.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

#include "mpesa/clock.hpp"
#include "mpesa/messages.hpp"
#include "mpesa/secret.hpp"

namespace mpesa::detail {

class TokenCache {
 public:
  using Fetch = std::function<Result<TokenResponse>()>;

  /// Returns the cached token, or fetches one with `fetch` when none is cached or less than
  /// `margin` of its life remains. One fetch at a time: other callers wait for it and then
  /// use its token. A failed fetch caches nothing.
  [[nodiscard]] Result<Secret> token(const Clock& clock, std::chrono::seconds margin,
                                     const Fetch& fetch);

  /// Forgets `rejected` if it is still the cached token, so the next call fetches a new one.
  /// A token another thread has already replaced stays.
  void invalidate(const Secret& rejected);

 private:
  std::mutex mutex_;
  Secret token_;
  std::chrono::steady_clock::time_point refresh_at_{};
};

/// The cache for one credential: the same object for the same base URL, consumer key and
/// secret while any client keeps a reference to it.
[[nodiscard]] std::shared_ptr<TokenCache> shared_token_cache(std::string_view base_url,
                                                             std::string_view consumer_key,
                                                             const Secret& consumer_secret);

}  // namespace mpesa::detail
