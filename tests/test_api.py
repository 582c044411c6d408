"""The public API: every exported name resolves, and none is shadowed by a submodule."""

import importlib
import pkgutil

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
