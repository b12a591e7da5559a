# Shared helpers for scripts/*.sh: starting and stopping local servers by PID.
# Servers bind 127.0.0.1 only; every process started here is stopped by its PID on exit.

STARTED_PIDS=()

stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  STARTED_PIDS=()
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_sim PORT LOGFILE: starts the built severa-sim and waits for its ready line.
start_sim() {
  local port=$1 log=$2
  "$TARGET_DIR/severa-sim" --listen "127.0.0.1:$port" >"$log" 2>&1 &
  STARTED_PIDS+=("$!")
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$log" 2>/dev/null; then return 0; fi
    if ! kill -0 "${STARTED_PIDS[-1]}" 2>/dev/null; then
      echo "severa-sim exited during start:" >&2; cat "$log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "severa-sim did not report ready within 10 s:" >&2; cat "$log" >&2
  return 1
}
