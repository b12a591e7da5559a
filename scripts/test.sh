#!/usr/bin/env bash
# The README's test command (`make test`): formatting, lints, every test, an end-to-end
# smoke of the built binaries, and the demo scenario (whose last step checks every request
# Severa received against its service contract). Installs nothing outside the project; starts what it needs on
# 127.0.0.1 and stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
trap stop_started EXIT

export CARGO_TERM_COLOR=never
# A cold run gains nothing from incremental caches, which would add several GB of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}/debug"
RUN_DIR=.run/test
mkdir -p "$RUN_DIR"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "infra/template.yaml: cfn-lint, checkov, template vs code"
scripts/lint-infra.sh

step "Python tools into .venv (pinned) and moto on 127.0.0.1"
scripts/moto.sh venv
moto_port=$(free_port)
moto_pid=$(scripts/moto.sh start "$moto_port" "$RUN_DIR/moto.log" $$)
STARTED_PIDS+=("$moto_pid")
export MOTO_ENDPOINT="http://127.0.0.1:$moto_port"

step "cargo test (unit, property, fuzz-target smoke, transport, client <-> simulator, AWS adapters on moto, CLI)"
cargo test --workspace --locked

step "end-to-end: bridgectl against the severa-sim binary"
# `cargo test` built both binaries (their packages have integration tests); building them again
# with another package selection would recompile the dependency graph with other features.
for bin in severa-sim bridgectl; do
  [ -x "$TARGET_DIR/$bin" ] || { echo "missing $TARGET_DIR/$bin after cargo test" >&2; exit 1; }
done
scripts/smoke.sh "$TARGET_DIR" "$RUN_DIR"

step "demo scenario (make demo): the functions under cargo lambda, ending with Severa's request log checked against its contract"
# The test moto is stopped first: the demo starts and stops its own stack.
stop_started
scripts/demo-stack.sh demo

echo
echo "all checks passed"
