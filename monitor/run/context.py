"""What one run is given: options and clients resolved once at the edge (CLI or DAG), and the
frozen context every stage reads.

    RunOptions   what the caller asked for (email or not, resend, as-of date, ...)
    Clients      where storage and email go (S3 client, SMTP settings; None = local / outbox)
    RunContext   config, date, window, frames, features, history and clock of one computation
    RunResult    what `run` returns
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import pandas as pd

    from monitor.config import MonitorConfig
    from monitor.io.inputs import Inputs
    from monitor.io.storage import S3Storage
    from monitor.notify.smtp import SmtpSettings

__all__ = ["RunOptions", "Clients", "RunContext", "RunResult"]


@dataclass(frozen=True)
class RunOptions:
    """What the caller asked for."""

    send_email: bool = True  # False: write the outputs, send nothing (not even a failure notice)
    resend: bool = False  # send even if this date's email already went out
    as_of: Optional[dt.date] = None  # "today" for label finality; default the real today
    failure_notice: bool = True  # send a notice when the run cannot complete
    deep_dive: bool = True  # the optional Evidently report (when the config asks for it)

    def today(self) -> dt.date:
        return self.as_of or dt.date.today()


@dataclass(frozen=True)
class Clients:
    """Where storage and email go. `s3=None` builds a client from the environment on first S3 use;
    `smtp=None` writes .eml files to the outbox."""

    s3: Optional[S3Storage] = None
    smtp: Optional[SmtpSettings] = None

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, *, s3: Optional[S3Storage] = None) -> Clients:
        """SMTP from AIRFLOW_CONN_SMTP_DEFAULT (none: the outbox); S3 from AIRFLOW_CONN_AWS_DEFAULT / AWS_*."""
        from monitor.notify.smtp import smtp_settings_from_env

        return cls(s3=s3, smtp=smtp_settings_from_env(dict(os.environ if env is None else env)))


@dataclass(frozen=True)
class RunContext:
    """Everything a stage may read for one monitored date. Stages never touch storage or the clock."""

    cfg: MonitorConfig
    day: dt.date
    window: list[dt.date]
    as_of: dt.date
    inputs: Inputs
    current: pd.DataFrame  # the production window (labels joined; columns coerced by quality)
    features: dict[str, str]  # column -> "numerical" | "categorical"
    history: list[dict]  # metrics.json of earlier dates, oldest first
    labelled: int  # rows of `current` with a label
    final: bool  # the window's labels are complete (older than labels.delay_days)

    @property
    def reference(self) -> pd.DataFrame:
        return self.inputs.reference

    @property
    def baseline(self) -> pd.DataFrame:
        return self.inputs.baseline

    @property
    def has_data(self) -> bool:
        return len(self.current) > 0


@dataclass
class RunResult:
    """What `run` returns: the status, where the outputs are, the metrics and the email record."""

    status: str
    date: str
    output_uri: str
    metrics: dict
    email: dict
    seconds: float
    alerts: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        crit = sum(1 for a in self.alerts if a.get("severity") == "critical")
        return f"{self.date} {self.status.upper():8s} alerts={len(self.alerts)} (critical {crit})  {self.output_uri}"


