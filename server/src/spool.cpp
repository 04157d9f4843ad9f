#include "mpesa/server/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "mpesa/config.hpp"

namespace mpesa::server {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (const unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size() + 16);
  for (const char c : text) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '\n') escaped += "\\n";
    else if (c == '\r') escaped += "\\r";
    else escaped += c;
  }
  return escaped;
}

std::optional<std::string> unescape(std::string_view text) {
  std::string plain;
  plain.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      plain += text[i];
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    if (text[i] == '\\') plain += '\\';
    else if (text[i] == 'n') plain += '\n';
    else if (text[i] == 'r') plain += '\r';
    else return std::nullopt;
  }
  return plain;
}

Error spool_error(std::string_view action, const std::filesystem::path& path, int error_number) {
  Error error;
  error.kind = ErrorKind::Storage;
  error.message = fmt::format("could not {} the callback spool {}: {}", action, path.string(),
                              std::strerror(error_number));
  return error;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Splits complete lines (those ending in a newline); returns each line with its end offset.
std::vector<std::pair<std::string_view, std::size_t>> complete_lines(std::string_view content) {
  std::vector<std::pair<std::string_view, std::size_t>> lines;
  std::size_t start = 0;
  while (true) {
    const auto end = content.find('\n', start);
    if (end == std::string_view::npos) break;
    lines.emplace_back(content.substr(start, end - start), end + 1);
    start = end + 1;
  }
  return lines;
}

void sync_directory(const std::filesystem::path& path) {
  const int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir < 0) return;
  ::fsync(dir);
  ::close(dir);
}

}  // namespace

std::string encode_spool_line(const SpooledEvent& event) {
  const auto received_us = duration_cast<microseconds>(event.received_at.time_since_epoch()).count();
  const auto payload = fmt::format("{} {} {}", received_us,
                                   event.source_address.empty() ? "-" : event.source_address,
                                   escape(event.raw_body));
  return fmt::format("{:016x} {}\n", fnv1a(payload), payload);
}

std::optional<SpooledEvent> decode_spool_line(std::string_view line) {
  if (line.size() < 18 || line[16] != ' ') return std::nullopt;
  std::uint64_t checksum = 0;
  const auto [hash_end, hash_error] = std::from_chars(line.data(), line.data() + 16, checksum, 16);
  if (hash_error != std::errc() || hash_end != line.data() + 16) return std::nullopt;
  const auto payload = line.substr(17);
  if (fnv1a(payload) != checksum) return std::nullopt;

  const auto first_space = payload.find(' ');
  const auto second_space = payload.find(' ', first_space + 1);
  if (first_space == std::string_view::npos || second_space == std::string_view::npos) return std::nullopt;
  std::int64_t received_us = 0;
  const auto time_text = payload.substr(0, first_space);
  if (std::from_chars(time_text.data(), time_text.data() + time_text.size(), received_us).ec != std::errc()) {
    return std::nullopt;
  }
  auto body = unescape(payload.substr(second_space + 1));
  if (!body) return std::nullopt;

  SpooledEvent event;
  event.received_at = TimePoint(duration_cast<TimePoint::duration>(microseconds(received_us)));
  const auto address = payload.substr(first_space + 1, second_space - first_space - 1);
  event.source_address = address == "-" ? "" : std::string(address);
  event.raw_body = std::move(*body);
  return event;
}

Spool::Spool(std::filesystem::path path) : path_(std::move(path)) {
  drop_torn_tail();
  open_for_append();
  const auto content = read_file(path_);
  std::uint64_t count = 0;
  for (const auto& [line, end] : complete_lines(content)) {
    if (decode_spool_line(line)) ++count;
  }
  backlog_ = count;
}

Spool::~Spool() {
  if (fd_ >= 0) ::close(fd_);
}

void Spool::drop_torn_tail() {
  std::error_code error;
  if (!std::filesystem::exists(path_, error)) return;
  const auto content = read_file(path_);
  const auto last_newline = content.rfind('\n');
  const auto keep = last_newline == std::string::npos ? 0 : last_newline + 1;
  if (keep == content.size()) return;
  std::filesystem::resize_file(path_, keep, error);
  if (error) {
    throw ConfigError(fmt::format("could not cut the torn last line of the callback spool {}: {}",
                                  path_.string(), error.message()));
  }
}

void Spool::open_for_append() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw ConfigError(fmt::format(
        "could not open the callback spool {} (MPESA_SPOOL_PATH): {}; choose a writable path",
        path_.string(), std::strerror(errno)));
  }
}

Result<void> Spool::append(const SpooledEvent& event) {
  const auto line = encode_spool_line(event);
  std::lock_guard lock(append_mutex_);
  if (!write_all(fd_, line)) return fail(spool_error("append to", path_, errno));
  if (::fdatasync(fd_) != 0) return fail(spool_error("sync", path_, errno));
  backlog_.fetch_add(1);
  return {};
}

Result<std::size_t> Spool::replay(const ApplyFunction& apply) {
  std::lock_guard replay_lock(replay_mutex_);
  if (backlog_.load() == 0) return 0;

  std::string snapshot;
  {
    std::lock_guard lock(append_mutex_);
    snapshot = read_file(path_);
  }
  std::size_t applied = 0;
  std::size_t applied_end = 0;
  std::optional<Error> first_error;
  for (const auto& [line, end] : complete_lines(snapshot)) {
    const auto event = decode_spool_line(line);
    if (!event) {
      corrupt_.fetch_add(1);
      applied_end = end;
      continue;
    }
    auto result = apply(*event);
    if (!result) {
      first_error = std::move(result.error());
      break;
    }
    ++applied;
    applied_end = end;
  }
  if (applied_end == 0) {
    if (first_error) return fail(std::move(*first_error));
    return applied;
  }

  // Rewrite the file with what was not applied plus what was appended meanwhile, then swap
  // it in atomically.
  std::lock_guard lock(append_mutex_);
  const auto current = read_file(path_);
  const auto remaining = std::string_view(current).substr(std::min(applied_end, current.size()));
  const auto temporary = path_.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(spool_error("rewrite", temporary, errno));
  const bool written = write_all(fd, remaining) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), path_.c_str()) != 0) {
    return fail(spool_error("rewrite", path_, errno));
  }
  sync_directory(path_);
  open_for_append();

  std::uint64_t count = 0;
  for (const auto& [line, end] : complete_lines(remaining)) {
    if (decode_spool_line(line)) ++count;
  }
  backlog_ = count;
  return applied;
}

}  // namespace mpesa::server
