#!/usr/bin/env bash
# Peak memory against run length: the summary keeps fixed-size histograms and the request
# arena reuses slots, so peak RSS must not grow with the number of finished requests.
# Usage: scripts/memory.sh   (builds the release binary; needs GNU time at /usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/edgesim"
for d in 21600 86400 345600; do
  /usr/bin/time -f "%M" -o /tmp/edgesim-rss "$bin" run scenarios/bursty.toml --no-out --json \
    --set duration_s=$d --set workload.base_rate_rps=5.0 --set workload.burst_rate_rps=40.0 \
    --set devices.0.count=30 --set devices.1.count=20 > /tmp/edgesim-mem.json
  n=$(grep -m1 '"requests_total"' /tmp/edgesim-mem.json | tr -dc 0-9)
  echo "duration_s=$d requests=$n peak_rss_kb=$(cat /tmp/edgesim-rss)"
done
