#!/usr/bin/env bash
# A project-local Python virtual environment from a pinned requirements file:
#
#   scripts/venv.sh DIR REQUIREMENTS
#
# Creates DIR (inside the repo) and installs REQUIREMENTS into it; a no-op while the file's
# hash is unchanged. One installer at a time per DIR (parallel callers wait on a lock).
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
VENV=$1
REQS=$2
STAMP="$VENV/.requirements.sha256"

reqs_hash() { sha256sum "$REQS" | cut -d' ' -f1; }
ready() { [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(reqs_hash)" ]; }

ready && exit 0
mkdir -p "$VENV"
exec 9>"$VENV/.install.lock"
if command -v flock >/dev/null; then flock 9; fi
ready && exit 0
echo "venv.sh: installing $(basename "$REQS") into $(basename "$VENV") (a minute or two)" >&2
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS" >&2
reqs_hash >"$STAMP"
