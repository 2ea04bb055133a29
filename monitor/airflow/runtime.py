"""What the DAG's task bodies call at run time: fail fast or retry, one-line task logs, the failure notice.

Airflow is imported lazily (only AirflowFailException and the Variable/Connection accessors), so
this module is importable, and testable, without a scheduler.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

from monitor.errors import MonitorError, NotFoundError, NotifyError, StorageError
from monitor.textcut import TEXT_CHARS, cut

__all__ = [
    "resolve",
    "compute",
    "render",
    "notify",
    "reevaluate_final",
    "deep_dive",
    "config_error",
    "on_failure",
    "is_transient",
    "failing_fast",
    "connection_env",
    "log_compute",
    "log_render",
    "log_notify",
    "log_skip",
    "run_links",
    "rerun_commands",
    "send_failure_notice",
]

log = logging.getLogger("monitor.airflow")


# --------------------------------------------------------------------------- fail fast or retry


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may fix it: storage and SMTP trouble, yes; a missing object or bucket, a bad
    config, unusable data or a bug, no."""
    if isinstance(exc, NotFoundError):
        return False
    return isinstance(exc, (StorageError, NotifyError, ConnectionError, TimeoutError))


def one_line(exc: BaseException) -> str:
    """The error as one line: our own errors and AirflowFailException by their message (which names
    the file, URI or key), anything else with its type."""
    text = cut(" ".join(str(exc).split()), TEXT_CHARS) or type(exc).__name__  # an error may quote a megabyte value
    plain = isinstance(exc, MonitorError) or type(exc).__name__ == "AirflowFailException"
    return text if plain else f"{type(exc).__name__}: {text}"


@contextlib.contextmanager
def failing_fast(step: str) -> Iterator[None]:
    """Re-raise transient errors (Airflow retries them); turn every other error into an
    AirflowFailException with one readable line, so the task fails on its first try."""
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            log.warning("%s: %s (transient: Airflow retries this task)", step, one_line(exc))
            raise
        if not isinstance(exc, MonitorError):  # a bug: keep its traceback in the log
            log.exception("%s: unexpected error", step)
        from airflow.sdk.exceptions import AirflowFailException

        log.error("%s failed, not retried: %s", step, one_line(exc))
        raise AirflowFailException(one_line(exc)) from None


def connection_env() -> dict[str, str]:
    """os.environ, plus the aws_default / smtp_default connections from Airflow when not set in the env."""
    env = dict(os.environ)
    for conn_id, var in (("aws_default", "AIRFLOW_CONN_AWS_DEFAULT"), ("smtp_default", "AIRFLOW_CONN_SMTP_DEFAULT")):
        if env.get(var):
            continue
        try:
            from airflow.sdk import Connection

            c = Connection.get(conn_id)
        except Exception:  # noqa: BLE001 - not defined: local files / .eml outbox / boto3's own env
            continue
        env[var] = json.dumps({
            "conn_type": c.conn_type, "host": c.host, "login": c.login, "password": c.password,
            "port": c.port, "schema": c.schema, "extra": c.extra_dejson,
        })
    return env


# --------------------------------------------------------------------------- task logs


def log_compute(res: Mapping[str, Any]) -> None:
    """One line per input, the profile cache, one line per alert, where the results are."""
    for item in res.get("inputs") or []:
        rows = item.get("rows")
        log.info("input %-10s %s  rows=%s", item.get("role"), item.get("uri"), "?" if rows is None else rows)
    for part in res.get("missing") or []:
        log.info("input production %s  MISSING (%s)", part.get("uri"), part.get("error") or "no data")
    cached = res.get("profile_cached")
    if cached is not None:
        log.info("drift reference profile: cache %s", "hit" if cached else "miss (fitted and cached)")
    alerts = res.get("alert_list") or []
    log.info("status %s, %d alert(s)", str(res.get("status")).upper(), res.get("alerts", len(alerts)))
    for a in alerts:
        log.info("alert %-8s %-11s %s%s", a.get("severity"), a.get("kind"), a.get("subject"), " (new)" if a.get("new") else "")
    log.info("results: %s", res.get("output_uri"))


def log_render(uri: str) -> None:
    log.info("report: %s", uri)


def log_notify(email: Mapping[str, Any]) -> None:
    """The email decision and why."""
    if email.get("sent"):
        to = ", ".join(email.get("to") or []) if isinstance(email.get("to"), list) else email.get("to")
        via = email.get("path") or email.get("via") or "SMTP"
        log.info("email SENT to %s (%s): %s", to or "?", via, email.get("subject") or "")
    elif email.get("error"):
        log.error("email NOT delivered: %s", email["error"])
    else:
        log.info("email not sent: %s", email.get("reason") or "no reason recorded")


