#!/usr/bin/env bash
# Prepares <repo>/.venv with the pool's runtimes and test tools (idempotent: a venv whose
# requirements have not changed is left as it is). Tests find it at .venv/bin/python or $NVR_PYTHON.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="${NVR_VENV:-$repo/.venv}"
python="${PYTHON:-python3}"
reqs=("$here/requirements-openvino.txt" "$here/requirements-onnx-python.txt" "$here/requirements-dev.txt")
stamp="$venv/.nvr-ci-requirements.sha256"
want="$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "ci-setup: $venv is up to date"
  exit 0
fi
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q $(printf -- '-r %s ' "${reqs[@]}")
echo "$want" > "$stamp"
echo "ci-setup: $venv ready ($("$venv/bin/python" --version))"
