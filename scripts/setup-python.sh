#!/usr/bin/env bash
# Prepares .venv/ with what the Python pool's tests need (OpenVINO, ONNX Runtime, pytest, ruff,
# pycocotools). Idempotent: reinstalls only when a requirements file changed. Used by `npm test`
# and CI; the plugin itself sets up its own environment in its data folder at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
reqs=(python-runtime/requirements-openvino.txt python-runtime/requirements-onnx-python.txt
      python-runtime/requirements-dev.txt python-runtime/requirements-eval.txt)
stamp=.venv/.requirements.sha256
want=$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "setting up .venv for the Python pool tests (first run takes a minute or two)" >&2
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
args=()
for r in "${reqs[@]}"; do args+=(-r "$r"); done
.venv/bin/python -m pip install --quiet --disable-pip-version-check "${args[@]}"
echo "$want" > "$stamp"
