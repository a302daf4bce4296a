#!/usr/bin/env bash
# A sweep's time and peak memory against its number of runs, fresh and resumed, for one or
# more binaries side by side, and whether their output files are the same bytes.
# The runs are of `scenarios/steady.toml` at `duration_s = 1` (about 30 short requests each),
# so the sweep's own bookkeeping, not the simulation, is measured: SHAPE=replications (the
# default) makes them replications of at most 10 points, SHAPE=points one run at each of as
# many points (values of the arrival rate).
# Usage: scripts/sweep-memory.sh [LABEL=BINARY ...]   (default: this checkout's release build)
# SIZES="10000 100000" sets the run counts (default 10000 100000 1000000); needs GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -eq 0 ]]; then
  cargo build --release --quiet --no-default-features
  set -- "this=${CARGO_TARGET_DIR:-target}/release/edgesim"
fi
scenario="$PWD/scenarios/steady.toml"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for runs in ${SIZES:-10000 100000 1000000}; do
  if [[ ${SHAPE:-replications} == points ]]; then
    points=$runs
    reps=1
  else
    # Up to 100,000 replications a point; more runs as points of the arrival rate.
    points=$(( (runs + 99999) / 100000 ))
    reps=$(( runs / points ))
  fi
  rates=$(awk -v n="$points" 'BEGIN { for (i = 1; i <= n; i++) printf "%s%g", (i > 1 ? "," : ""), i / 100 }')
  cat > "$out/s.toml" <<TOML
name = "memory"
scenario = "$scenario"
replications = $reps

[[axes]]
key = "workload.rate_rps"
values = [$rates]

[[axes]]
key = "duration_s"
values = [1]
TOML
  first=""
  for b in "$@"; do
    label=${b%%=*}; bin=${b#*=}
    dir="$out/$label"
    rm -rf "$dir"
    /usr/bin/time -o "$out/fresh" -f "%e s, %U s user, %M KB" "$bin" sweep "$out/s.toml" --out "$dir" --threads 2 --csv > /dev/null 2>&1
    /usr/bin/time -o "$out/resumed" -f "%e s, %M KB" "$bin" sweep "$out/s.toml" --out "$dir" --threads 2 --csv > /dev/null 2>&1
    echo "runs=$runs points=$points $label | fresh: $(cat "$out/fresh") | resumed: $(cat "$out/resumed")"
    if [[ -z $first ]]; then
      first=$dir
    else
      for f in runs.jsonl runs.csv points.csv; do
        cmp -s "$first/$f" "$dir/$f" || echo "runs=$runs $label: $f differs from the first binary's"
      done
    fi
  done
  for b in "$@"; do rm -rf "$out/${b%%=*}"; done
done
