#!/usr/bin/env python3
"""Paired CPU-time comparison of edgesim binaries, or fleet sizes, on scenarios/fleet.toml.

Runs each binary at each size once per round, interleaved (in reverse order every other
round, since 2026-12-03), for REPS rounds, and reports per
(binary, size) the fastest and the median CPU time (user + system) and the median of its
per-round ratio to the first (the first binary at the first size). Pairing within a round cancels most of a shared machine's slow drifts; compare
ratios, not absolute times, across days. Poisson arrivals at half the fleet's capacity
(0.175 requests/s per board), as scripts/fleet-scaling.sh.

With MARGINAL=SMALL in the environment, every run is paired with one of SMALL requests in the
same round, and the report is the marginal cost of a request, (T(REQUESTS) - T(SMALL)) /
(REQUESTS - SMALL) in microseconds: loading the scenario, building the fleet and writing the
report cancel out (at 10,000 devices some 16 ms of CPU time, 6 of them the JSON report's
per-device rows), leaving the cost of the events themselves. The difference of two timed runs
is noisier than either: compare binaries at one size without it.

With WALL=1 it reports wall-clock time instead of CPU time: criterion's measure. An open-loop
workload's arrivals are drawn on a thread of their own, on the second core, so CPU time counts
that thread's work (the same at every fleet size) and wall-clock time only the event loop's
wait for it: a ratio of CPU times is diluted by the constant work, a ratio of wall-clock times
is not (docs/performance.md, 2026-12-05, the twenty-third session).

Usage: [MARGINAL=SMALL] [WALL=1] scripts/paired-cpu-time.py REQUESTS REPS DEVICES[,DEVICES...] POLICY BINARY [BINARY ...]
  e.g. scripts/paired-cpu-time.py 300000 9 10000 random /tmp/before target/release/edgesim
       scripts/paired-cpu-time.py 500000 7 10,10000 random target/release/edgesim
         (the second: how much slower a request is at 10,000 devices than at 10)
       MARGINAL=20000 scripts/paired-cpu-time.py 500000 5 10,1000,10000 random target/release/edgesim
"""
import os
import resource
import statistics
import subprocess
import sys
import time

if len(sys.argv) < 6:
    sys.exit(__doc__)
requests, reps = int(sys.argv[1]), int(sys.argv[2])
small = int(os.environ.get("MARGINAL", "0"))
wall = os.environ.get("WALL", "0") not in ("", "0")
if small and not 0 < small < requests:
    sys.exit(f"MARGINAL={small}: must lie between 0 and REQUESTS ({requests})")
sizes = [int(d) for d in sys.argv[3].split(",")]
policy, binaries = sys.argv[4], sys.argv[5:]
scenario = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "fleet.toml")
configs = [(b, d) for d in sizes for b in binaries]
times = {c: [] for c in configs}


def cpu_time(b, devices, n):
    """CPU (or with WALL=1 wall-clock) time of one run of `n` requests on `devices` boards."""
    rate = 0.175 * devices
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [b, "run", scenario, "--no-out", "--json",
         "--set", f"devices.0.count={devices}", "--set", f"workload.rate_rps={rate}",
         "--set", f"duration_s={n / rate}", "--set", f"selection.kind={policy}"],
        stdout=subprocess.DEVNULL, check=True)
    if wall:
        return time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


for i in range(reps):
    # Alternating order: in a fixed order the second binary was once measured 5-7 % slower
    # where alternating rounds found it 17 % faster (docs/performance.md, 2026-12-03).
    for b, devices in configs if i % 2 == 0 else configs[::-1]:
        t = cpu_time(b, devices, requests)
        if small:
            t = (t - cpu_time(b, devices, small)) / (requests - small) * 1e6
        times[(b, devices)].append(t)
first = times[configs[0]]
unit = ("µs per request (marginal)" if small else "s") + (" wall-clock" if wall else "")
for b, devices in configs:
    t = times[(b, devices)]
    ratio = statistics.median(x / y for x, y in zip(t, first))
    print(f"{policy} devices={devices} {b}: fastest {min(t):.3f} {unit}, median {statistics.median(t):.3f} {unit}, "
          f"median ratio to the first {ratio:.3f}")
