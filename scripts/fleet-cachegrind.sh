#!/usr/bin/env bash
# Deterministic cost per request against fleet size: instructions and simulated cache misses
# per request of scenarios/fleet.toml (Poisson at half the fleet's capacity), from
# `valgrind --tool=cachegrind`. Unlike wall-clock time, these counts do not move with a shared
# machine's noise, so two binaries can be compared from one run each. The cost per request is
# marginal: a run of REQUESTS requests minus a run of 2,000 (loading, start-up and output
# cancel out). Simulated caches: 32 KiB L1 data, and as last level this machine's L2 (read
# from /sys/devices/system/cpu/cpu0/cache/index2; 512 KiB where it cannot be read, the L2 of
# the development machine when the first tables of docs/performance.md were counted, and the
# default until 2026-12-05), 64-byte lines; `L2_BYTES` sets another size (tables give it).
# An array that fits the real L2 but not the simulated one (or the reverse) is judged
# wrongly: check a layout change in CPU time too (scripts/paired-cpu-time.py). Prefetch
# instructions are not simulated: a prefetch hint's gain shows only in wall-clock time
# (scripts/fleet-scaling.sh). Mispredicted branches (conditional and indirect) come from
# cachegrind's simple branch predictor (`--branch-sim=yes`): a real CPU predicts better, but
# a branch on unpredictable data misses on both.
# With MAX_RATIO=x it also checks that the instructions per request at the last size are at
# most x times those at the first, for every binary and policy, and exits 1 if not: the work
# per request must not grow with the fleet (issue 13; `.ci/run` checks 10 against 10,000
# devices, every policy).
# Usage: [POLICIES="random load_aware"] [SIZES="10 1000 10000"] [L2_BYTES=1048576] \
#          [MAX_RATIO=1.5] scripts/fleet-cachegrind.sh [REQUESTS] [LABEL=BINARY ...]
#   (default 100,000 requests and this tree's release binary without default features)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }
requests="${1:-100000}"
shift || true
if [[ $# -eq 0 ]]; then
  cargo build --release --no-default-features --quiet
  set -- "this=${CARGO_TARGET_DIR:-target}/release/edgesim"
fi
small=2000
# The simulated L2: L2_BYTES, else this machine's (sysfs says e.g. "1024K"), else 512 KiB.
l2_bytes() {
  local dir=/sys/devices/system/cpu/cpu0/cache/index2 size
  if [[ "$(cat "$dir/level" 2> /dev/null)" == 2 ]] && size=$(cat "$dir/size" 2> /dev/null) &&
    [[ $size =~ ^([0-9]+)K$ ]]; then
    echo $((BASH_REMATCH[1] * 1024))
  else
    echo 524288
  fi
}
L2_BYTES=${L2_BYTES:-$(l2_bytes)}
echo "simulated L2: $L2_BYTES bytes" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# count BINARY DEVICES POLICY REQUESTS -> "instructions d1_misses ll_misses mispredicts"
count() {
  local rate duration
  rate=$(python3 -c "print(0.175 * $2)")
  duration=$(python3 -c "print($4 / (0.175 * $2))")
  valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes --D1=32768,8,64 --LL="$L2_BYTES",8,64 \
    --cachegrind-out-file=/dev/null "$1" run scenarios/fleet.toml --no-out --json \
    --set devices.0.count="$2" --set workload.rate_rps="$rate" --set duration_s="$duration" \
    --set selection.kind="$3" 2>&1 > /dev/null |
    awk '/I +refs:/ {i=$4} /D1 +misses:/ {d=$4} /LLd +misses:/ {l=$4} /Mispredicts:/ {b=$3}
      END {gsub(",","",i); gsub(",","",d); gsub(",","",l); gsub(",","",b); print i, d, l, b}'
}

echo "| binary | policy | devices | instructions / request | L1d misses / request | L2 misses / request | mispredicted branches / request |"
echo "|---|---|---|---|---|---|---|"
for n in ${SIZES:-10 1000 10000}; do
  for policy in ${POLICIES:-random load_aware}; do
    for spec in "$@"; do
      label=${spec%%=*}
      bin=${spec#*=}
      count "$bin" "$n" "$policy" "$requests" > "$tmp/big" &
      count "$bin" "$n" "$policy" "$small" > "$tmp/small" &
      wait
      read -r bi bd bl bb < "$tmp/big"
      read -r si sd sl sb < "$tmp/small"
      python3 -c "
r = $requests - $small
i = ($bi - $si) / r
print('| $label | $policy | $n | {:,.0f} | {:.1f} | {:.1f} | {:.1f} |'.format(i, ($bd - $sd) / r, ($bl - $sl) / r, ($bb - $sb) / r))
print('$label $policy $n {:.0f}'.format(i), file=open('$tmp/instructions', 'a'))"
    done
  done
done

# With MAX_RATIO: the work per request must not grow with the fleet beyond it (issue 13):
# for each binary and policy, instructions per request at the last size over the first.
if [[ -n "${MAX_RATIO:-}" ]]; then
  python3 - "$tmp/instructions" "$MAX_RATIO" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1])]
limit = float(sys.argv[2])
first, last, bad = {}, {}, []
for label, policy, n, per_request in rows:
    key = (label, policy)
    first.setdefault(key, (int(n), int(per_request)))
    last[key] = (int(n), int(per_request))
for key, (n0, i0) in first.items():
    n1, i1 = last[key]
    ratio = i1 / i0
    verdict = "ok" if ratio <= limit else f"more than {limit}x"
    print(f"{key[0]} {key[1]}: {i0} instructions per request at {n0} devices, {i1} at {n1}: {ratio:.2f}x {verdict}")
    if ratio > limit:
        bad.append(key)
sys.exit(1 if bad else 0)
PY
fi
