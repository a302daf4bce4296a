#!/usr/bin/env bash
# Differential check of two binaries: the JSON summaries of a grid of runs must be identical
# byte for byte. For a change meant to keep outputs (a refactor, a faster data structure),
# run it against the binary before the change. The grid covers what the shipped scenarios do
# not: serial and parallel prefill, a context slope, 1 to 128 slots near saturation (where
# batches open while dozens of streams decode), the failure scenario under two policies and
# with a fifth of 1,000 boards down under every policy, the bursty fleet of unequal boards
# under every policy and every shipped scenario. Prints each run that differs; exits 1 if
# any does. With TABLES=1 every run also writes its output folder (`--out ... --csv`: the
# request, device, time-series and gateway tables, the summary, the resolved scenario), and
# each file must be identical too (Parquet files are compared as well; a binary without the
# `parquet` feature writes none).
# Usage: [TABLES=1] scripts/differential.sh BINARY_BEFORE BINARY_AFTER
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { echo "usage: $0 BINARY_BEFORE BINARY_AFTER" >&2; exit 2; }
a=$1
b=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Variants of the AGX Orin profile: every model with a context slope, and with parallel
# prefill as well (the shipped profile prefills serially).
agx=calibration/jetson-agx-orin.toml
awk '{print} /^\[\[models\]\]/ {print "decode_ms_per_1k_context = 7.5"}' "$agx" > "$tmp/agx-ctx.toml"
awk '{print} /^\[\[models\]\]/ {print "prefill_mode = \"parallel\""; print "decode_ms_per_1k_context = 7.5"}' \
  "$agx" > "$tmp/agx-par-ctx.toml"

runs=0
differ=0
compare() {
  local ra rb files=same
  runs=$((runs + 1))
  if [[ "${TABLES:-0}" == 1 ]]; then
    # Both write to the same path in turn, so that paths printed or stored are the same.
    rm -rf "$tmp/out" "$tmp/a" "$tmp/b"
    ra=$("$a" run "$@" --out "$tmp/out" --csv --json 2>&1 || true)
    [[ -d "$tmp/out" ]] && mv "$tmp/out" "$tmp/a"
    rb=$("$b" run "$@" --out "$tmp/out" --csv --json 2>&1 || true)
    [[ -d "$tmp/out" ]] && mv "$tmp/out" "$tmp/b"
    if [[ -d "$tmp/a" || -d "$tmp/b" ]] && ! diff -r -q "$tmp/a" "$tmp/b" > "$tmp/diff" 2>&1; then
      files="$(tr '\n' ' ' < "$tmp/diff")"
    fi
  else
    ra=$("$a" run "$@" --no-out --json 2>&1 || true)
    rb=$("$b" run "$@" --no-out --json 2>&1 || true)
  fi
  if [[ "$ra" != "$rb" || "$files" != same ]]; then
    differ=$((differ + 1))
    echo "differs: $*"
    [[ "$files" == same ]] || echo "  files: $files"
  fi
}

for profile in "$PWD/$agx" "$tmp/agx-ctx.toml" "$tmp/agx-par-ctx.toml" "$PWD/calibration/jetson-orin-nano.toml"; do
  for slots in 1 4 16 32 64 128; do
    for model in qwen2.5-0.5b qwen2.5-1.5b; do
      for rate in 2 6; do
        compare scenarios/fleet.toml --set devices.0.count=1 --set "devices.0.profile=\"$profile\"" \
          --set devices.0.slots=$slots --set devices.0.queue_capacity=64 \
          --set "devices.0.model=\"$model\"" --set workload.rate_rps=$rate \
          --set duration_s=15000 --set rate_limit.limit=10000000
      done
    done
  done
done
for policy in random load_aware; do
  for slots in 4 32 64; do
    for profile in "$PWD/$agx" "$tmp/agx-par-ctx.toml"; do
      compare scenarios/failures.toml --set selection.kind=$policy \
        --set "devices.0.profile=\"$profile\"" --set "devices.1.profile=\"$profile\"" \
        --set 'devices.0.model="qwen2.5-0.5b"' --set 'devices.1.model="qwen2.5-0.5b"' \
        --set devices.0.slots=$slots --set devices.1.slots=$slots --set workload.rate_rps=6
    done
  done
done
# Fleet scale: from 512 devices on the simulator prefetches (hints that must change nothing),
# so every policy and limit runs there too, and the failure scenario with 600 boards.
for policy in random weighted load_aware round_robin power_of_two; do
  for limit in 'kind = "sliding_window", window_s = 60, limit = 12' \
    'kind = "token_bucket", limit = 2, refill_per_s = 0.1' \
    'kind = "fixed_window", window_s = 60, limit = 12' 'kind = "concurrency", limit = 3' \
    'kind = "none"'; do
    compare scenarios/fleet.toml --set devices.0.count=1000 --set workload.rate_rps=250 \
      --set duration_s=60 --set selection.kind=$policy --set "rate_limit={ $limit }"
  done
done
for policy in random load_aware power_of_two; do
  compare scenarios/failures.toml --set selection.kind=$policy --set devices.0.count=400 \
    --set devices.1.count=200 --set workload.rate_rps=100 --set duration_s=1800
done
# A fifth of a fleet down at any time (boards failing every minute or so): the picks among
# the devices up, under every policy.
for policy in random weighted load_aware round_robin power_of_two; do
  compare scenarios/failures.toml --set devices.0.count=1000 --set workload.rate_rps=250 \
    --set duration_s=400 --set selection.kind=$policy \
    --set 'devices.0.random_outages={ mtbf_s = 60, mttr_s = 15, sigma = 1.0 }'
done
# A fleet of unequal boards under every other policy (weighted selection's picks depend on
# the weights only where they differ).
for policy in random weighted round_robin power_of_two; do
  compare scenarios/bursty.toml --set selection.kind=$policy
done
for s in scenarios/*.toml; do
  case $s in
    *fleet*) compare "$s" --set devices.0.count=50 --set workload.rate_rps=8.75 --set duration_s=300 ;;
    *) compare "$s" ;;
  esac
done
echo "runs $runs, differ $differ"
[[ $differ -eq 0 ]]
