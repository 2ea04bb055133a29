"""The registry of drift methods, by name. `METHODS[name]` of an unknown name raises
UnknownMethodError listing the known ones.

Method choice `auto` mirrors Evidently's default stattest
(`evidently.legacy.calculations.stattests.registry._get_default_stattest`):
reference <= 1000 rows: numeric -> ks (chisquare / z when <= 5 values),
categorical -> chisquare (z when binary); larger references: numeric ->
normed wasserstein (jensenshannon when <= 5 values), categorical ->
jensenshannon. "Values" counts the distinct non-null values of reference and
current together, as Evidently does.
"""

from __future__ import annotations

from monitor.config import DriftConfig
from monitor.errors import UnknownMethodError
from monitor.stages.drift.methods import (
    anderson,
    chisquare,
    cramer_von_mises,
    hellinger,
    jensenshannon,
    ks,
    psi,
    wasserstein,
    z,
)
from monitor.stages.drift.methods.base import Method
from monitor.stages.drift.pair import FEW_VALUES, Pair

__all__ = ["METHODS", "auto_method", "validate_method_names"]

SMALL_REFERENCE = 1000  # Evidently: p-value tests up to this many reference rows


class _Registry(dict[str, Method]):
    def __missing__(self, key: str) -> Method:
        raise UnknownMethodError(f"unknown drift method {key!r}; known methods: {', '.join(self)}")


METHODS: dict[str, Method] = _Registry(
    (m.name, m)
    for m in (
        ks.METHOD,
        wasserstein.METHOD,
        *psi.METHODS,
        jensenshannon.METHOD,
        chisquare.METHOD,
        z.METHOD,
        hellinger.METHOD,
        cramer_von_mises.METHOD,
        anderson.METHOD,
    )
)


def validate_method_names(config: DriftConfig) -> None:
    """Every method named in the config is registered (or `auto`)."""
    names = [("drift.method", config.method)] + [
        (f"drift.features.{c}.method", o.method) for c, o in config.features.items() if o.method
    ]
    for where, name in names:
        if name != "auto" and name not in METHODS:
            raise UnknownMethodError(f"{where}: unknown drift method {name!r}; known methods: auto, {', '.join(METHODS)}")


def auto_method(p: Pair) -> str:
    """Evidently 0.7's default stattest for this column (see the module docstring)."""
    n_values = p.n_values()
    small = p.n_ref <= SMALL_REFERENCE
    if p.kind == "numerical":
        if n_values <= FEW_VALUES:
            if small:
                return "chisquare" if n_values > 2 else "z"
            return "jensenshannon"
        return "ks" if small else "wasserstein"
    if small:
        return "chisquare" if n_values > 2 else "z"
    return "jensenshannon"
