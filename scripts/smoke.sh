#!/usr/bin/env bash
# End-to-end smoke: the real severa-sim binary on 127.0.0.1, driven by the real bridgectl binary.
# Usage: scripts/smoke.sh BIN_DIR RUN_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
trap stop_started EXIT

TARGET_DIR=$1
RUN_DIR=$2
mkdir -p "$RUN_DIR"
port=$(free_port)
start_sim "$port" "$RUN_DIR/severa-sim.log"
export SEVERA_ENDPOINT="http://127.0.0.1:$port/webservice/S3/API.svc"
export SEVERA_API_KEY=severa-sim-demo-key
bridgectl="$TARGET_DIR/bridgectl"
checks=0

expect() { # expect DESCRIPTION PYTHON_CONDITION_ON_j FILE
  local what=$1 cond=$2 file=$3
  if python3 - "$file" "$cond" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
  then checks=$((checks + 1)); echo "ok   $what"
  else echo "FAIL $what"; echo "---- output:"; cat "$file"; exit 1
  fi
}

"$bridgectl" severa ping >"$RUN_DIR/ping.json"
expect "ping reports version, schema version and quota" \
  "j['version'] and j['entity_schema_version'] is not None and j['quota']['limit'] == 100000" "$RUN_DIR/ping.json"

"$bridgectl" severa call IInvoiceStatus.GetAllInvoiceStatuses >"$RUN_DIR/statuses.json"
expect "GetAllInvoiceStatuses lists the seeded statuses" \
  "isinstance(j, list) and len(j) >= 3 and all('Name' in s for s in j)" "$RUN_DIR/statuses.json"

"$bridgectl" severa call GetUserByCode --param userCode=AA >"$RUN_DIR/alice.json"
expect "GetUserByCode with the contract's parameter userCode finds Alice" \
  "j['FirstName'] == 'Alice' and j['Code'] == 'AA'" "$RUN_DIR/alice.json"

set +e
"$bridgectl" severa call GetUserByCode --param code=AA >"$RUN_DIR/refused.out" 2>"$RUN_DIR/refused.err"
code=$?
set -e
if [ "$code" = 1 ] && grep -q "userCode (string); unknown parameter 'code'" "$RUN_DIR/refused.err"; then
  checks=$((checks + 1)); echo "ok   a parameter name the contract does not have is refused before sending"
else
  echo "FAIL call with 'code' should be refused (exit 1), got $code:"; cat "$RUN_DIR/refused.err"; exit 1
fi

"$bridgectl" severa ops >"$RUN_DIR/ops.txt"
if [ "$(wc -l <"$RUN_DIR/ops.txt")" = 256 ] && grep -qx "IUser.GetUserByCode(userCode: string) -> User" "$RUN_DIR/ops.txt"; then
  checks=$((checks + 1)); echo "ok   severa ops lists the contract's 256 operations with their signatures"
else
  echo "FAIL severa ops:"; head -5 "$RUN_DIR/ops.txt"; exit 1
fi

set +e
SEVERA_API_KEY=wrong-key "$bridgectl" severa ping >"$RUN_DIR/bad.out" 2>"$RUN_DIR/bad.err"
code=$?
set -e
[ "$code" = 2 ] || { echo "FAIL wrong key should exit 2, got $code"; cat "$RUN_DIR/bad.err"; exit 1; }
expect "a wrong key exits 2 with a typed, non-retryable error" \
  "j['error'] == 'AuthenticationFailureException' and j['retryable'] is False" "$RUN_DIR/bad.err"
if grep -q "wrong-key" "$RUN_DIR/bad.err" "$RUN_DIR/bad.out"; then echo "FAIL the key leaked into output"; exit 1; fi
checks=$((checks + 1)); echo "ok   the key never appears in the output"

echo "smoke: $checks passed, 0 failed"
