"""Alerts: what every stage raises, and which are new, ongoing or resolved since the last run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Optional

from monitor.textcut import TEXT_CHARS, cut

__all__ = ["Alert", "KINDS", "SEVERITIES", "mark_new", "resolved_since", "status_of"]

KINDS = ("no_data", "quality", "volume", "drift", "performance", "cohort", "business")
SEVERITIES = ("warning", "critical")


@dataclass(frozen=True)
class Alert:
    kind: str  # one of KINDS
    subject: str  # the column, metric, cohort or check it is about
    severity: str  # "warning" | "critical"
    message: str  # one line a person understands
    new: bool = True  # False when the previous run raised the same (kind, subject)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"alert kind {self.kind!r} is not one of {KINDS}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert severity {self.severity!r} is not one of {SEVERITIES}")
        # a subject or message quoting a megabyte value stays bounded (cut as metrics.json cuts every text)
        for name in ("subject", "message"):
            text = getattr(self, name)
            if not isinstance(text, str) or len(text) > TEXT_CHARS:
                object.__setattr__(self, name, cut(text, TEXT_CHARS))

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.subject)

    def to_dict(self) -> dict:
        return asdict(self)


def _keys(previous: Optional[dict]) -> set[tuple[str, str]]:
    if not previous:
        return set()
    return {(a.get("kind"), a.get("subject")) for a in previous.get("alerts", []) or []}


def mark_new(alerts: Iterable[Alert], previous: Optional[dict]) -> list[Alert]:
    """Set `new` on each alert: new unless the previous run's metrics.json raised the same kind+subject."""
    seen = _keys(previous)
    return [replace(a, new=a.key not in seen) for a in alerts]


def resolved_since(alerts: Iterable[Alert], previous: Optional[dict], checked: Optional[Iterable[str]] = None) -> list[dict]:
    """The previous run's alerts that this run no longer raises.

    `checked` names the alert kinds whose checks ran this time: an alert of a kind
    that could not be checked (no labels yet, no data) is pending, not resolved.
    """
    now = {a.key for a in alerts}
    kinds = set(KINDS if checked is None else checked)
    if not previous:
        return []
    return [
        a for a in previous.get("alerts", []) or []
        if (a.get("kind"), a.get("subject")) not in now and a.get("kind") in kinds
    ]


def status_of(alerts: Iterable[Alert], has_data: bool) -> str:
    """ok | warning | alert | no_data: the run's headline status."""
    alerts = list(alerts)
    if not has_data:
        return "no_data"
    if any(a.severity == "critical" for a in alerts):
        return "alert"
    if alerts:
        return "warning"
    return "ok"
