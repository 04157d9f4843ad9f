# Helpers for scripts/bench and the end-to-end tests: waiting for a port, running wrk and
# reading its figures. Source it after scripts/lib/common.sh.

# wait_for_port PORT [SECONDS]: waits until something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  local port=$1 limit=${2:-30} waited=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    sleep 0.2
    waited=$((waited + 1))
    [ "$waited" -lt $((limit * 5)) ] || return 1
  done
}

# free_port START: prints a free TCP port on 127.0.0.1 at or above START.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
  done
  printf '%s\n' "$port"
}

# peak_rss_kib PID: prints VmHWM of PID in KiB (the peak resident set size so far).
peak_rss_kib() {
  awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# rss_kib PID: prints VmRSS of PID in KiB.
rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# wrk_figure FILE NAME: prints one figure from a saved wrk --latency output: rps, p50, p99
# (latencies in ms), requests, errors (socket errors plus non-2xx responses).
wrk_figure() {
  local file=$1 name=$2
  case "$name" in
    rps) awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' "$file" ;;
    requests) awk '/requests in/ { print $1 }' "$file" ;;
    p50) awk '$1 == "50%" { print $2 }' "$file" | to_ms ;;
    p99) awk '$1 == "99%" { print $2 }' "$file" | to_ms ;;
    errors)
      awk '/Non-2xx or 3xx responses:/ { n += $NF }
           /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
           END { print n + 0 }' "$file" ;;
  esac
}

# to_ms: converts wrk's latency spelling (812.00us, 12.34ms, 1.20s) read from stdin to ms.
to_ms() {
  awk '{
    value = $1
    if (value ~ /us$/) { sub(/us$/, "", value); printf "%.2f\n", value / 1000 }
    else if (value ~ /ms$/) { sub(/ms$/, "", value); printf "%.2f\n", value }
    else if (value ~ /s$/) { sub(/s$/, "", value); printf "%.2f\n", value * 1000 }
    else if (value ~ /m$/) { sub(/m$/, "", value); printf "%.2f\n", value * 60000 }
  }'
}

# stop_group PID: stops the process group that PID leads (started with setsid), politely
# first, and waits for it.
stop_group() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  local waited=0
  while kill -0 -- "-$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
