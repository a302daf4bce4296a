#!/usr/bin/env bash
# Peak memory against run length and fleet size. The summary keeps fixed-size histograms and
# the request arena reuses slots; the per-request table and the time series are streamed to
# disk in batches of 65,536 rows; so peak RSS must not grow with the number of requests, with or
# without output tables, and stays bounded at fleet scale. One allowance: with tables, up to 48
# chunks of 4,096 recorder calls may wait for the tables' thread (`metrics::Behind`), and a
# longer run fills more of them at some moment, so the peak with tables can rise by some
# 10 MiB from the shortest run to the longest (docs/performance.md, "Memory, measured again").
# Usage: scripts/memory.sh   (builds the release binary; needs GNU time at /usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/edgesim"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
measure() { # label, then edgesim arguments
  local label=$1
  shift
  /usr/bin/time -f "%M" -o "$out/rss" "$bin" run "$@" --json > "$out/summary.json"
  n=$(grep -m1 '"requests_total"' "$out/summary.json" | tr -dc 0-9)
  echo "$label requests=$n peak_rss_kb=$(cat "$out/rss")"
}
for tables in no yes; do
  for d in 21600 86400 345600; do
    if [[ $tables == yes ]]; then dest=(--out "$out/run" --bucket-s 600); else dest=(--no-out); fi
    measure "bursty x20 tables=$tables duration_s=$d" scenarios/bursty.toml "${dest[@]}" \
      --set duration_s=$d --set workload.base_rate_rps=5.0 --set workload.burst_rate_rps=40.0 \
      --set devices.0.count=30 --set devices.1.count=20
  done
done
# 10,000 devices, a million requests: every table (requests, devices, time series in 10 s
# buckets, gateway), then none.
measure "fleet 10000 devices tables=yes" scenarios/fleet.toml --out "$out/fleet" --set duration_s=571
measure "fleet 10000 devices tables=no" scenarios/fleet.toml --no-out --set duration_s=571
