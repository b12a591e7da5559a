#!/usr/bin/env bash
# Offline checks of the SAM template (part of the test command):
#   1. cfn-lint (SAM transform applied locally; from .venv, requirements-dev.txt),
#   2. checkov (security policies; its own .venv-checkov, requirements-checkov.txt, because it pins
#      an older boto3 than moto; --skip-download keeps it offline). Skipped checks are named, with
#      their reason, in the template's Metadata.
#   3. infra/check_template.py: the template against the code (env vars, TTL attribute, metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh .venv requirements-dev.txt
scripts/venv.sh .venv-checkov requirements-checkov.txt

echo "cfn-lint infra/template.yaml"
.venv/bin/cfn-lint infra/template.yaml

echo "checkov (cloudformation)"
.venv-checkov/bin/checkov -f infra/template.yaml --framework cloudformation --skip-download \
  --compact --quiet --hard-fail-on LOW

.venv/bin/python infra/check_template.py
