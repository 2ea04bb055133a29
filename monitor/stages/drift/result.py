"""What the drift stage returns: frozen results with `to_dict()` (the metrics.json shape) and `alerts()`.

    DriftResult
      features / prediction / target: {column: ColumnDrift}     the window against the reference
      newest_day: NewestDayDrift | None                          the newest day on its own, at its own n
      multivariate: MultivariateDrift | None                     the domain classifier
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from monitor.alerts import Alert
from monitor.jsonutil import finite as _finite

__all__ = ["ColumnDrift", "DayColumn", "NewestDayDrift", "MultivariateDrift", "DriftResult"]

TOO_FEW = "too few rows"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 0.001 or x == 0 else f"{x:.1e}"


def _p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={_fmt(p)}"


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    role: str
    method: Optional[str]
    kind: str
    statistic: Optional[float]
    p_value: Optional[float]
    p_value_adjusted: Optional[float]
    threshold: Optional[float]
    drifted: bool
    drifted_evidently: Optional[bool]
    effect_size: Optional[float]
    n_reference: int
    n_current: int
    nulls_reference: int
    nulls_current: int
    note: Optional[str]
    histogram: dict
    display: str = ""  # the method's name for people
    effect_name: str = ""  # p-value methods: what effect_size measures ("D", "TVD")
    too_few: bool = False  # fewer current values than drift.min_rows: no verdict
    # distance methods at/above their threshold: p of the distance at this sample size (resampled
    # reference); p_value_adjusted is then its Benjamini-Hochberg adjustment over the role's columns
    p_value_resampled: Optional[float] = None

    @property
    def evaluated(self) -> bool:
        return not self.too_few and (self.statistic is not None or self.p_value is not None)

    @property
    def verdict(self) -> str:
        if self.too_few:
            return TOO_FEW
        if not self.evaluated:
            return "not computed"
        return "drifted" if self.drifted else "no drift"

    def describe(self) -> str:
        if self.effect_name == "" and self.statistic is not None and self.threshold is not None:
            at_n = "" if self.p_value_adjusted is None else f" ({_p(self.p_value_adjusted)} at {self.n_current} rows, after BH)"
            return f"`{self.column}`: {self.display} {_fmt(self.statistic)} >= {_fmt(self.threshold)}{at_n}"
        p = self.p_value_adjusted if self.p_value_adjusted is not None else float("nan")
        eff = self.effect_size if self.effect_size is not None else float("nan")
        # the verdict's level is the threshold or drift.newest_day.alpha, whichever is smaller: the p says it
        return f"`{self.column}`: {self.display} {self.effect_name}={_fmt(eff)} ({_p(p)} at {self.n_current} rows, after BH)"

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "kind": self.kind,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "p_value_adjusted": _finite(self.p_value_adjusted),
            "p_value_resampled": _finite(self.p_value_resampled),
            "threshold": _finite(self.threshold),
            "drifted": bool(self.drifted),
            "verdict": self.verdict,
            "drifted_evidently": self.drifted_evidently,
            "effect_size": _finite(self.effect_size),
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "nulls_reference": int(self.nulls_reference),
            "nulls_current": int(self.nulls_current),
            "note": self.note,
            "histogram": self.histogram,
        }


@dataclass(frozen=True)
class DayColumn:
    """One column of the newest day: its distance to the reference and how unusual that is at its n."""

    column: str
    method: str  # "wasserstein" (normed) | "jensenshannon"
    statistic: Optional[float]
    p_value: Optional[float]  # P(distance >= statistic) for a day of n rows drawn from the reference
    p_value_adjusted: Optional[float]
    drifted: bool
    n: int
    note: Optional[str] = None

    def to_dict(self) -> dict:
        return {
            "method": self.method, "statistic": _finite(self.statistic), "p_value": _finite(self.p_value),
            "p_value_adjusted": _finite(self.p_value_adjusted), "drifted": bool(self.drifted), "n": int(self.n),
            "note": self.note,
        }


@dataclass(frozen=True)
class NewestDayDrift:
    date: str
    rows: int
    alpha: float
    min_effect: float
    features: dict[str, DayColumn]
    note: Optional[str] = None

    @property
    def drifted(self) -> list[str]:
        return [c for c, f in self.features.items() if f.drifted]

    def to_dict(self) -> dict:
        return {
            "date": self.date, "rows": int(self.rows), "alpha": float(self.alpha), "min_effect": float(self.min_effect),
            "drifted": self.drifted, "features": {k: v.to_dict() for k, v in self.features.items()}, "note": self.note,
        }

    def alert(self, skip: set[str]) -> Optional[Alert]:
        """One alert naming the day and its shifted columns (those the window already flags are left out)."""
        cols = [self.features[c] for c in self.drifted if c not in skip]
        if not cols:
            return None
        names = {"wasserstein": "normed Wasserstein", "jensenshannon": "Jensen-Shannon"}
        parts = [f"`{c.column}` {names.get(c.method, c.method)} {_fmt(c.statistic or 0.0)} ({_p(c.p_value_adjusted or 0.0)} "
                 f"for a day of {c.n} rows from the reference)" for c in cols]
        return Alert("drift", "newest day", "warning",
                     f"the newest day, {self.date} ({self.rows} rows), shifted on its own: {'; '.join(parts)}")


@dataclass(frozen=True)
class MultivariateDrift:
    """The domain classifier's outcome; `statistic` is its cross-validated ROC AUC."""

    method: str
    statistic: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    threshold: float
    drifted: bool
    top_features: tuple[tuple[str, float], ...] = ()
    n_reference: int = 0
    n_current: int = 0
    note: Optional[str] = None

    @property
    def verdict(self) -> str:
        if self.statistic is None:
            return TOO_FEW if self.note and self.note.startswith(TOO_FEW) else "not computed"
        return "drifted" if self.drifted else "no drift"

    def to_dict(self) -> dict:
        return {
            "method": self.method, "statistic": _finite(self.statistic), "ci_low": _finite(self.ci_low),
            "ci_high": _finite(self.ci_high), "threshold": float(self.threshold), "drifted": bool(self.drifted),
            "verdict": self.verdict,
            "top_features": [{"column": c, "importance": _finite(v)} for c, v in self.top_features],
            "n_reference": int(self.n_reference), "n_current": int(self.n_current), "note": self.note,
        }

    def alert(self) -> Optional[Alert]:
        if not self.drifted or self.statistic is None:
            return None
        lean = ", ".join(c for c, _ in self.top_features[:3]) or "no single column"
        return Alert("drift", "multivariate", "warning",
                     f"multivariate drift: a classifier tells current rows from reference rows (ROC AUC "
                     f"{self.statistic:.2f}, 95% CI {self.ci_low:.2f}-{self.ci_high:.2f}, above {self.threshold:.2f}); "
                     f"it leans most on {lean}")


