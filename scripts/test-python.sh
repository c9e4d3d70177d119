#!/usr/bin/env bash
# The Python pool's checks: ruff and pytest, with the .venv that setup-python.sh prepares.
set -euo pipefail
cd "$(dirname "$0")/.."
cd python-runtime
../.venv/bin/python -m ruff check .
../.venv/bin/python -m ruff format --check .
../.venv/bin/python -m pytest -q
