#!/usr/bin/env bash
# Runs an edgesim sweep across the nodes of a Slurm cluster as a job array: array task i runs
# shard i/N of the sweep into its own folder; a dependent job merges the shards into the same
# tables as a single-machine run (byte for byte).
#
#   sbatch --array=0-7 examples/slurm/sweep-array.sh scenarios/sweeps/policies.toml
#   # when all tasks are done (or: sbatch --dependency=afterok:<jobid> ... merge):
#   examples/slurm/sweep-array.sh scenarios/sweeps/policies.toml merge
#
# A task that is killed (pre-emption, time limit) resumes where it stopped when resubmitted:
# each shard folder keeps a journal of finished runs.
#
#SBATCH --job-name=edgesim-sweep
#SBATCH --cpus-per-task=8
#SBATCH --time=01:00:00
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail

sweep="${1:?usage: sweep-array.sh SWEEP.toml [merge]}"
name="$(basename "$sweep" .toml)"
out="${EDGESIM_OUT:-output/sweep-$name}"
edgesim="${EDGESIM:-edgesim}"   # the installed binary (cargo install --path .), or a path to it

if [[ "${2:-}" == "merge" ]]; then
  shards=("$out"/shard-*)
  exec "$edgesim" sweep merge --csv --check --out "$out/merged" "${shards[@]}"
fi

: "${SLURM_ARRAY_TASK_ID:?run under sbatch --array=0-(N-1)}"
: "${SLURM_ARRAY_TASK_COUNT:?run under sbatch --array=0-(N-1)}"
i="$SLURM_ARRAY_TASK_ID"
n="$SLURM_ARRAY_TASK_COUNT"
exec "$edgesim" sweep "$sweep" --shard "$i/$n" --threads "${SLURM_CPUS_PER_TASK:-1}" \
  --out "$out/shard-$i"
