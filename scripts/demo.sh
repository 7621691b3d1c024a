#!/usr/bin/env bash
# Main job: install, then generate -> simulate -> synthesize -> compare on the default design.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
exec .venv/bin/latte-rtl flow -o build/flow "$@"
