"""Small helpers the Airflow DAGs call: where the configs are, and which day a run monitors.

Airflow-free and light (stdlib only, plus monitor.config when loading configs), so the
DAG file stays quick to parse and these rules are unit-testable without a scheduler.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional

__all__ = [
    "CONFIG_DIR_ENV",
    "CONFIG_DIR_VARIABLE",
    "DAG_ID_PREFIX",
    "config_dir",
    "config_files",
    "dag_id_for",
    "cron_for",
    "resolve_date",
    "peek",
    "broken_dag_id",
]

CONFIG_DIR_ENV = "MONITOR_CONFIG_DIR"
CONFIG_DIR_VARIABLE = "monitor_config_dir"  # Airflow Variable (or env AIRFLOW_VAR_MONITOR_CONFIG_DIR)
DAG_ID_PREFIX = "drift_monitor__"
REPO_ROOT = Path(__file__).resolve().parents[2]  # the repo checkout (dags/ and monitors/ beside monitor/)

# Airflow's cron presets, spelled out: CronDataIntervalTimetable wants a cron expression.
_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def config_dir(env: Optional[Mapping[str, str]] = None, variable: Optional[Callable[[], Optional[str]]] = None) -> Path:
    """The monitors folder: env MONITOR_CONFIG_DIR, else the Airflow Variable, else <repo>/monitors.

    `variable` is a zero-argument callable returning the Variable's value (or None); the DAG
    file passes one, so this module needs no Airflow. Relative paths are taken from the repo root.
    """
    env = os.environ if env is None else env
    raw = (env.get(CONFIG_DIR_ENV) or "").strip()
    if not raw and variable is not None:
        try:
            raw = (variable() or "").strip()
        except Exception:  # noqa: BLE001 - no metadata DB / no API server: fall back to the default
            raw = ""
    path = Path(raw).expanduser() if raw else REPO_ROOT / "monitors"
    return path if path.is_absolute() else REPO_ROOT / path


def config_files(folder: Path) -> list[Path]:
    """The monitor configs in `folder` (*.yaml, *.yml; not hidden, not starting with '_'), sorted."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix in (".yaml", ".yml") and not p.name.startswith((".", "_"))
    )


def dag_id_for(name: str) -> str:
    return DAG_ID_PREFIX + name


def cron_for(schedule: Optional[str]) -> Optional[str]:
    """A cron expression for a config's `schedule` ("@daily" -> "0 0 * * *"); None means manual only."""
    if schedule is None or str(schedule).strip().lower() in ("", "none", "@once"):
        return None
    s = str(schedule).strip()
    if s.startswith("@"):
        if s not in _PRESETS:
            raise ValueError(f"schedule {s!r} is not a cron preset; use one of {', '.join(_PRESETS)} or a cron expression")
        return _PRESETS[s]
    if len(s.split()) not in (5, 6):
        raise ValueError(f"schedule {s!r} is not a cron expression (five fields, e.g. '0 2 * * *')")
    return s


def _as_date(value: Any) -> Optional[dt.date]:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def resolve_date(param_date: Any = None, data_interval_start: Any = None, run_after: Any = None) -> dt.date:
    """The monitored day: param `date` > data_interval_start (UTC) > run_after - 1 day.

    A blank `date` means "the run's own day". Manual runs in Airflow 3 may have no
    logical date and no data interval, hence the run_after fallback (the day before
    the run was asked for, as a nightly run would have monitored).
    """
    if param_date is not None and str(param_date).strip():
        s = str(param_date).strip()
        if not _DATE.match(s):
            raise ValueError(f"param date={s!r} is not a date; use YYYY-MM-DD or leave it blank for the run's own day")
        try:
            return dt.date.fromisoformat(s)
        except ValueError as exc:
            raise ValueError(f"param date={s!r} is not a valid date ({exc}); use YYYY-MM-DD") from None
    day = _as_date(data_interval_start)
    if day is not None:
        return day
    after = _as_date(run_after)
    if after is not None:
        return after - dt.timedelta(days=1)
    raise ValueError("cannot tell which day to monitor: no `date` param, no data interval and no run_after")


_NAME = re.compile(r"^[a-z0-9_]+$")


def peek(path: Path) -> dict[str, Any]:
    """What can still be read from a config that does not load: its name, schedule and email.to.

    Lenient on purpose (any error gives {}): it only names the DAG that reports the config
    error and addresses its failure notice. Imports yaml lazily.
    """
    try:
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - unreadable or not YAML: nothing to peek at
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, Any] = {}
    name = data.get("name")
    if isinstance(name, str) and _NAME.match(name):
        out["name"] = name
    schedule = data.get("schedule")
    if schedule is None or isinstance(schedule, str):
        try:
            out["cron"] = cron_for(schedule) if "schedule" in data else cron_for("@daily")
        except ValueError:
            pass
    email = data.get("email")
    to = email.get("to") if isinstance(email, dict) else None
    if isinstance(to, str):
        to = [to]
    if isinstance(to, list) and to and all(isinstance(a, str) and "@" in a and "$" not in a for a in to):
        out["to"] = to
    return out


def broken_dag_id(path: Path, name: str | None, taken: set[str]) -> str:
    """The dag_id of the DAG standing in for a broken config: its own name when free (so a monitor
    whose config broke keeps its DAG, runs and history), else the file name, never a taken id."""
    if name and dag_id_for(name) not in taken:
        return dag_id_for(name)
    stem = re.sub(r"[^a-z0-9_]+", "_", Path(path).stem.lower()).strip("_") or "config"
    dag_id = dag_id_for(stem)
    while dag_id in taken:
        dag_id += "__config_error"
    return dag_id
