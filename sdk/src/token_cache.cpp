#include "detail/token_cache.hpp"

#include <algorithm>
#include <map>
#include <string>

#include <openssl/evp.h>

namespace mpesa::detail {
namespace {

// The registry key contains a digest of the secret, not the secret itself.
std::string credential_key(std::string_view base_url, std::string_view consumer_key,
                           const Secret& consumer_secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(consumer_secret.reveal().data(), consumer_secret.reveal().size(), digest, &length,
             EVP_sha256(), nullptr);
  std::string key;
  key.append(base_url).append(1, '\n').append(consumer_key).append(1, '\n');
  key.append(reinterpret_cast<const char*>(digest), length);
  return key;
}

}  // namespace

Result<Secret> TokenCache::token(const Clock& clock, std::chrono::seconds margin,
                                 const Fetch& fetch) {
  // The lock is held across the fetch: that is what makes the refresh single-flight.
  const std::lock_guard lock(mutex_);
  if (!token_.empty() && clock.now_steady() < refresh_at_) return token_;

  auto fetched = fetch();
  if (!fetched) return fail(std::move(fetched.error()));
  const std::chrono::seconds life{fetched->expires_in_seconds};
  // With a life of at most twice the margin, refreshing at life - margin would refetch almost
  // at once, so such a token is refreshed at half its life instead.
  const auto usable = life > margin * 2 ? life - margin : life / 2;
  token_ = std::move(fetched->access_token);
  refresh_at_ = clock.now_steady() + usable;
  return token_;
}

void TokenCache::invalidate(const Secret& rejected) {
  const std::lock_guard lock(mutex_);
  if (constant_time_equals(token_.reveal(), rejected.reveal())) token_ = Secret();
}

std::shared_ptr<TokenCache> shared_token_cache(std::string_view base_url,
                                               std::string_view consumer_key,
                                               const Secret& consumer_secret) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<TokenCache>> registry;
  const std::string key = credential_key(base_url, consumer_key, consumer_secret);
  const std::lock_guard lock(registry_mutex);
  std::erase_if(registry, [](const auto& entry) { return entry.second.expired(); });
  auto& slot = registry[key];
  auto cache = slot.lock();
  if (!cache) {
    cache = std::make_shared<TokenCache>();
    slot = cache;
  }
  return cache;
}

}  // namespace mpesa::detail