def log_skip(step: str, why: str) -> None:
    log.info("%s: nothing to do: %s", step, why)


# --------------------------------------------------------------------------- the failure notice


def run_links(ti: Any, base_url: Optional[str] = None) -> list[tuple[str, str]]:
    """The Airflow run and task-log URLs of a task instance (from [api] base_url)."""
    if ti is None or not getattr(ti, "dag_id", None) or not getattr(ti, "run_id", None):
        return []
    if base_url is None:
        try:
            from airflow.configuration import conf

            base_url = conf.get("api", "base_url", fallback="http://localhost:8080/")
        except Exception:  # noqa: BLE001
            base_url = "http://localhost:8080/"
    base = str(base_url).rstrip("/")
    links = [("Airflow run", f"{base}/dags/{ti.dag_id}/runs/{quote(str(ti.run_id), safe='')}")]
    try:
        log_url = ti.log_url
    except Exception:  # noqa: BLE001 - not a RuntimeTaskInstance
        log_url = None
    if not log_url and getattr(ti, "task_id", None):
        log_url = f"{links[0][1]}/tasks/{ti.task_id}"
    if log_url:
        links.append(("Task log", str(log_url)))
    return links


def rerun_commands(config_path: str, day: Optional[dt.date], dag_id: Optional[str] = None) -> list[tuple[str, str]]:
    """The exact commands that rerun the day: Airflow's (a new run for the date) and ours."""
    date = day.isoformat() if day else "YYYY-MM-DD"
    out = []
    if dag_id:
        conf = json.dumps({"date": date})
        out.append(("Airflow: a new run for this day (or press Clear on the failed task)",
                    f"airflow dags trigger {dag_id} -c '{conf}' --run-id \"date_{date}__$(date -u +%Y%m%dT%H%M%S)\""))
    out.append(("Without Airflow, on a machine with the package", f"drift-monitor run {config_path} --date {date}"))
    return out


def send_failure_notice(context: Mapping[str, Any], *, config_path: str, day: Optional[dt.date],
                        to: Optional[list[str]] = None) -> Optional[dict]:
    """The failure notice, through the same email path as the report, with links and rerun commands."""
    from monitor.config import load_config
    from monitor.run import Clients, notify_failure

    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    error = one_line(exc) if exc is not None else "the task failed (see its log)"
    try:
        cfg = load_config(config_path)
    except Exception:  # noqa: BLE001 - a broken config still gets its notice
        cfg = None
    try:
        clients = _clients()
    except Exception:  # noqa: BLE001 - a bad connection: the notice goes to the outbox
        clients = Clients()
    dag_id = getattr(ti, "dag_id", None)
    record = notify_failure(
        cfg, day, error, clients=clients, task=getattr(ti, "task_id", None), dag_id=dag_id,
        monitor_name=Path(config_path).stem, links=run_links(ti),
        commands=rerun_commands(config_path, day, dag_id), to=to,
    )
    if record:
        log.info("failure notice sent to %s (%s)", ", ".join(record.get("to") or []), record.get("method"))
    else:
        log.error("the failure notice could not be sent (see above)")
    return record


# --------------------------------------------------------------------------- the task bodies


def _config(config_path: str) -> Any:
    from monitor.config import load_config

    return load_config(config_path)


def _clients() -> Any:
    """The S3 storage and SMTP settings (monitor.run.Clients), from the environment and Airflow's connections."""
    from monitor.io.storage import S3Storage
    from monitor.run import Clients

    env = connection_env()
    return Clients.from_env(env, s3=S3Storage(env=env))


def _day(run: Mapping[str, Any]) -> dt.date:
    return dt.date.fromisoformat(str(run["date"]))


def monitored_day(context: Mapping[str, Any]) -> dt.date:
    """param `date` > data_interval_start > run_after - 1 day (see monitor.airflow.resolve_date)."""
    from monitor.airflow import resolve_date

    dag_run = context.get("dag_run")
    return resolve_date(
        (context.get("params") or {}).get("date"),
        context.get("data_interval_start"),
        getattr(dag_run, "run_after", None),
    )


def resolve(context: Mapping[str, Any], config_path: str) -> dict:
    """The monitored day, said once in the log (a malformed `date` param fails at once)."""
    with failing_fast("resolve"):
        day = monitored_day(context)
    params = context.get("params") or {}
    why = "param date" if str(params.get("date") or "").strip() else (
        "the run's data interval" if context.get("data_interval_start") else "the day before the run was asked for")
    log.info("monitoring %s (from %s) with %s", day, why, config_path)
    return {"date": day.isoformat(), "config": config_path}


