#!/usr/bin/env bash
# Requests per second against fleet size, for every selection policy: scenarios/fleet.toml at
# 10, 100, 1,000 and 10,000 devices, or the SIZES given (Poisson at half the fleet's capacity),
# the same number of requests at every size. Several binaries (e.g. two versions) run side by
# side, interleaved, so that the machine's drift hits them alike. With REPS=k in the environment every point is
# run k times per binary, interleaved, and the fastest run is reported (a shared machine's
# noise only ever slows a run down).
# Usage: [REPS=k] [SIZES="10 1000 100000"] [POLICIES="random load_aware"] \
#          scripts/fleet-scaling.sh [REQUESTS] [LABEL=BINARY ...]
#   (default 1,000,000 requests, one run per point, 10 to 10,000 devices, every policy, and
#   this tree's release binary without default features)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-1000000}"
shift || true
if [[ $# -eq 0 ]]; then
  cargo build --release --no-default-features --quiet
  set -- "this=${CARGO_TARGET_DIR:-target}/release/edgesim"
fi
reps="${REPS:-1}"
echo "| binary | policy | devices | requests | seconds | M requests/s |"
echo "|---|---|---|---|---|---|"
for n in ${SIZES:-10 100 1000 10000}; do
  rate=$(python3 -c "print(0.175 * $n)")
  duration=$(python3 -c "print($requests / (0.175 * $n))")
  for policy in ${POLICIES:-random weighted load_aware round_robin power_of_two}; do
    declare -A best=()
    for _ in $(seq "$reps"); do
      for spec in "$@"; do
        label=${spec%%=*}
        bin=${spec#*=}
        start=$(date +%s.%N)
        json=$("$bin" run scenarios/fleet.toml --no-out --json --set devices.0.count=$n \
          --set workload.rate_rps=$rate --set duration_s=$duration --set selection.kind=$policy)
        end=$(date +%s.%N)
        total=$(grep -m1 '"requests_total"' <<<"$json" | tr -dc 0-9)
        s=$(python3 -c "print($end - $start)")
        if [[ -z "${best[$label]:-}" ]] || python3 -c "import sys; sys.exit(not $s < ${best[$label]})"; then
          best[$label]=$s
        fi
      done
    done
    for spec in "$@"; do
      label=${spec%%=*}
      python3 -c "s = ${best[$label]}; print('| $label | $policy | $n | {:,} | {:.2f} | {:.3f} |'.format($total, s, $total / s / 1e6))"
    done
    unset best
  done
done
