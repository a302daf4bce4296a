#!/usr/bin/env bash
# A plan's time and peak memory against its number of runs, fresh and resumed, for one or more
# binaries side by side, and whether their output folders are the same bytes.
# The plan is `scenarios/plans/retail.toml` evaluated on its whole grid (`--grid`: 1,841 plans)
# with REPS replications each, its traffic cut to `duration_s = 20` (a few dozen requests a run),
# so that the plan's own bookkeeping, not the simulation, is measured.
# Usage: scripts/plan-memory.sh [LABEL=BINARY ...]   (default: this checkout's release build)
# REPS="10 100 500" sets the replications (default 10 100: 18,410 and 184,100 runs); needs GNU
# time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -eq 0 ]]; then
  cargo build --release --quiet --no-default-features
  set -- "this=${CARGO_TARGET_DIR:-target}/release/edgesim"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
sed -e 's/^duration_s = .*/duration_s = 20/' \
  -e "s#\"\\.\\./\\.\\./calibration/#\"$PWD/calibration/#" \
  scenarios/plans/retail-traffic.toml > "$out/traffic.toml"
for reps in ${REPS:-10 100}; do
  sed -e "s/^replications = .*/replications = $reps/" \
    -e 's#^scenario = .*#scenario = "traffic.toml"#' \
    -e "s#\"\\.\\./\\.\\./calibration/#\"$PWD/calibration/#" \
    scenarios/plans/retail.toml > "$out/plan.toml"
  first=""
  for b in "$@"; do
    label=${b%%=*}; bin=${b#*=}
    dir="$out/$label"
    rm -rf "$dir"
    /usr/bin/time -o "$out/fresh" -f "%e s, %U s user, %M KB" "$bin" plan "$out/plan.toml" --grid --out "$dir" --threads 2 --csv > /dev/null 2>&1
    /usr/bin/time -o "$out/resumed" -f "%e s, %M KB" "$bin" plan "$out/plan.toml" --grid --out "$dir" --threads 2 --csv > /dev/null 2>&1
    runs=$(( $(wc -l < "$dir/runs.jsonl") - 1 ))
    echo "replications=$reps runs=$runs $label | fresh: $(cat "$out/fresh") | resumed: $(cat "$out/resumed")"
    if [[ -z $first ]]; then
      first=$dir
    else
      for f in "$first"/*; do
        n=$(basename "$f")
        [[ $n == manifest.json ]] && continue
        cmp -s "$f" "$dir/$n" || echo "replications=$reps $label: $n differs from the first binary's"
      done
    fi
  done
  for b in "$@"; do rm -rf "${out:?}/${b%%=*}"; done
done
