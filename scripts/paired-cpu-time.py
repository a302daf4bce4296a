#!/usr/bin/env python3
"""Paired CPU-time comparison of edgesim binaries on scenarios/fleet.toml.

Runs each binary once per round, interleaved, for REPS rounds, and reports per binary the
fastest and the median CPU time (user + system) and the median of its per-round ratio to the
first binary. Pairing within a round cancels most of a shared machine's slow drifts; compare
ratios, not absolute times, across days. Poisson arrivals at half the fleet's capacity
(0.175 requests/s per board), as scripts/fleet-scaling.sh.

Usage: scripts/paired-cpu-time.py REQUESTS REPS DEVICES POLICY BINARY [BINARY ...]
  e.g. scripts/paired-cpu-time.py 300000 9 10000 random /tmp/before target/release/edgesim
"""
import os
import resource
import statistics
import subprocess
import sys

if len(sys.argv) < 6:
    sys.exit(__doc__)
requests, reps, devices = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
policy, binaries = sys.argv[4], sys.argv[5:]
scenario = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "fleet.toml")
rate = 0.175 * devices
duration = requests / rate
times = {b: [] for b in binaries}
for _ in range(reps):
    for b in binaries:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [b, "run", scenario, "--no-out", "--json",
             "--set", f"devices.0.count={devices}", "--set", f"workload.rate_rps={rate}",
             "--set", f"duration_s={duration}", "--set", f"selection.kind={policy}"],
            stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times[b].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
first = times[binaries[0]]
for b in binaries:
    t = times[b]
    ratio = statistics.median(x / y for x, y in zip(t, first))
    print(f"{policy} devices={devices} {b}: fastest {min(t):.3f} s, median {statistics.median(t):.3f} s, "
          f"median ratio to the first {ratio:.3f}")
