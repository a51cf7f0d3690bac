"""Benchmark: `congress --help` (and a group's --help) answers in under 0.3 s (issue 13).

Runs each command N times as a process, as a user does, and `python -c pass` in the same run as
the floor no command can beat on this machine. Prints the median and p95 of each, and the ratio
of the median to the bare interpreter's; exits non-zero if a median misses the target.

    .venv/bin/python bench/bench_cli_startup.py [-n 30] [--target 0.3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLI = Path(sys.executable).with_name("congress")
COMMANDS = (("congress --help", [str(CLI), "--help"]), ("congress sections --help", [str(CLI), "sections", "--help"]))


def timings(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True)  # warm the disk cache and the .pyc files
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        spent.append(time.perf_counter() - started)
    return spent


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30, help="processes per command (30)")
    parser.add_argument("--target", type=float, default=0.3, help="the most a median may take, in seconds (0.3)")
    args = parser.parse_args()

    bare = timings([sys.executable, "-c", "pass"], args.runs)
    floor = statistics.median(bare)
    print(f"{'python -c pass':26} median {floor * 1000:6.1f} ms  p95 {p95(bare) * 1000:6.1f} ms")
    worst = 0.0
    for name, argv in COMMANDS:
        spent = timings(argv, args.runs)
        median = statistics.median(spent)
        worst = max(worst, median)
        print(
            f"{name:26} median {median * 1000:6.1f} ms  p95 {p95(spent) * 1000:6.1f} ms  "
            f"{median / floor:4.1f}x python -c pass  (target < {args.target * 1000:.0f} ms)"
        )
    return 0 if worst < args.target else 1


if __name__ == "__main__":
    sys.exit(main())
