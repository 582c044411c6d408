"""The architecture holds: layers import downwards only, no import cycle, light imports.

Layers, lowest first (README, "Architecture"); a module may import its own layer and the
layers below, never one above:

    base (errors, weights) < data < estimate < optimization = analytics < trading
    < config < backtesting < jobs = sweeps < report < cli

``portfolio/__init__.py`` (the public API) re-exports from every layer and is exempt.
Imports under ``if TYPE_CHECKING:`` are not imports at run time and are left out; imports
inside functions count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "portfolio.errors": 0, "portfolio.weights": 0,
    "portfolio.data": 1,
    "portfolio.estimate": 2,
    "portfolio.optimization": 3, "portfolio.analytics": 3,
    "portfolio.trading": 4,
    "portfolio.config": 5,
    "portfolio.backtesting": 6,
    "portfolio.jobs": 7, "portfolio.sweeps": 7,
    "portfolio.report": 8,
    "cli": 9,
}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for folder in ("portfolio", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _layer(module: str) -> int | None:
    for prefix, layer in sorted(LAYERS.items(), key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, child.end_lineno + 1))
    return lines


def _imports(name: str, path: Path) -> set[str]:
    """Modules of this project that ``name`` imports at run time."""
    tree = ast.parse(path.read_text())
    skipped = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    modules = _modules()
    return {module for module in found if module in modules and module != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return {name: _imports(name, path) for name, path in _modules().items()}


def test_every_module_has_a_layer():
    unplaced = [name for name in _modules() if name != "portfolio" and _layer(name) is None]
    assert not unplaced


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{name} -> {target}"
        for name, targets in graph.items() if name != "portfolio"
        for target in targets
        if target != "portfolio" and _layer(target) > _layer(name)
    )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target == "portfolio":
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_no_layer_imports_a_higher_one(graph):
    upward = _upward(graph)
    assert not upward, "\n".join(upward)


def test_stage_packages_do_not_read_the_config(graph):
    stages = ("portfolio.estimate", "portfolio.optimization", "portfolio.analytics",
              "portfolio.trading", "portfolio.data")
    readers = [f"{name} -> {target}" for name, targets in graph.items()
               if name.startswith(stages) for target in targets
               if target.startswith("portfolio.config")]
    assert not readers, readers


def test_no_import_cycle(graph):
    assert not _cycles(graph)


def test_the_checks_see_an_upward_import_and_a_cycle():
    assert _upward({"portfolio.data.prices": {"portfolio.jobs.market"}}) == [
        "portfolio.data.prices -> portfolio.jobs.market"]
    assert not _upward({"portfolio.jobs.market": {"portfolio.data.prices"}})
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert not _cycles({"a": {"b"}, "b": set()})


def test_modules_stay_short():
    long = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert not {k: v for k, v in long.items() if v > MAX_MODULE_LINES}


def _code_lines(lines: list[str], node: ast.AST) -> int:
    skip: set[int] = set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        skip = set(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for number in range(node.lineno, node.end_lineno + 1)
               if number not in skip and lines[number - 1].strip()
               and not lines[number - 1].strip().startswith("#"))


def test_functions_stay_short_or_say_why():
    too_long = []
    for name, path in _modules().items():
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = _code_lines(lines, node)
                reason = "Length:" in (ast.get_docstring(node) or "")
                if size > MAX_FUNCTION_LINES and not reason:
                    too_long.append(f"{name}.{node.name}: {size} lines")
    assert not too_long, too_long


LIGHT_IMPORT = (
    "import sys, portfolio; heavy = {'cvxpy', 'sklearn', 'matplotlib', 'dask', 'plotly'}; "
    "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
)


def test_import_portfolio_stays_light():
    done = subprocess.run([sys.executable, "-c", LIGHT_IMPORT], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_wheel_installs_only_the_portfolio_package(tmp_path):
    # the repository's cli/ and config/ ship inside the package (portfolio.cli,
    # portfolio.configs): site-packages gains `portfolio` and its dist-info, nothing else
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, timeout=300,
                   capture_output=True)
    wheel = next(tmp_path.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"portfolio"}
    assert "portfolio/cli/main.py" in names and "portfolio/configs/default.toml" in names
    assert "portfolio/configs/sweeps/policy_small.toml" in names
    assert "portfolio/sweeps/cluster.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "portfolio = portfolio.cli.main:main" in zipfile.ZipFile(wheel).read(entry).decode()
