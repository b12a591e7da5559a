#!/usr/bin/env bash
# The local full stack (issue 6): `make demo` runs `scripts/demo-stack.sh demo`, `make dev` runs
# `scripts/demo-stack.sh dev`.
#
#   demo  start moto, severa-sim (demo organisation), a receiver for outbound deliveries, the
#         template's queues/table/secrets, the functions under `cargo lambda watch` and the SQS
#         event source emulation; play the scenario; print the report; stop everything.
#         Exit 0 when every expectation held, 1 when one failed, 2 when the stack could not start.
#   dev   the same stack, left running until Ctrl-C; endpoints in .run/dev/endpoints.env.
#
# Needs only the Rust toolchain and Python 3: the Python tools (moto, cargo-lambda) are installed
# from pinned versions into the project-local .venv. Everything binds 127.0.0.1; every process
# started is stopped by its PID / process group, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-demo}
case "$mode" in
  demo|dev) shift || true ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Python tools (moto, cargo-lambda; pinned in requirements-dev.txt) in .venv"
scripts/moto.sh venv
export PATH="$PWD/.venv/bin:$PATH"

# One build with the package selection cargo-lambda uses: `cargo lambda watch` starts each
# function with `cargo run --bin <function>` at the workspace root, which resolves features for
# the whole workspace. Building the same way (no -p) makes those runs find fresh binaries
# instead of compiling the dependency graph a second time with another feature union.
say "Building devstack and the functions (first time on 2 cores: about 10 minutes; then seconds)"
cargo build --locked --bin devstack --bin webhook --bin worker --bin scheduler

exec "${CARGO_TARGET_DIR:-target}/debug/devstack" "$mode" "$@"
