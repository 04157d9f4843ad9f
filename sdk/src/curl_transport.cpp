#include "detail/curl_transport.hpp"

#include <memory>
#include <mutex>

#include <curl/curl.h>

namespace mpesa::detail {
namespace {

void initialise_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One easy handle per thread, kept for the thread's life. curl_easy_reset() between requests
// clears options but keeps the connection cache and TLS session cache, which is the point.
class ThreadHandle {
 public:
  ThreadHandle() {
    initialise_curl_once();
    handle_ = curl_easy_init();
  }
  ~ThreadHandle() {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }
  ThreadHandle(const ThreadHandle&) = delete;
  ThreadHandle& operator=(const ThreadHandle&) = delete;
  [[nodiscard]] CURL* get() const noexcept { return handle_; }

 private:
  CURL* handle_ = nullptr;
};

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
};

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

void set_options(CURL* curl, const HttpRequest& request, HeaderList& headers,
                 std::string& response_body) {
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  // Verification is not configurable: a test uses its own CA bundle, never "insecure".
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_bundle.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_bundle.c_str());

  for (const std::string& line : request.headers) {
    headers.list = curl_slist_append(headers.list, line.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response_body);
}

bool is_tls_failure(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

TransportFailureKind failure_kind(CURL* curl, CURLcode code) {
  if (code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY ||
      code == CURLE_COULDNT_CONNECT) {
    return TransportFailureKind::NotSent;
  }
  if (is_tls_failure(code)) return TransportFailureKind::Tls;
  // REQUEST_SIZE counts the request bytes written to the socket. Zero means the failure
  // happened before sending (a connect timeout, say), so a resend cannot duplicate anything.
  long sent_bytes = 0;
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &sent_bytes);
  if (sent_bytes == 0) return TransportFailureKind::NotSent;
  return code == CURLE_OPERATION_TIMEDOUT ? TransportFailureKind::TimedOutAfterSending
                                          : TransportFailureKind::BrokenAfterSending;
}

}  // namespace

std::expected<HttpResponse, TransportFailure> perform(const HttpRequest& request) {
  thread_local ThreadHandle handle;
  CURL* curl = handle.get();
  if (curl == nullptr) {
    return std::unexpected(TransportFailure{TransportFailureKind::NotSent,
                                            "libcurl could not create a handle"});
  }
  curl_easy_reset(curl);

  HeaderList headers;
  HttpResponse response;
  set_options(curl, request, headers, response.body);
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    return std::unexpected(TransportFailure{failure_kind(curl, code), curl_easy_strerror(code)});
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace mpesa::detail
