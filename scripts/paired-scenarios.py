#!/usr/bin/env python3
"""Paired CPU time of edgesim binaries over a fixed set of runs that reach different code.

For each case, the binaries run once per round, in alternating order (first to last, then last
to first: in a fixed order the second binary was once measured 5-7 % slower where alternating
rounds found it 17 % faster), for REPS rounds. Reports per case the median CPU time (user + system) of each binary and the median
of the per-round ratio of the last binary to the first. Outputs are not compared here:
scripts/differential.sh does that.

The cases: the `scenario` bench's bursty run (a whole day: 1.04 M requests, 2.85 M events);
scenarios/fleet.toml at 1,000 devices with power-of-two selection; scenarios/steady.toml
scaled up (Poisson, 50 boards); a closed loop of 300 users on the same boards; one AGX Orin with
64 slots and serial prefill (tests/golden/serial-slots.toml). scripts/pgo-build.sh trains on
shorter or smaller runs of the same code (see its training set).

With WALL=1 it reports wall-clock time instead: the measure for a binary that uses a second
core (an open-loop workload's arrivals are drawn on a thread of their own), whose CPU time
counts both cores.

Usage: [WALL=1] scripts/paired-scenarios.py REPS BINARY [BINARY ...]
  e.g. scripts/paired-scenarios.py 9 target/release/edgesim target/pgo/use/release/edgesim
"""
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

if len(sys.argv) < 3:
    sys.exit(__doc__)
reps, binaries = int(sys.argv[1]), sys.argv[2:]
wall_clock = os.environ.get("WALL") == "1"
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
boards = "--set devices.0.count=30 --set devices.1.count=20"
closed = ('workload={kind="closed",users=300,think_time_s=5.0,'
          'prompt_tokens={dist="lognormal",median=120,sigma=0.5},'
          'output_tokens={dist="lognormal",median=200,sigma=0.5}}')
cases = {
    "bursty, the scenario bench's day (50 boards)":
        "run scenarios/bursty.toml --set duration_s=86400 --set workload.base_rate_rps=5.0 "
        "--set workload.burst_rate_rps=40.0 " + boards,
    "fleet, 1,000 boards, power_of_two":
        "run scenarios/fleet.toml --set devices.0.count=1000 --set workload.rate_rps=175 "
        "--set duration_s=2000 --set selection.kind=power_of_two",
    "steady, 20 requests/s for 10 h (50 boards)":
        "run scenarios/steady.toml --set duration_s=36000 --set workload.rate_rps=20 " + boards,
    "closed loop, 300 users for 60,000 s (50 boards)":
        f"run scenarios/steady.toml --set duration_s=60000 --set '{closed}' " + boards,
    "one AGX Orin, 64 slots, serial prefill":
        "run tests/golden/serial-slots.toml --set duration_s=300000 --set devices.0.slots=64 "
        "--set devices.0.queue_capacity=64",
}
times = {(c, b): [] for c in cases for b in binaries}
for i in range(reps):
    for case, args in cases.items():
        for b in binaries if i % 2 == 0 else binaries[::-1]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([b] + shlex.split(args) + ["--no-out"], stdout=subprocess.DEVNULL,
                           check=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times[(case, b)].append(wall if wall_clock else after.ru_utime - before.ru_utime
                                    + after.ru_stime - before.ru_stime)
print("| run | " + " | ".join(f"{b}: median s" for b in binaries) + " | median ratio, last / first |")
print("|---|" + "---|" * len(binaries) + "---|")
for case in cases:
    first, last = times[(case, binaries[0])], times[(case, binaries[-1])]
    cells = " | ".join(f"{statistics.median(times[(case, b)]):.3f}" for b in binaries)
    ratio = statistics.median(x / y for x, y in zip(last, first))
    print(f"| {case} | {cells} | {ratio:.3f} |")