GROUP_OUTPUTS = 3  # more drifted model-output columns than this (class scores) make one alert


@dataclass(frozen=True)
class DriftResult:
    dataset_drift: bool
    share_drifted: float
    share_threshold: float
    n_features: int
    n_drifted: int
    features: dict[str, ColumnDrift]
    prediction: dict[str, ColumnDrift]
    target: dict[str, ColumnDrift]
    skipped: dict[str, str] = field(default_factory=dict)
    newest_day: Optional[NewestDayDrift] = None
    multivariate: Optional[MultivariateDrift] = None

    @property
    def verdict(self) -> str:
        if self.dataset_drift:
            return "drift"
        if self.n_features == 0:
            return TOO_FEW if any(c.too_few for c in self.features.values()) else "not computed"
        return "no drift"

    @property
    def ranking(self) -> list[str]:
        scored = [c for c in self.features.values() if c.effect_size is not None and math.isfinite(c.effect_size)]
        scored.sort(key=lambda c: (-(c.effect_size or 0.0), c.column))
        return [c.column for c in scored]

    def method_summary(self) -> dict:
        out: dict[str, dict] = {}
        for c in self.features.values():
            if c.method is None:
                continue
            s = out.setdefault(c.method, {"columns": 0, "drifted": 0, "threshold": c.threshold})
            s["columns"] += 1
            s["drifted"] += int(c.drifted)
        return out

    def to_dict(self) -> dict:
        return {
            "dataset_drift": bool(self.dataset_drift),
            "verdict": self.verdict,
            "share_drifted": float(self.share_drifted),
            "share_threshold": float(self.share_threshold),
            "n_features": int(self.n_features),
            "n_drifted": int(self.n_drifted),
            "method_summary": self.method_summary(),
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "prediction": {k: v.to_dict() for k, v in self.prediction.items()},
            "target": {k: v.to_dict() for k, v in self.target.items()},
            "ranking": self.ranking,
            "skipped": dict(self.skipped),
            "newest_day": self.newest_day.to_dict() if self.newest_day is not None else None,
            "multivariate": self.multivariate.to_dict() if self.multivariate is not None else None,
        }

    def alerts(self) -> list[Alert]:
        out = [Alert("drift", c.column, "warning", c.describe()) for c in self.features.values() if c.drifted]
        if self.dataset_drift:
            out.append(Alert(
                "drift", "dataset", "critical",
                f"dataset drift: {self.n_drifted} of {self.n_features} features drifted "
                f"({self.share_drifted:.0%} >= {self.share_threshold:.0%}); most shifted: {', '.join(self.ranking[:3])}",
            ))
        outputs = [c for c in self.prediction.values() if c.drifted]
        if len(outputs) > GROUP_OUTPUTS:  # a multiclass model's class scores move together: one alert, the largest first
            outputs.sort(key=lambda c: -(c.effect_size if c.effect_size is not None else c.statistic or 0.0))
            shown = "; ".join(c.describe() for c in outputs[:GROUP_OUTPUTS])
            out.append(Alert("drift", "model outputs", "warning",
                             f"prediction drift: {len(outputs)} of {len(self.prediction)} output columns drifted: {shown}"
                             f"{f'; and {len(outputs) - GROUP_OUTPUTS} more' if len(outputs) > GROUP_OUTPUTS else ''}"))
        else:
            out += [Alert("drift", c.column, "warning", f"prediction drift: {c.describe()}") for c in outputs]
        out += [Alert("drift", c.column, "warning", f"target drift: {c.describe()}") for c in self.target.values() if c.drifted]
        flagged = {c.column for g in (self.features, self.prediction, self.target) for c in g.values() if c.drifted}
        extra = [self.newest_day.alert(flagged) if self.newest_day else None,
                 self.multivariate.alert() if self.multivariate else None]
        return out + [a for a in extra if a is not None]
