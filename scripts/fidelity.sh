#!/usr/bin/env bash
# The fidelity figures of docs/model.md: calibrate SmolLM2-135M on this machine, then replay
# scenarios/fidelity.toml for real and simulated at light, moderate (RUNS times) and heavy load.
# Prints one markdown row per run: utilisation, p50/p95 errors of TTFT and end-to-end latency,
# and the KS statistics. Needs the `llm` feature's build tools (cmake, libclang-dev) and the
# test model (scripts/fetch-test-model.sh). Run on a quiet machine: the real side is timed.
# Usage: scripts/fidelity.sh [RUNS]   (default 3 moderate-load runs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
cargo build --release --features llm --quiet
bin="${CARGO_TARGET_DIR:-target}/release/edgesim"
model="$(scripts/fetch-test-model.sh)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$bin" calibrate --model "$model" --model-name smollm2-135m --name "this machine" \
  --idle-watts 20 --busy-watts 45 --out "$out/profile.toml" 2>&1 | tail -1
row() {
  local label=$1
  shift
  "$bin" fidelity --model "$model" --profile "$out/profile.toml" \
    --scenario scenarios/fidelity.toml --out "$out/v" --json "$@" 2>/dev/null |
    python3 -c '
import json, sys
r = json.load(sys.stdin)
e = lambda k, q: "%+.1f %%" % r[k]["error_pct"][q]
u = r["utilisation"]
print("| %s | %.1f %% / %.1f %% | %s / %s | %s / %s | %.2f, %.2f |" % (
    sys.argv[1], 100 * u["real"], 100 * u["sim"], e("ttft_ms", "p50"), e("ttft_ms", "p95"),
    e("e2e_ms", "p50"), e("e2e_ms", "p95"), r["ks"]["ttft"], r["ks"]["e2e"]))
' "$label"
}
echo "| setting | utilisation real / sim | TTFT p50 / p95 error | end-to-end p50 / p95 error | KS (TTFT, e2e) |"
echo "|---|---|---|---|---|"
row "light: 0.25 req/s, 1 slot, 12 requests" --set workload.rate_rps=0.25 --parallel 1 --requests 12
for i in $(seq "$runs"); do
  row "moderate: 0.8 req/s, 2 slots, 50 requests (run $i)" --parallel 2 --requests 50
done
row "heavy: 1.4 req/s, 4 slots, 60 requests" --set workload.rate_rps=1.4 --parallel 4 --requests 60
