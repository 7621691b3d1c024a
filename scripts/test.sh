#!/usr/bin/env bash
# Install, then run the whole test suite (unit, CLI, cocotb on Icarus + Verilator, synthesis).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
exec .venv/bin/python -m pytest -n 2 "$@"
