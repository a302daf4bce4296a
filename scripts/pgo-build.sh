#!/usr/bin/env bash
# A profile-guided (PGO) release build of edgesim: the same results, some 10-25 % less CPU time
# (README, "Performance"; docs/performance.md, "Profile-guided optimisation").
#
#  1. builds an instrumented binary (target/pgo/gen),
#  2. runs it on a training set: the bursty benchmark scenario, the fleet scenario under every
#     policy at 10 and 10,000 devices, every shipped scenario, every workload kind and rate
#     limiter, serial prefill, output tables, a figure set, a sweep and a plan (some 5 s),
#  3. merges the profiles (target/pgo/edgesim.profdata) and builds with them:
#     target/pgo/$PROFILE/use/release/edgesim (PROFILE: release, or bench).
#
# Needs `llvm-profdata` of the toolchain's LLVM: `rustup component add llvm-tools` (done here
# when rustup is there). About 2.5 minutes on 2 cores, without the output features by default;
# FEATURES="--features parquet,plots" (or any cargo feature flags; "--features default" for
# the default ones: polars makes that build far longer, README "Build times") to build others.
# The normal build's cache is left alone: RUSTFLAGS differ, so each build has its own target
# folder.
#
# Usage: scripts/pgo-build.sh            (prints the path of the built binary last:
#                                         target/pgo/release/use/release/edgesim)
# Benchmarks with a profile (criterion): record it under the bench profile, then build the
# benchmarks with it, in the same target folder:
#   PROFILE=bench scripts/pgo-build.sh
#   RUSTFLAGS="-Cprofile-use=$PWD/target/pgo/bench/edgesim.profdata -Cllvm-args=-pgo-warn-missing-function=false" \
#     CARGO_TARGET_DIR=target/pgo/bench/use cargo bench --no-default-features --bench scenario
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
features="${FEATURES:---no-default-features}"
# PROFILE=bench for criterion: a profile applies only to code built exactly as it was recorded,
# and `cargo bench` builds the crate with the dev-dependencies' features, so its symbols differ
# from a release build's. The release binary's profile left a `cargo bench` build unchanged (the
# bursty run: 936 M instructions, against 753 M for the release binary built with it); so for
# benchmarks the instrumented binary and the final build both come from `cargo bench --no-run`.
profile="${PROFILE:-release}"
case "$profile" in
  release) build=(cargo build --release --quiet) ;;
  bench) build=(cargo bench --no-run --quiet) ;;
  *) echo "pgo-build: PROFILE is release or bench, not $profile" >&2; exit 2 ;;
esac
pgo="${CARGO_TARGET_DIR:-$root/target}/pgo/$profile"

sysroot="$(rustc --print sysroot)"
host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [[ ! -x "$profdata" ]]; then
  if command -v rustup > /dev/null; then
    rustup component add llvm-tools >&2
  fi
  [[ -x "$profdata" ]] || {
    echo "pgo-build: needs $profdata: rustup component add llvm-tools" >&2
    exit 1
  }
fi

echo "== 1/3 instrumented build" >&2
rm -rf "$pgo/profiles"
mkdir -p "$pgo/profiles"
# shellcheck disable=SC2086
RUSTFLAGS="-Cprofile-generate=$pgo/profiles" CARGO_TARGET_DIR="$pgo/gen" \
  "${build[@]}" $features
gen="$pgo/gen/release/edgesim"

echo "== 2/3 training runs" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The `scenario` bench's settings (scripts/bursty-cachegrind.sh), a fifth of its day.
"$gen" run scenarios/bursty.toml --no-out --set duration_s=17280 --set workload.base_rate_rps=5.0 \
  --set workload.burst_rate_rps=40.0 --set devices.0.count=30 --set devices.1.count=20 > /dev/null
for policy in random weighted round_robin power_of_two load_aware; do
  for n in 10 10000; do
    rate=$(awk "BEGIN { printf \"%.6f\", 0.175 * $n }")
    "$gen" run scenarios/fleet.toml --no-out --set devices.0.count=$n --set workload.rate_rps=$rate \
      --set duration_s="$(awk "BEGIN { printf \"%.6f\", 100000 / (0.175 * $n) }")" \
      --set selection.kind=$policy > /dev/null
  done
done
for s in steady outage failures azure-trace; do
  "$gen" run "scenarios/$s.toml" --no-out > /dev/null
done
# Every workload kind and rate limiter, and serial prefill: code a profile never saw is laid
# out as cold, and ran up to 7 % slower than without PGO when the closed loop was left out.
"$gen" run scenarios/steady.toml --no-out --set duration_s=3000 --set 'workload={kind="closed",
  users=100, think_time_s=5.0, prompt_tokens={dist="uniform",min=10,max=300},
  output_tokens={dist="exponential",mean=150}}' > /dev/null
for limit in '{kind="token_bucket",refill_per_s=0.2,limit=10}' '{kind="fixed_window",window_s=60,limit=12}' \
  '{kind="concurrency",limit=3}' '{kind="sliding_window",unit="tokens",scope="cluster",window_s=60,limit=50000}'; do
  "$gen" run scenarios/bursty.toml --no-out --set "rate_limit=$limit" > /dev/null
done
"$gen" run tests/golden/serial-slots.toml --no-out > /dev/null
"$gen" run scenarios/bursty.toml --out "$work/run" > /dev/null 2>&1
"$gen" compare scenarios/bursty.toml --out "$work/compare" > /dev/null 2>&1
"$gen" sweep scenarios/sweeps/ci.toml --out "$work/sweep" > /dev/null 2>&1
"$gen" plan scenarios/plans/retail.toml --out "$work/plan" > /dev/null 2>&1

echo "== 3/3 optimised build" >&2
"$profdata" merge -o "$pgo/edgesim.profdata" "$pgo/profiles"
# Functions the training never ran (calibration, error paths) have no profile: not a problem.
# shellcheck disable=SC2086
RUSTFLAGS="-Cprofile-use=$pgo/edgesim.profdata -Cllvm-args=-pgo-warn-missing-function=false" \
  CARGO_TARGET_DIR="$pgo/use" "${build[@]}" $features
echo "$pgo/use/release/edgesim"
