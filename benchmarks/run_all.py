"""Run every benchmark, each in its own process, print all their figures, then the verdicts together.

``make bench`` runs this at the API's real limit, 100 requests per 10 s (about 100 minutes, 90 of them the agency
matrix; ``--quick`` runs the agency benchmark's quick cases instead, about 15 minutes in all); for a quick look,
``make bench BENCH_ARGS="--scale 10"`` shortens the window to 1 s, where the sandbox's whole-second Retry-After
and the limiter's fixed safety margin weigh ten times more.

    .venv/bin/python benchmarks/run_all.py [--scale 10] [--latency-ms 150] [--quick] [--only throughput read ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Each benchmark and whether it takes the shared ``--scale`` / ``--latency-ms`` options.
BENCHMARKS: dict[str, bool] = {
    "throughput": True,
    "read": True,
    "warehouse": True,
    "agency": True,
    "burst": True,
    "tls_connections": False,
    "overhead": False,
    "sandbox_server": False,
    "webhooks": False,
    "triggerer": False,
}


def machine_line() -> str:
    """The machine's description, from the shared helper (imported here so --help stays fast)."""
    sys.path.insert(0, str(HERE))
    import _common

    return _common.machine()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return 0 when every one met its goals."""
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="rate-window shortening factor (1 = real API)")
    p.add_argument("--latency-ms", type=float, default=150.0)
    p.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    p.add_argument("--quick", action="store_true", help="the agency benchmark's quick cases, not its matrix")
    args = p.parse_args(argv)
    print(f"machine: {machine_line()}", flush=True)
    verdicts: list[str] = []
    failed = False
    for name, shared_options in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        command = [sys.executable, str(HERE / f"{name}.py")]
        if shared_options:
            command += ["--scale", str(args.scale), "--latency-ms", str(args.latency_ms)]
        if args.quick and name == "agency":
            command.append("--quick")
        # The script's path relative to the project, so a pasted log never names this machine's folders.
        shown = [str((HERE / f"{name}.py").relative_to(HERE.parent)), *command[2:]]
        print(f"\n=== {name}: {' '.join(shown)}", flush=True)
        started = time.perf_counter()
        process = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        for line in process.stdout.splitlines():
            print(line, flush=True)
            if line.startswith(("VERDICT", "PASS", "FAIL")):
                verdicts.append(line if line.startswith("VERDICT") else f"VERDICT {name}: {line}")
        print(
            f"=== {name} took {time.perf_counter() - started:.0f} s (exit {process.returncode})", flush=True
        )
        failed |= process.returncode != 0
    print("\nsummary:")
    for line in verdicts:
        print(f"  {line}")
    print(f"machine after the run: {machine_line()}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
