#!/usr/bin/env bash
# Deterministic cost of the bursty benchmark scenario: the `scenario` bench's settings
# (scenarios/bursty.toml with rates x20 and devices x10, all metrics on) for a fifth of its
# day, run through `edgesim run --no-out` under `valgrind --tool=cachegrind`. Reports the
# events, the instructions and the mispredicted branches (cachegrind's simple predictor) of
# the whole run, and both per event. The counts are the same on every run, so two binaries
# compare from one run each; loading and start-up are included (3.5 M instructions, 0.4 % of
# the run).
# Usage: scripts/bursty-cachegrind.sh [LABEL=BINARY ...]
#   (default: this tree's release binary without default features)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }
if [[ $# -eq 0 ]]; then
  cargo build --release --no-default-features --quiet
  set -- "this=${CARGO_TARGET_DIR:-target}/release/edgesim"
fi
sets=(--set duration_s=17280 --set workload.base_rate_rps=5.0 --set workload.burst_rate_rps=40.0
  --set devices.0.count=30 --set devices.1.count=20)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "| binary | events | instructions | mispredicted branches | instructions / event | mispredicted / event |"
echo "|---|---|---|---|---|---|"
for spec in "$@"; do
  label=${spec%%=*}
  bin=${spec#*=}
  valgrind --tool=cachegrind --cache-sim=no --branch-sim=yes --cachegrind-out-file=/dev/null \
    "$bin" run scenarios/bursty.toml --no-out --json "${sets[@]}" > "$tmp/summary.json" 2> "$tmp/log"
  events=$(grep -m1 '"events"' "$tmp/summary.json" | tr -dc 0-9)
  read -r ir mis < <(awk '/I +refs:/ {i=$4} /Mispredicts:/ {m=$3}
    END {gsub(",","",i); gsub(",","",m); print i, m}' "$tmp/log")
  python3 -c "e, i, m = $events, $ir, $mis; print('| $label | {:,} | {:,} | {:,} | {:,.0f} | {:.2f} |'.format(e, i, m, i / e, m / e))"
done
