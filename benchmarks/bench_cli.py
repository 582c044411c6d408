"""CLI start-to-finish cost on the bundled data, as ratios to ``python -c "import pandas"``.

Issue 14 asks for the commands' times as ratios to importing pandas, measured in the same
run, because absolute times move between machines. Each command runs in a fresh
interpreter (``--offline``, bundled data); the CPU time of the child (user + system, its
worker processes included) and the wall time are taken, and the median over ``--repeats``
rounds is reported. The backtest runs its estimates and charts in worker processes by
default on two cores or more (the wall time falls, the CPU time rises); its
``--workers 0`` row is all in one process.

The children run as on a user's machine: Python caches the project's compiled bytecode
(``PYTHONDONTWRITEBYTECODE``, set in some sandboxes, is removed from their environment,
otherwise each run would recompile every module of the project, about 0.15 s), and one
untimed round comes first to write that cache.

``--baseline DIR`` times the same commands in another checkout (e.g. the commit before a
change, ``git worktree add /tmp/before <commit>``) with the same interpreter, interleaved
with this one, and adds its columns. Each checkout's CLI runs as ``python -m cli.main`` from
its own folder, so it imports its own ``cli`` and ``portfolio``.

Run from the project root::

    .venv/bin/python benchmarks/bench_cli.py --repeats 3            # about 1 min
    .venv/bin/python benchmarks/bench_cli.py --repeats 3 --backtest # about 2 min more
    .venv/bin/python benchmarks/bench_cli.py --repeats 5 --backtest --baseline /tmp/before
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
CHILD_ENV = {key: value for key, value in os.environ.items()
             if key != "PYTHONDONTWRITEBYTECODE"}
PANDAS = "import pandas"


def commands(backtest: bool, folder: Path, current: bool = True) -> dict[str, list[str]]:
    """Label -> argv of every timed command (the CLI as ``python -m cli.main``).

    ``current=False`` (a baseline checkout) leaves out the rows of options it lacks.
    """
    cli = [sys.executable, "-m", "cli.main", "--offline"]
    runs = {
        PANDAS: [sys.executable, "-c", "import pandas"],
        "optimize": [*cli, "optimize"],
        "risk": [*cli, "risk", "--holdings", "example"],
        "rebalance": [*cli, "rebalance", "--holdings", "example"],
    }
    if backtest:
        runs["backtest ai_policy"] = [*cli, "backtest", "ai_policy", "--output-dir",
                                      str(folder / "html")]
        runs["backtest ai_policy --no-html"] = [*cli, "backtest", "ai_policy", "--no-html",
                                                "--output-dir", str(folder / "plain")]
        if current:  # all in one process, as before the worker processes
            runs["backtest ai_policy --workers 0"] = [
                *cli, "backtest", "ai_policy", "--workers", "0", "--output-dir",
                str(folder / "alone")]
    return runs


def timed(argv: list[str], tree: Path) -> tuple[float, float]:
    """(CPU seconds of the child, wall seconds) of one run in checkout ``tree``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tree,
                   env=CHILD_ENV, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backtest", action="store_true", help="also time the backtest")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout to time beside this one")
    args = parser.parse_args(argv)
    trees = {"": ROOT} if args.baseline is None else {"": ROOT, "baseline ": args.baseline}
    with tempfile.TemporaryDirectory() as folder:
        runs = {(name, label): (command, tree) for name, tree in trees.items()
                for label, command in commands(args.backtest, Path(folder) / tree.name,
                                               current=not name).items()}
        for command, tree in runs.values():  # untimed: writes the bytecode caches
            timed(command, tree)
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in runs}
        for _ in range(args.repeats):  # interleaved: load changes hit every command alike
            for key, (command, tree) in runs.items():
                samples[key].append(timed(command, tree))
    columns = [f"{name}{what}" for name in trees
               for what in ("CPU s", "wall s", "CPU / import pandas", "wall / import pandas")]
    print("| command | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for label in commands(args.backtest, Path()):
        cells = []
        for name in trees:
            values = samples.get((name, label))
            if values is None:
                cells += ["-"] * 4
                continue
            base_cpu = statistics.median(cpu for cpu, _ in samples[(name, PANDAS)])
            base_wall = statistics.median(wall for _, wall in samples[(name, PANDAS)])
            cpu = statistics.median(c for c, _ in values)
            wall = statistics.median(w for _, w in values)
            cells += [f"{cpu:.2f}", f"{wall:.2f}", f"{cpu / base_cpu:.1f}x",
                      f"{wall / base_wall:.1f}x"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    where = "" if args.baseline is None else f"; baseline: {args.baseline}"
    print(f"\nMedian of {args.repeats} interleaved rounds; python {sys.version.split()[0]}"
          f"{where}.")


if __name__ == "__main__":
    main()