def compute(config_path: str, run: Mapping[str, Any]) -> dict:
    from monitor.run import RunOptions, phases

    with failing_fast("compute"):
        # no failure notice here: on_failure sends one when the task has failed for good
        res = phases.compute(_config(config_path), _day(run), RunOptions(failure_notice=False), _clients())
    log_compute(res)
    return {k: res[k] for k in ("date", "output_uri", "status", "alerts")}


def render(config_path: str, computed: Mapping[str, Any]) -> str:
    from monitor.run import phases

    with failing_fast("render"):
        uri = phases.render(_config(config_path), _day(computed), _clients())
    log_render(uri)
    return uri


def notify(config_path: str, computed: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    from monitor.run import RunOptions, phases

    options = RunOptions(send_email=bool(params.get("send_email", True)), resend=bool(params.get("resend", False)))
    with failing_fast("notify"):
        try:
            email = phases.notify(_config(config_path), _day(computed), options, _clients())
        except NotifyError as exc:
            log_notify({"sent": False, "error": str(exc)})
            raise
    log_notify(email)
    log.info("index page (every monitor, last 30 days): %s", _config(config_path).output.uri.rstrip("/") + "/index.html")
    return email


def reevaluate_final(config_path: str, run: Mapping[str, Any]) -> Optional[dict]:
    """Recompute day - labels.delay_days, whose labels are now final; never re-sends."""
    from monitor.run import RunOptions, phases

    with failing_fast("reevaluate_final"):
        cfg = _config(config_path)
        if not cfg.labels or cfg.labels.delay_days <= 0:
            log_skip("reevaluate_final", "no delayed labels (labels.delay_days is 0 or there are no labels)")
            return None
        target = _day(run) - dt.timedelta(days=cfg.labels.delay_days)
        res = phases.reevaluate_final(cfg, _day(run), RunOptions(failure_notice=False), _clients())
    if res is None:
        log_skip("reevaluate_final", f"{target} (labels final after {cfg.labels.delay_days} days) was never monitored")
        return None
    log.info("re-evaluated %s with final labels: %s, %d alert(s), %s (email not re-sent)",
             res.date, res.status.upper(), len(res.alerts), res.output_uri)
    return {"date": res.date, "output_uri": res.output_uri, "status": res.status}


def deep_dive(config_path: str, computed: Mapping[str, Any]) -> Optional[str]:
    """The optional Evidently report (report.evidently: true); logs and moves on if it fails."""
    cfg = _config(config_path)
    if not cfg.report.evidently:
        log_skip("deep_dive", "report.evidently is off in the config")
        return None
    from monitor.run import phases

    uri = phases.build_deep_dive(cfg, _day(computed), clients=_clients())
    if uri is None:
        log_skip("deep_dive", "the Evidently report could not be built (warning above); the run goes on")
    else:
        log.info("Evidently report: %s", uri)
    return uri


def config_error(config_path: str) -> None:
    """The task of a broken config's DAG: fail at once with the config's error, re-read now."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        _config(config_path)
    except Exception as exc:  # noqa: BLE001 - any error: the message is the point
        log.error("config error: %s", one_line(exc))
        raise AirflowFailException(one_line(exc)) from None
    raise AirflowFailException(
        f"{config_path} loads now, but this DAG was built while it was broken; "
        "wait for the next DAG-folder scan (the monitor's own DAG comes back), then trigger it again"
    )


def on_failure(context: Mapping[str, Any], *, config_path: str, to: Optional[list[str]] = None) -> None:
    """on_failure_callback of every task: the failure notice (the day may be unknown), unless the run's
    `send_email` param is off (as `--no-email` on the command line): then the day is only marked failed."""
    try:
        day: Optional[dt.date] = monitored_day(context)
    except Exception:  # noqa: BLE001 - e.g. a malformed `date` param: still send the notice
        day = None
    if not bool((context.get("params") or {}).get("send_email", True)):
        _mark_failed(context, config_path, day)
        return
    send_failure_notice(context, config_path=config_path, day=day, to=to)


def _mark_failed(context: Mapping[str, Any], config_path: str, day: Optional[dt.date]) -> None:
    """No notice (send_email is off): the failure is said in the log and on the index page."""
    from monitor.redact import redact
    from monitor.run.email import index_failure

    exc = context.get("exception")
    error = one_line(exc) if exc is not None else "the task failed (see its log)"
    log.warning("no failure notice: the run's send_email param is off (%s)", error)
    if day is None:
        return
    try:
        index_failure(_config(config_path), day, redact(error), _clients())
    except Exception as exc:  # noqa: BLE001 - a broken config: the log line above is all there is
        log.info("the failure is not on the index page: %s", one_line(exc))
