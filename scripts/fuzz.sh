#!/usr/bin/env bash
# Coverage-guided fuzzing (`make fuzz`) of the parsers that read outside input: cargo-fuzz
# (libFuzzer) targets in fuzz/, one at a time, each for FUZZ_SECONDS. See FUZZING.md.
#
#   scripts/fuzz.sh [TARGET...]    default: every target in fuzz/fuzz_targets/
#
#   FUZZ_SECONDS    seconds per target (default 600)
#   FUZZ_JOBS       libFuzzer -jobs/-workers (default 1; the machine is shared)
#   FUZZ_SANITIZER  cargo fuzz --sanitizer (default none: the code under test is safe Rust;
#                   `address` is about 2x slower)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=65536"
#
# Installs the pinned cargo-fuzz into .tools/ when missing. The instrumented build goes to
# fuzz/target; new corpus entries go to .run/fuzz/corpus/<target> (the committed seeds in
# fuzz/corpus/<target> are read, never written); crashes land in fuzz/artifacts/<target>/.
# A summary line per target (start time, executions, exec/s, coverage, corpus size at start
# and end, crashes) goes to .run/fuzz/summary.txt. Exits non-zero when any target crashed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

CARGO_FUZZ_VERSION=0.13.2
TOOLS="$ROOT/.tools"
CARGO_FUZZ="$TOOLS/bin/cargo-fuzz"
FUZZ_SECONDS="${FUZZ_SECONDS:-600}"
FUZZ_JOBS="${FUZZ_JOBS:-1}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}"
RUN_DIR="$ROOT/.run/fuzz"
# cargo fuzz builds nightly-only instrumentation; the stable toolchain allows it with this.
export RUSTC_BOOTSTRAP=1
# The instrumented build must not share (and invalidate) the main target dir.
unset CARGO_TARGET_DIR

installed_version() { "$CARGO_FUZZ" --version 2>/dev/null | awk '{print $2}'; }
if [ "$(installed_version)" != "$CARGO_FUZZ_VERSION" ]; then
  echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools (a minute or two)" >&2
  cargo install --quiet --locked --version "$CARGO_FUZZ_VERSION" --root "$TOOLS" cargo-fuzz
fi

if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(ls fuzz/fuzz_targets | sed -n 's/\.rs$//p' | sort)
fi

build_flags=(--release --debug-assertions --sanitizer "$FUZZ_SANITIZER" --target-dir "$ROOT/fuzz/target")
echo "==> cargo fuzz build (release, debug assertions, sanitizer $FUZZ_SANITIZER)"
(cd fuzz && "$CARGO_FUZZ" build "${build_flags[@]}" 2>&1 | tail -n 3) ||
  { echo "fuzz.sh: build failed" >&2; exit 1; }

mkdir -p "$RUN_DIR"
summary="$RUN_DIR/summary.txt"
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) ${FUZZ_SECONDS}s per target, jobs $FUZZ_JOBS, sanitizer $FUZZ_SANITIZER"
  echo "# $(uname -m), $(nproc) cores, $(rustc --version)"
} >"$summary"
failed=()
for target in "${TARGETS[@]}"; do
  corpus="$RUN_DIR/corpus/$target"
  log="$RUN_DIR/$target.log"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  dict=()
  case "$target" in
    soap_*) dict=("-dict=$ROOT/fuzz/dicts/xml.dict") ;;
    *_config|job_parse|toggl_parse) dict=("-dict=$ROOT/fuzz/dicts/json.dict") ;;
  esac
  echo "==> $target for ${FUZZ_SECONDS}s (log: ${log#"$ROOT"/})"
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  set +e
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  (cd fuzz && "$CARGO_FUZZ" run "${build_flags[@]}" "$target" "$corpus" "corpus/$target" -- \
    -max_total_time="$FUZZ_SECONDS" -jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS" \
    -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 "${dict[@]}" ${FUZZ_ARGS:-}) \
    >"$log" 2>&1
  status=$?
  set -e
  # With -jobs, libFuzzer writes each worker's output to fuzz-N.log in the working dir and
  # copies it into its own output when the worker ends, so the log already holds it.
  rm -f fuzz/fuzz-*.log
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
  last=$(grep -E '#[0-9]+.*(cov|ft):' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  inited=$(grep -m1 'INITED' "$log" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
  final=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "fuzz/artifacts/$target" -type f | wc -l)
  line="$target: started $started, status $status, ${runs} runs, ${speed} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${inited:-?} -> ${final:-?}, artifacts ${crashes}"
  echo "    $line"
  echo "$line" >>"$summary"
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -n 8 | sed 's/^/    /'
  fi
done

echo
cat "$summary"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes or errors in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
