# Shared setup of the end-to-end tests: a database of the test's own on the PostgreSQL that
# scripts/test started, `mpesa-stk serve` instances, and SQL helpers. ctest runs each test
# script with MPESA_STK, MPESA_E2E_LOAD and MPESA_REPO_ROOT set (see CMakeLists.txt).
set -euo pipefail

# Exit status that ctest reports as "skipped" (SKIP_RETURN_CODE).
readonly E2E_SKIP=77
readonly E2E_SECRET=e2e-callback-secret

e2e_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
e2e_fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# e2e_setup NAME: creates database e2e_NAME (dropping an old one) and a work folder, and
# stops every server the test started when the script exits.
e2e_setup() {
  local name=$1
  if [ -z "${MPESA_TEST_DATABASE_URL:-}" ]; then
    echo "skipped: MPESA_TEST_DATABASE_URL is not set; run the suite through scripts/test" >&2
    exit "$E2E_SKIP"
  fi
  : "${MPESA_STK:?set by ctest}" "${MPESA_E2E_LOAD:?set by ctest}" "${MPESA_REPO_ROOT:?set by ctest}"
  E2E_ADMIN_URL=${MPESA_TEST_DATABASE_URL%/*}/postgres
  E2E_DB_URL=${MPESA_TEST_DATABASE_URL%/*}/e2e_$name
  psql_admin -c "DROP DATABASE IF EXISTS e2e_$name WITH (FORCE)" -c "CREATE DATABASE e2e_$name"
  E2E_WORK=$(mktemp -d "/tmp/mpesa-e2e-$name.XXXXXX")
  E2E_PIDS=()
  trap e2e_cleanup EXIT
  "$MPESA_STK" migrate --database-url "$E2E_DB_URL" >"$E2E_WORK/migrate.log" 2>&1 \
    || { cat "$E2E_WORK/migrate.log" >&2; e2e_fail "mpesa-stk migrate failed"; }
}

e2e_cleanup() {
  local status=$?
  # In a subshell, so that a failure to start PostgreSQL still lets the servers be stopped.
  if [ "${E2E_PG_STOPPED:-0}" = 1 ]; then
    (start_postgres) || echo "PostgreSQL could not be started again; later tests will fail" >&2
  fi
  local pid
  for pid in "${E2E_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${E2E_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ "$status" -ne "$E2E_SKIP" ]; then
    local log
    for log in "$E2E_WORK"/serve-*.log; do
      [ -f "$log" ] || continue
      echo "--- last lines of $(basename "$log")" >&2
      tail -n 30 "$log" >&2
      if grep -q 'ERROR: .*Sanitizer' "$log"; then
        echo "--- sanitizer reports in $(basename "$log")" >&2
        sed -n '/ERROR: .*Sanitizer/,/SUMMARY: /p' "$log" >&2
      fi
    done
  fi
  rm -rf "$E2E_WORK"
}

psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql "$E2E_ADMIN_URL" -v ON_ERROR_STOP=1 -qtA "$@" >/dev/null; }
# sql QUERY: prints the result of QUERY in the test's database, unaligned, no headers.
sql() { PGOPTIONS="-c client_min_messages=warning" psql "$E2E_DB_URL" -v ON_ERROR_STOP=1 -qtA -c "$1"; }

# seed_payments FIRST LAST: pending payments ws_CO_FIRST..ws_CO_LAST (amount 1).
seed_payments() {
  PGOPTIONS="-c client_min_messages=warning" psql "$E2E_DB_URL" -v ON_ERROR_STOP=1 -qtA \
    -v first="$1" -v last="$2" -f "$MPESA_REPO_ROOT/bench/seed_payments.sql" >/dev/null
}

# free_port START: prints a free TCP port on 127.0.0.1 at or above START.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
  done
  printf '%s\n' "$port"
}

# wait_for_port PORT SECONDS: waits until something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  local port=$1 limit=$2 tries=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    sleep 0.1
    tries=$((tries + 1))
    [ "$tries" -lt $((limit * 10)) ] || return 1
  done
}

# start_serve LABEL CALLBACK_PORT API_PORT [VAR=VALUE...]: starts `mpesa-stk serve` with every
# callback control on (secret, allow list of loopback, rate limit high enough for the load)
# and its spool in the work folder, waits for the callback port, and sets SERVE_PID.
start_serve() {
  local label=$1 callback_port=$2 api_port=$3
  shift 3
  env MPESA_DATABASE_URL="$E2E_DB_URL" \
    MPESA_CALLBACK_LISTEN="127.0.0.1:$callback_port" \
    MPESA_API_LISTEN="127.0.0.1:$api_port" \
    MPESA_CALLBACK_SECRET="$E2E_SECRET" \
    MPESA_ALLOWED_IPS="127.0.0.1/32" \
    MPESA_CALLBACK_RATE_LIMIT=1000000 \
    MPESA_CALLBACK_RATE_BURST=1000000 \
    MPESA_SPOOL_PATH="$E2E_WORK/spool-$label.log" \
    "$@" "$MPESA_STK" serve >>"$E2E_WORK/serve-$label.log" 2>&1 &
  SERVE_PID=$!
  E2E_PIDS+=("$SERVE_PID")
  wait_for_port "$callback_port" 60 || e2e_fail "serve ($label) did not listen on $callback_port; see its log"
}

# callback_path: the callback path with the secret in the query string.
callback_path() { printf '/mpesa/callback?secret=%s\n' "$E2E_SECRET"; }

# expect_equal WHAT ACTUAL EXPECTED
expect_equal() {
  if [ "$2" != "$3" ]; then
    e2e_fail "$1: expected $3, found $2"
  fi
  e2e_log "ok: $1 = $2"
}

# wait_for_sql QUERY EXPECTED SECONDS: polls until QUERY prints EXPECTED; prints the last value.
wait_for_sql() {
  local query=$1 expected=$2 limit=$3 tries=0 value
  while true; do
    value=$(sql "$query")
    [ "$value" = "$expected" ] && break
    tries=$((tries + 1))
    [ "$tries" -lt $((limit * 5)) ] || break
    sleep 0.2
  done
  printf '%s\n' "$value"
}

# stop_serves: stops every running serve with SIGTERM and fails the test unless each exits
# with status 0, so that a sanitizer report at exit (a leak, say) is not lost.
stop_serves() {
  local pid status
  for pid in "${E2E_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 0 ] || e2e_fail "serve (pid $pid) exited with status $status after SIGTERM"
  done
  E2E_PIDS=()
}

# acked_missing ACKED_FILE: prints how many acknowledged ids have no applied success in the
# database (the acknowledged set compared with the rows).
acked_missing() {
  PGOPTIONS="-c client_min_messages=warning" psql "$E2E_DB_URL" -v ON_ERROR_STOP=1 -qtA \
    -c "CREATE TEMP TABLE acked (id text PRIMARY KEY)" \
    -c "\\copy acked FROM '$1'" \
    -c "SELECT count(*) FROM acked a
          LEFT JOIN stk_payments p ON p.checkout_request_id = a.id AND p.status = 'succeeded'
         WHERE p.id IS NULL"
}

# pg_ctl_run ARGS...: runs pg_ctl on the test cluster (as the postgres user when root).
pg_ctl_run() {
  : "${MPESA_TEST_PG_BIN:?set by scripts/test}" "${MPESA_TEST_PG_DATA:?set by scripts/test}"
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$MPESA_TEST_PG_BIN/pg_ctl" -D "$MPESA_TEST_PG_DATA" "$@"
  else
    "$MPESA_TEST_PG_BIN/pg_ctl" -D "$MPESA_TEST_PG_DATA" "$@"
  fi
}

# stop_postgres: stops the shared test cluster; the EXIT trap starts it again if the test
# ends before start_postgres does.
stop_postgres() {
  # postmaster.opts keeps the command line of the running server (port, socket folder,
  # settings) and pg_ctl start does not read it, so pass its options back.
  E2E_PG_OPTIONS=$(cut -d' ' -f2- "$MPESA_TEST_PG_DATA/postmaster.opts" | sed -E 's/"-D" "[^"]*" ?//')
  E2E_PG_STOPPED=1
  pg_ctl_run -m fast -w stop >/dev/null
}

# start_postgres: starts the cluster again on its old port. On a shared machine another
# cluster may have taken the port meanwhile, so it retries for a while.
start_postgres() {
  local tries=0
  until pg_ctl_run -w -t 60 -l "$MPESA_TEST_PG_DATA/../server.log" -o "$E2E_PG_OPTIONS" start >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || e2e_fail "PostgreSQL did not start again; see $MPESA_TEST_PG_DATA/../server.log"
    sleep 1
  done
  E2E_PG_STOPPED=0
}
