"""Golden JSON outputs of every command on the bundled data (behaviour pinned across refactors).

``python tests/golden_outputs.py`` rewrites ``tests/golden/*.json`` from the current code;
``tests/test_golden.py`` runs the same commands and compares. Values that change from run to
run (solve times, creation stamps, data age, temporary paths) are dropped by
:func:`normalised`.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
HOLDINGS = str(ROOT / "examples" / "holdings.csv")
OBJECTIVES = ("min_variance", "max_sharpe", "utility", "risk_parity", "max_diversification",
              "min_cvar", "min_tracking_error")

COMMANDS: dict[str, list[str]] = {
    **{f"optimize_{name}": ["optimize", "--objective", name] for name in OBJECTIVES},
    "risk": ["risk", "--holdings", HOLDINGS],
    "stress": ["stress", "--holdings", HOLDINGS],
    "rebalance": ["rebalance", "--holdings", HOLDINGS],
    "rebalance_check": ["rebalance", "--holdings", HOLDINGS, "--check"],
    "frontier": ["frontier", "--holdings", HOLDINGS],
}
BACKTESTS = {"backtest_ai_policy": ROOT / "config" / "backtests" / "ai_policy.toml"}
VOLATILE_KEYS = {"seconds", "runtime_seconds", "created_utc", "files", "notice", "data_notice"}
AGE = re.compile(r"\(\d+ days? old\)")


def normalised(value):
    """``value`` without run-dependent entries (see the module docstring)."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, str):
        return AGE.sub("(N days old)", value)
    return value


def run_json(args: list[str]) -> dict:
    """Run the CLI in-process with ``--format json --offline``; return the parsed output."""
    import contextlib
    import io

    sys.path.insert(0, str(ROOT))
    from cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            main([*args, "--offline", "--format", "json"])
        except SystemExit as done:
            if done.code not in (0, 3, None):
                raise RuntimeError(f"{args} exited {done.code}") from None
    return json.loads(out.getvalue())


def backtest_metrics(config: Path) -> dict:
    """``metrics.json`` of a backtest run on the bundled data."""
    with tempfile.TemporaryDirectory() as folder:
        run_json(["backtest", str(config), "--output-dir", folder, "--quiet"])
        return json.loads((Path(folder) / "metrics.json").read_text())


def outputs() -> dict[str, dict]:
    """Every golden output, by name."""
    result = {name: normalised(run_json(args)) for name, args in COMMANDS.items()}
    result.update({name: normalised(backtest_metrics(path)) for name, path in BACKTESTS.items()})
    return result


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for name, value in outputs().items():
        (GOLDEN / f"{name}.json").write_text(json.dumps(value, indent=1, sort_keys=True) + "\n")
        print("wrote", name)
