"""CLI start-to-finish cost on the bundled data, as ratios to ``python -c "import pandas"``.

Issue 14 asks for the commands' times as ratios to importing pandas, measured in the same
run, because absolute times move between machines. Each command runs in a fresh
interpreter (``--offline``, bundled data); the CPU time of the child (user + system) and
the wall time are taken, and the median over ``--repeats`` rounds is reported.

The children run as on a user's machine: Python caches the project's compiled bytecode
(``PYTHONDONTWRITEBYTECODE``, set in some sandboxes, is removed from their environment,
otherwise each run would recompile every module of the project, about 0.15 s), and one
untimed round comes first to write that cache.

Run from the project root::

    .venv/bin/python benchmarks/bench_cli.py --repeats 3            # about 1 min
    .venv/bin/python benchmarks/bench_cli.py --repeats 3 --backtest # about 2 min more
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHILD_ENV = {key: value for key, value in os.environ.items()
             if key != "PYTHONDONTWRITEBYTECODE"}


def commands(backtest: bool, folder: Path) -> dict[str, list[str]]:
    """Label -> argv of every timed command."""
    cli = [str(BIN / "portfolio"), "--offline"]
    runs = {
        "import pandas": [sys.executable, "-c", "import pandas"],
        "optimize": [*cli, "optimize"],
        "risk": [*cli, "risk", "--holdings", "example"],
        "rebalance": [*cli, "rebalance", "--holdings", "example"],
    }
    if backtest:
        runs["backtest ai_policy"] = [*cli, "backtest", "ai_policy", "--output-dir",
                                      str(folder / "html")]
        runs["backtest ai_policy --no-html"] = [*cli, "backtest", "ai_policy", "--no-html",
                                                "--output-dir", str(folder / "plain")]
    return runs


def timed(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds of the child, wall seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                   env=CHILD_ENV, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backtest", action="store_true", help="also time the backtest")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        runs = commands(args.backtest, Path(folder))
        for command in runs.values():  # untimed: writes the bytecode cache
            timed(command)
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
        for _ in range(args.repeats):  # interleaved: load changes hit every command alike
            for label, command in runs.items():
                samples[label].append(timed(command))
    base = statistics.median(cpu for cpu, _ in samples["import pandas"])
    print("| command | CPU s | wall s | CPU / import pandas |")
    print("|---|---:|---:|---:|")
    for label, values in samples.items():
        cpu = statistics.median(c for c, _ in values)
        wall = statistics.median(w for _, w in values)
        print(f"| {label} | {cpu:.2f} | {wall:.2f} | {cpu / base:.1f}x |")
    print(f"\nMedian of {args.repeats} interleaved rounds; python {sys.version.split()[0]}.")


if __name__ == "__main__":
    main()
