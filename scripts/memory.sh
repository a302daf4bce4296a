#!/usr/bin/env bash
# Peak memory against run length. The summary keeps fixed-size histograms and the request arena
# reuses slots, and the per-request table is streamed to disk in batches of 65,536 rows, so
# peak RSS must not grow with the number of requests, with or without output tables.
# Usage: scripts/memory.sh   (builds the release binary; needs GNU time at /usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/edgesim"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for tables in no yes; do
  for d in 21600 86400 345600; do
    if [[ $tables == yes ]]; then dest=(--out "$out/run" --bucket-s 600); else dest=(--no-out); fi
    /usr/bin/time -f "%M" -o "$out/rss" "$bin" run scenarios/bursty.toml --json "${dest[@]}" \
      --set duration_s=$d --set workload.base_rate_rps=5.0 --set workload.burst_rate_rps=40.0 \
      --set devices.0.count=30 --set devices.1.count=20 > "$out/summary.json"
    n=$(grep -m1 '"requests_total"' "$out/summary.json" | tr -dc 0-9)
    echo "tables=$tables duration_s=$d requests=$n peak_rss_kb=$(cat "$out/rss")"
  done
done
