#!/usr/bin/env bash
# Install, lint (ruff), then run the whole test suite (unit, CLI, cocotb on Icarus + Verilator, synthesis).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
.venv/bin/ruff check .   # lint first: a dirty tree fails before the long suite
exec .venv/bin/python -m pytest -n 2 "$@"
