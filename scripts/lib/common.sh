# Shared helpers for the scripts in scripts/. Source it; it defines functions only.

# The Debian packages needed to build and test. Keep in step with the README.
MPESA_BUILD_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  libcurl4-openssl-dev libssl-dev libsimdjson-dev libcpp-httplib-dev libpqxx-dev
  doctest-dev libspdlog-dev libfmt-dev libcli11-dev
)
MPESA_RUNTIME_PACKAGES=(postgresql-15 postgresql-client-15)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

# Runs a command as root: directly when already root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "'$*' needs root and sudo is not installed: run this script as root"
  fi
}

# Installs the packages that are not installed yet; does nothing when all are present.
ensure_packages() {
  local missing=()
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Configures and builds into $1 (default build/) with extra CMake arguments after it.
build_tree() {
  local dir=${1:-build}
  shift || true
  local root
  root=$(repo_root)
  cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
  cmake --build "$root/$dir" -j "${MPESA_BUILD_JOBS:-2}"
}
