"""Every package of `monitor` says what it exports: `__all__` names exactly its public API.

Public here: a function or class, reachable from the package without an underscore, that the
monitor itself defines (imports from the standard library or third parties don't count).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import monitor


def _packages() -> list[str]:
    names = ["monitor"]
    for info in pkgutil.walk_packages(monitor.__path__, "monitor."):
        if info.ispkg and not info.name.endswith(".templates"):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _packages())
def test_all_lists_exactly_the_public_names(name: str) -> None:
    pkg = importlib.import_module(name)
    exported = getattr(pkg, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(pkg, n)]
    assert not missing, f"{name}.__all__ names what the package does not have: {missing}"
    public = {
        n for n, obj in vars(pkg).items()
        if not n.startswith("_") and not inspect.ismodule(obj)
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", "").startswith("monitor")
    }
    unlisted = sorted(public - set(exported))
    assert not unlisted, f"{name} defines or re-exports {unlisted} without listing them in __all__"


def test_the_packages_are_found() -> None:
    assert {"monitor.io", "monitor.run", "monitor.stages.drift", "monitor.report", "monitor.notify"} <= set(_packages())
