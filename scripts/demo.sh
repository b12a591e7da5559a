#!/usr/bin/env bash
# The README's demo command (`make demo`): builds, starts severa-sim with the demo organisation on
# 127.0.0.1 and drives it with bridgectl, printing what Severa answered and what it received.
# Exits non-zero when any expectation fails; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
trap stop_started EXIT

TARGET_DIR="${CARGO_TARGET_DIR:-target}/debug"
RUN_DIR=.run/demo
mkdir -p "$RUN_DIR"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "DEMO FAILED: $*" >&2; exit 1; }

say "Building severa-sim and bridgectl"
cargo build --locked -q -p severa-sim -p bridgectl

port=$(free_port)
say "Starting severa-sim (demo organisation 'Demo Oy') on 127.0.0.1:$port"
start_sim "$port" "$RUN_DIR/severa-sim.log"
export SEVERA_ENDPOINT="http://127.0.0.1:$port/webservice/S3/API.svc"
export SEVERA_API_KEY=severa-sim-demo-key
admin="http://127.0.0.1:$port/__admin"
bctl() { "$TARGET_DIR/bridgectl" "$@"; }
json() { python3 -c "import json,sys; j=json.load(sys.stdin); $1"; }

say "bridgectl severa ping"
bctl severa ping --text

say "Users of the organisation (IUser.GetAllUsers)"
bctl severa call IUser.GetAllUsers --param includeInactive=true \
  | json 'print("\n".join("  %-4s %-20s active=%s" % (u["Code"], u["FirstName"] + " " + u["LastName"], u["IsActive"]) for u in j))'

say "Bob logs 2.5 h on 'Webshop renewal / Development' (IHourEntry.AddNewHourEntry)"
bctl severa call IHourEntry.AddNewHourEntry --param-xml hourEntryInfo=@examples/hour-entry.xml >"$RUN_DIR/added.json"
guid=$(json 'print(j["GUID"])' <"$RUN_DIR/added.json")
json 'print("  created %s: %s h on case %r for %s" % (j["GUID"], j["Quantity"], j["CaseName"], j["UserFirstName"]))' <"$RUN_DIR/added.json"

say "Read back by GUID (IHourEntry.GetHourEntryByGUID)"
bctl severa call IHourEntry.GetHourEntryByGUID --param hourEntryGUID="$guid" >"$RUN_DIR/read.json"
json 'assert j["Description"] == "Checkout: payment provider callback", j; print("  found:", j["Description"], "-", j["EventDate"])' <"$RUN_DIR/read.json" \
  || fail "the hour entry was not read back"

expect_fault() { # expect_fault TYPE -- bridgectl args...
  local type=$1; shift 2
  set +e; bctl "$@" >/dev/null 2>"$RUN_DIR/fault.err"; local code=$?; set -e
  [ "$code" = 2 ] || fail "expected exit 2 with $type, got $code: $(cat "$RUN_DIR/fault.err")"
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['error']==sys.argv[2], j; print('  rejected: %s (retryable=%s): %s' % (j['error'], j['retryable'], j['message']))" "$RUN_DIR/fault.err" "$type" \
    || fail "expected $type"
}

say "Severa's rules, enforced: 1000 hours in one entry"
sed 's|<e:Quantity>2.5</e:Quantity>|<e:Quantity>1000</e:Quantity>|' examples/hour-entry.xml >"$RUN_DIR/too-many.xml"
expect_fault ValidationException -- severa call IHourEntry.AddNewHourEntry --param-xml hourEntryInfo=@"$RUN_DIR/too-many.xml"

say "Severa's rules, enforced: Carol is not a member of that phase"
sed 's|sim-user-bob|sim-user-carol|' examples/hour-entry.xml >"$RUN_DIR/not-member.xml"
expect_fault ValidationException -- severa call IHourEntry.AddNewHourEntry --param-xml hourEntryInfo=@"$RUN_DIR/not-member.xml"

say "A regenerated API key: the old one stops working"
newkey=$(curl -fsS -X POST -H 'content-type: application/json' -d '{}' "$admin/keys/regenerate" | json 'print(j["api_key"])')
expect_fault AuthenticationFailureException -- severa ping
SEVERA_API_KEY="$newkey" bctl severa ping --text

say "What Severa received (simulator request log)"
curl -fsS "$admin/requests" | json 'print("\n".join("  %3s %-45s -> %s" % (r["seq"], r["interface"] + "." + r["operation"], r["fault"] or "ok") for r in j))'

say "Demo finished: every expectation held"
