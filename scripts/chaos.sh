#!/usr/bin/env bash
# `make chaos`: the full chaos run (2 000 jobs; CHAOS_JOBS overrides) against moto and
# severa-sim. `make test` runs the same test with 300 jobs. Starts moto on 127.0.0.1 and stops
# it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
trap stop_started EXIT
RUN_DIR=.run/chaos
mkdir -p "$RUN_DIR"
scripts/moto.sh venv
port=$(free_port)
STARTED_PIDS+=("$(scripts/moto.sh start "$port" "$RUN_DIR/moto.log" $$)")
export MOTO_ENDPOINT="http://127.0.0.1:$port"
CHAOS_JOBS="${CHAOS_JOBS:-2000}" cargo test --locked -p bridge --test chaos -- --nocapture
