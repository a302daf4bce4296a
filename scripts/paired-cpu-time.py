#!/usr/bin/env python3
"""Paired CPU-time comparison of edgesim binaries, or fleet sizes, on scenarios/fleet.toml.

Runs each binary at each size once per round, interleaved (in reverse order every other
round, since 2026-12-03), for REPS rounds, and reports per
(binary, size) the fastest and the median CPU time (user + system) and the median of its
per-round ratio to the first (the first binary at the first size). Pairing within a round cancels most of a shared machine's slow drifts; compare
ratios, not absolute times, across days. Poisson arrivals at half the fleet's capacity
(0.175 requests/s per board), as scripts/fleet-scaling.sh.

Usage: scripts/paired-cpu-time.py REQUESTS REPS DEVICES[,DEVICES...] POLICY BINARY [BINARY ...]
  e.g. scripts/paired-cpu-time.py 300000 9 10000 random /tmp/before target/release/edgesim
       scripts/paired-cpu-time.py 500000 7 10,10000 random target/release/edgesim
         (the second: how much slower a request is at 10,000 devices than at 10)
"""
import os
import resource
import statistics
import subprocess
import sys

if len(sys.argv) < 6:
    sys.exit(__doc__)
requests, reps = int(sys.argv[1]), int(sys.argv[2])
sizes = [int(d) for d in sys.argv[3].split(",")]
policy, binaries = sys.argv[4], sys.argv[5:]
scenario = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "fleet.toml")
configs = [(b, d) for d in sizes for b in binaries]
times = {c: [] for c in configs}
for i in range(reps):
    # Alternating order: in a fixed order the second binary was once measured 5-7 % slower
    # where alternating rounds found it 17 % faster (docs/performance.md, 2026-12-03).
    for b, devices in configs if i % 2 == 0 else configs[::-1]:
        rate = 0.175 * devices
        duration = requests / rate
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [b, "run", scenario, "--no-out", "--json",
             "--set", f"devices.0.count={devices}", "--set", f"workload.rate_rps={rate}",
             "--set", f"duration_s={duration}", "--set", f"selection.kind={policy}"],
            stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times[(b, devices)].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
first = times[configs[0]]
for b, devices in configs:
    t = times[(b, devices)]
    ratio = statistics.median(x / y for x, y in zip(t, first))
    print(f"{policy} devices={devices} {b}: fastest {min(t):.3f} s, median {statistics.median(t):.3f} s, "
          f"median ratio to the first {ratio:.3f}")
