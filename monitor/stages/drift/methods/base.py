"""What every method shares: the Method record, the Skip signal, the effect sizes of count tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import numpy as np

from monitor.stages.drift.pair import Pair

__all__ = ["Method", "Skip", "NUMERIC", "ANY", "tvd", "tie_runs"]

NUMERIC, ANY = ("numerical",), ("numerical", "categorical")  # column kinds a method accepts


@dataclass(frozen=True)
class Method:
    """A drift method: `func(pair) -> (statistic, p_value | None, effect_size)`."""

    name: str
    display: str
    kind: str  # "p_value" | "distance"
    default_threshold: Optional[float]  # None: config.fdr
    column_kinds: tuple
    func: Callable[[Pair], tuple]
    effect: str = ""  # what the effect size of a p-value method is, for messages ("D", "TVD")
    p_floor: float = 0.0  # the smallest p-value the method reports (Anderson-Darling's table stops at 0.001)


class Skip(Exception):
    """A column the method cannot score; the message becomes the column's note."""


def tvd(p: Pair) -> float:
    _, rc, cc = p.counts()
    return float(0.5 * np.abs(rc / p.n_ref - cc / p.n_cur).sum())


def tie_runs(z: np.ndarray):
    """(starts, lengths) of runs of equal values in sorted z."""
    starts = np.flatnonzero(np.concatenate(([True], z[1:] != z[:-1])))
    return starts, np.diff(np.append(starts, z.size))
