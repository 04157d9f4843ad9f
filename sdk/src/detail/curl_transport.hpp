#pragma once

// The one place that talks to libcurl. No curl type or code leaves this header's functions.

#include <chrono>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace mpesa::detail {

/// One HTTP request to Daraja.
struct HttpRequest {
  std::string_view method;  // "GET" or "POST"
  std::string url;
  /// Full header lines ("Authorization: Bearer ..."). They may hold secrets: never log them.
  std::vector<std::string> headers;
  std::string_view body;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{30000};
  /// A CA file; empty means the system store. TLS verification is always on.
  std::string ca_bundle;
};

/// An HTTP response of any status.
struct HttpResponse {
  int status = 0;
  std::string body;
};

/// How a request failed below HTTP, which decides whether resending it is safe.
enum class TransportFailureKind {
  /// No byte of the request left the process (DNS failure, or a refused or timed-out connect).
  NotSent,
  /// The TLS handshake or the certificate check failed; no request byte was sent.
  Tls,
  /// The request was sent, or may have been, but no complete response arrived in time.
  TimedOutAfterSending,
  /// The connection broke after the request was sent, or may have been.
  BrokenAfterSending,
};

struct TransportFailure {
  TransportFailureKind kind = TransportFailureKind::NotSent;
  /// libcurl's description, without the URL's query or any header.
  std::string message;
};

/// Performs `request` on this thread's long-lived curl handle, so connections and TLS
/// sessions are reused between calls. Thread-safe: each thread has its own handle.
[[nodiscard]] std::expected<HttpResponse, TransportFailure> perform(const HttpRequest& request);

}  // namespace mpesa::detail
