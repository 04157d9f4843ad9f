# Starts and stops a throwaway PostgreSQL cluster for tests and the demo. Source it after
# common.sh. PostgreSQL refuses to run as root, so when root the server runs as the
# postgres user that Debian's package creates.

pg_bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql: install postgresql-15"
  printf '%s\n' "$dir"
}

pg_run() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Prints a free TCP port on 127.0.0.1, starting the search at $1.
pg_free_port() {
  local port=${1:-55432}
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
  done
  printf '%s\n' "$port"
}

# pg_start DIR: creates a cluster in DIR when there is none, starts it on a free loopback
# port, creates the database mpesa, and sets PG_DIR, PG_PORT and PG_URL.
pg_start() {
  PG_DIR=$1
  local bin
  bin=$(pg_bin_dir)
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_DIR"
    chmod 700 "$PG_DIR"
  fi
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    pg_run "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 \
      || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed in $PG_DIR/data"; }
  fi
  PG_PORT=$(pg_free_port "${PG_PORT:-55432}")
  pg_run "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-on} -c max_connections=200" start >/dev/null \
    || { tail -n 20 "$PG_DIR/server.log" >&2; die "PostgreSQL did not start; its log is $PG_DIR/server.log"; }
  pg_run "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname = 'mpesa'" | grep -q 1 \
    || pg_run "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE mpesa" >/dev/null
  PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/mpesa"
  export PG_DIR PG_PORT PG_URL
  log "PostgreSQL running on 127.0.0.1:$PG_PORT (data in $PG_DIR/data)"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
  pg_run "$(pg_bin_dir)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}
