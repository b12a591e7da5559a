#!/usr/bin/env bash
# moto (local AWS emulator) for tests and demos. Everything stays inside the repo (.venv) and on
# 127.0.0.1; the caller stops the server by the PID this script prints, never by name.
#
#   scripts/moto.sh venv                        create/refresh .venv from requirements-dev.txt
#                                               (a no-op when the requirements hash is unchanged)
#   scripts/moto.sh start PORT LOGFILE [OWNER]  start moto_server on 127.0.0.1:PORT in the
#                                               background, wait until it answers, print its PID.
#                                               With OWNER (a PID), a watchdog stops the server
#                                               when OWNER exits, so a killed test run cannot leak it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv"
REQS="$ROOT/requirements-dev.txt"

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# True while PID runs. A zombie counts as gone: after this script exits, the server is
# re-parented, and an init that does not reap would otherwise keep `kill -0` succeeding.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  case "$state" in Z*|"") return 1 ;; esac
}

cmd_venv() {
  "$ROOT/scripts/venv.sh" "$VENV" "$REQS"
}

cmd_start() {
  [ $# -ge 2 ] || usage
  local port=$1 log=$2 owner=${3:-}
  [ -x "$VENV/bin/moto_server" ] || { echo "moto.sh: .venv missing; run scripts/moto.sh venv" >&2; exit 1; }
  mkdir -p "$(dirname "$log")"
  # moto_server's application, with DynamoDB's conditional writes made atomic (see the script).
  "$VENV/bin/python" "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$port" </dev/null >"$log" 2>&1 &
  local pid=$!
  if [ -n "$owner" ]; then
    # Watchdog: ends with the server; stops the server when the owner is gone.
    ( while alive "$owner" && alive "$pid"; do sleep 1; done
      kill "$pid" 2>/dev/null || true ) </dev/null >/dev/null 2>&1 &
  fi
  local deadline=$((SECONDS + 20))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! alive "$pid"; then
      echo "moto.sh: moto_server exited during start:" >&2; cat "$log" >&2; exit 1
    fi
    if "$VENV/bin/python" - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/data.json", timeout=1).read()
PY
      echo "$pid"
      return 0
    fi
    sleep 0.1
  done
  echo "moto.sh: moto_server did not answer on 127.0.0.1:$port within 20 s:" >&2
  cat "$log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
}

case "${1:-}" in
  venv) shift; cmd_venv "$@" ;;
  start) shift; cmd_start "$@" ;;
  *) usage ;;
esac
