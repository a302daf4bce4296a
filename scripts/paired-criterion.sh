#!/usr/bin/env bash
# Two or more criterion benchmark binaries, side by side: ROUNDS rounds, each running every
# binary once (the order alternating from round to round, so that neither always runs first
# on a shared machine) with `--bench FILTER`, and printing, per binary and benchmark, criterion's
# mean and what the whole process cost the kernel: system time and minor page faults (GNU
# time's %S and %R). Environment such as EDGESIM_FLEET_SIZES passes through to the binaries.
# Build a binary with `cargo bench --no-default-features --bench NAME --no-run` (it prints the
# executable's path) and copy it aside before changing the code.
# Usage: scripts/paired-criterion.sh ROUNDS FILTER LABEL=BINARY LABEL=BINARY ...
#   e.g. EDGESIM_FLEET_SIZES=10000 scripts/paired-criterion.sh 5 'fleet/random/10000$' \
#          before=/tmp/fleet-before after=/tmp/fleet-after
set -euo pipefail
if [[ $# -lt 3 ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
rounds=$1
filter=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| round | binary | benchmark | mean [ms] | system [s] | page faults |"
echo "|---|---|---|---|---|---|"
for ((round = 1; round <= rounds; round++)); do
  specs=("$@")
  if ((round % 2 == 0)); then
    # The other order in even rounds.
    for ((i = 0, j = ${#specs[@]} - 1; i < j; i++, j--)); do
      t=${specs[i]}
      specs[i]=${specs[j]}
      specs[j]=$t
    done
  fi
  for spec in "${specs[@]}"; do
    label=${spec%%=*}
    bin=${spec#*=}
    /usr/bin/time -o "$tmp/time" -f "%S %R" "$bin" --bench "$filter" > "$tmp/out" 2>&1
    read -r sys faults < "$tmp/time"
    # criterion prints "NAME time: [low mean high]", the name on a line of its own when long;
    # keep the first `time:` after each name (the next one is the change since its last run).
    awk -v r="$round" -v l="$label" -v s="$sys" -v f="$faults" '
      /^[a-z_]+\/[^ ]+/ { name = $1; seen = 0 }
      /time: *\[/ && name != "" && !seen {
        match($0, /\[[^]]*\]/); split(substr($0, RSTART + 1, RLENGTH - 2), v, " ")
        unit = v[4]; mean = v[3]
        if (unit == "s") mean *= 1000
        else if (unit == "µs" || unit == "us") mean /= 1000
        else if (unit == "ns") mean /= 1000000
        else if (unit == "ps") mean /= 1000000000
        printf "| %d | %s | %s | %.5g | %s | %s |\n", r, l, name, mean, s, f
        seen = 1
      }' "$tmp/out"
  done
done
