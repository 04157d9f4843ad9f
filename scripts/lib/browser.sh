# Prepares the browser test (tests/browser/): Debian's chromium, node and npm, and
# playwright-core from the npm registry into tests/browser/node_modules. Source it after
# common.sh.

# Installs what the browser test needs, and nothing when all of it is present.
prepare_browser_test() {
  local root
  root=$(repo_root)
  ensure_packages chromium
  # NodeSource's nodejs ships npm inside it and conflicts with Debian's npm package, so
  # Debian's node and npm are installed only when no node is there at all.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    ensure_packages nodejs npm
  fi
  local modules=$root/tests/browser/node_modules
  if [ ! -d "$modules/playwright-core" ] || [ "$root/tests/browser/package-lock.json" -nt "$modules" ]; then
    log "installing playwright-core into tests/browser/node_modules"
    (cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$modules"
  fi
}
