#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "mpesa/error.hpp"
#include "mpesa/server/payment_store.hpp"

namespace mpesa::server {

/// A callback kept on local disk while the database is unreachable.
struct SpooledEvent {
  std::string raw_body;
  std::string source_address;
  TimePoint received_at;
};

/// An append-only file of callbacks that could not be stored in PostgreSQL.
///
/// Each event is one line: a checksum, the receive time in microseconds, the source address
/// and the body with backslash, newline and carriage return escaped. append() returns only
/// after fdatasync, so an acknowledged callback survives a crash. A crash in the middle of an
/// append leaves a torn last line without its newline. That event was never acknowledged, so
/// opening the spool cuts it off. Lines whose checksum does not match are skipped and counted.
/// Thread-safe.
class Spool {
 public:
  /// Opens or creates the spool file (mode 0600). Throws ConfigError when the file or its
  /// directory cannot be opened, because a server without a working spool loses callbacks.
  explicit Spool(std::filesystem::path path);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  /// Appends one event and syncs it to disk. Errors: Storage.
  [[nodiscard]] Result<void> append(const SpooledEvent& event);

  /// Calls `apply` for each spooled event in order, stopping at the first error, and removes
  /// the events applied. Events appended meanwhile stay for the next call. Returns the number
  /// applied; the error of `apply` when none could be.
  using ApplyFunction = std::function<Result<void>(const SpooledEvent&)>;
  [[nodiscard]] Result<std::size_t> replay(const ApplyFunction& apply);

  /// Events waiting in the file.
  [[nodiscard]] std::uint64_t backlog() const noexcept { return backlog_.load(); }
  /// Lines skipped because their checksum did not match, since the spool was opened.
  [[nodiscard]] std::uint64_t corrupt_lines() const noexcept { return corrupt_.load(); }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void open_for_append();
  void drop_torn_tail();

  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex append_mutex_;
  std::mutex replay_mutex_;
  std::atomic<std::uint64_t> backlog_{0};
  std::atomic<std::uint64_t> corrupt_{0};
};

/// Encodes one event as a spool line, newline included.
[[nodiscard]] std::string encode_spool_line(const SpooledEvent& event);
/// Decodes one spool line without its newline; nothing when it is torn or corrupt.
[[nodiscard]] std::optional<SpooledEvent> decode_spool_line(std::string_view line);

}  // namespace mpesa::server
