"""The public API: every exported name resolves, and none is shadowed by a submodule."""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import portfolio


def test_every_export_resolves():
    for name in portfolio.__all__:
        assert getattr(portfolio, name) is not None, name


def test_no_export_shares_a_name_with_a_submodule():
    submodules = {m.name for m in pkgutil.iter_modules(portfolio.__path__)}
    assert not submodules & set(portfolio.__all__)


def test_exports_survive_importing_every_submodule():
    for module in pkgutil.walk_packages(portfolio.__path__, "portfolio."):
        importlib.import_module(module.name)
    for name in portfolio.__all__:
        value = getattr(portfolio, name)
        assert not type(value).__name__ == "module", name


def test_each_export_is_the_object_its_module_defines():
    for module, names in portfolio._EXPORTS.items():
        home = importlib.import_module(f"portfolio.{module}")
        for name in names:
            assert getattr(portfolio, name) is getattr(home, name), name


def test_metric_modules_are_reachable_and_listed():
    assert portfolio.metrics is importlib.import_module("portfolio.analytics.metrics")
    assert portfolio.risk_measures is importlib.import_module("portfolio.analytics.risk_measures")
    assert {"metrics", "risk_measures", "optimize", "__version__"} <= set(dir(portfolio))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        portfolio.no_such_name  # noqa: B018


def test_importing_the_package_loads_none_of_its_modules():
    probe = ("import sys, portfolio; "
             "print(sorted(m for m in sys.modules if m.startswith('portfolio.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def stub_text() -> str:
    """``portfolio/__init__.pyi``: the lazily loaded names as imports, for type checkers."""
    lines = ['"""Type stub of ``portfolio/__init__.py`` for type checkers and IDEs.', "",
             "The package loads these names on first use (``__getattr__``); this stub states",
             "them as plain imports. Written by ``python tests/test_api.py`` from",
             "``portfolio._EXPORTS``; tests/test_api.py checks that it is in step.", '"""', "",
             "from portfolio.analytics import metrics as metrics",
             "from portfolio.analytics import risk_measures as risk_measures"]
    for module, names in sorted(portfolio._EXPORTS.items()):
        lines += [f"from portfolio.{module} import {name} as {name}" for name in names]
    lines += ["", "__version__: str", "__all__: list[str]", ""]
    return "\n".join(lines)


def test_the_type_stub_lists_every_export():
    stub = Path(portfolio.__file__).with_suffix(".pyi")
    assert stub.read_text(encoding="utf-8") == stub_text(), (
        "portfolio/__init__.pyi is out of step with _EXPORTS: run python tests/test_api.py")


if __name__ == "__main__":  # writes the stub
    Path(portfolio.__file__).with_suffix(".pyi").write_text(stub_text(), encoding="utf-8")
