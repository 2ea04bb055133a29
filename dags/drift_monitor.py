"""One Airflow DAG per monitor config: `drift_monitor__<name>`.

    resolve ──> compute ──> render ──> notify          (the email path)
       │          └──> deep_dive                      (optional Evidently artifact; never fails the run)
       └──> reevaluate_final                          (day - labels.delay_days, now that its labels are final)

The configs come from $MONITOR_CONFIG_DIR, else the Airflow Variable `monitor_config_dir`,
else <repo>/monitors. Parsing imports only airflow.sdk, yaml and pydantic; pandas, scipy,
boto3 and evidently load inside the tasks.

A config that fails to load does not take the other monitors down with it: its error is
raised when the DagBag validates a placeholder DAG, which Airflow records as an import
error of this file (naming the YAML file and the key), while every good config's DAG
is still bagged. See _ConfigErrors below.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, dag, get_current_context, get_parsing_context, task

import monitor.airflow as dagutil
from monitor.config import MonitorConfig, load_config
from monitor.errors import ConfigError

START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
RETRIES = 2
RETRY_DELAY = dt.timedelta(minutes=5)

PARAMS = {
    "date": Param(
        None,
        type=["null", "string"],
        format="date",
        title="Date to monitor",
        description="YYYY-MM-DD. Leave blank for the run's own day (the day before a nightly run).",
    ),
    "send_email": Param(True, type="boolean", title="Send the email", description="Off: write the outputs only."),
    "resend": Param(
        False, type="boolean", title="Resend",
        description="Send again even if this date's email already went out (reruns do not re-send by default).",
    ),
}


def _variable() -> str | None:
    from airflow.sdk import Variable

    return Variable.get(dagutil.CONFIG_DIR_VARIABLE, default=None)


# --------------------------------------------------------------------------- run-time helpers


def _monitored_day(context) -> dt.date:
    dag_run = context.get("dag_run")
    return dagutil.resolve_date(
        (context.get("params") or {}).get("date"),
        context.get("data_interval_start"),
        getattr(dag_run, "run_after", None),
    )


def _connection_env() -> dict:
    """os.environ, plus the aws_default / smtp_default connections from Airflow when not set in the env."""
    import json
    import os

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


def _clients(env: dict):
    """The S3 storage and SMTP settings the pipeline uses, from `env`."""
    from monitor.io.storage import S3Storage
    from monitor.run import Clients

    return Clients.from_env(env, s3=S3Storage(env=env))


def _fail_fast(exc: Exception) -> Exception:
    """A bad config or unusable data will not fix itself on retry: fail the task at once."""
    from airflow.sdk.exceptions import AirflowFailException

    from monitor.errors import DataError

    if isinstance(exc, (ConfigError, DataError)):
        return AirflowFailException(str(exc))
    return exc


def _on_failure(context, *, config_path: str) -> None:
    """on_failure_callback: the failure notice, through the same email path as the report."""
    from monitor.run.phases import notify_failure

    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    error = f"{type(exc).__name__}: {exc}" if exc is not None else "the task failed (see its log)"
    try:
        day = _monitored_day(context)
    except Exception as bad:  # noqa: BLE001 - e.g. a malformed `date` param: still send the notice
        day, error = None, f"{error} ({bad})"
    try:
        cfg = load_config(config_path)
    except Exception:  # noqa: BLE001
        cfg = None
    from monitor.run import Clients

    try:
        clients = Clients.from_env(_connection_env())
    except Exception:  # noqa: BLE001 - a bad connection: the notice goes to the outbox
        clients = Clients()
    notify_failure(
        cfg, day, error, clients=clients,
        task=getattr(ti, "task_id", None), dag_id=getattr(ti, "dag_id", None), monitor_name=Path(config_path).stem,
    )


# --------------------------------------------------------------------------- the DAG


def build_dag(cfg: MonitorConfig, config_path: str) -> DAG:
    """The DAG for one monitor config. Task bodies are one call into monitor.run.phases each."""
    cron = dagutil.cron_for(cfg.schedule)

    def config() -> MonitorConfig:  # re-read at run time: tasks see the config as it is now
        return load_config(config_path)

    @dag(
        dag_id=dagutil.dag_id_for(cfg.name),
        description=f"Drift and performance monitor '{cfg.name}' ({config_path})",
        schedule=CronDataIntervalTimetable(cron, timezone="UTC") if cron else None,
        start_date=START_DATE,
        catchup=False,
        # one run at a time: each day's "new vs ongoing" alerts and trends read the days before it
        max_active_runs=1,
        default_args={
            "retries": RETRIES,
            "retry_delay": RETRY_DELAY,
            "on_failure_callback": functools.partial(_on_failure, config_path=config_path),
        },
        params=PARAMS,
        tags=["drift_monitor", cfg.name],
        doc_md=__doc__,
    )
    def drift_monitor():
        @task
        def resolve() -> dict:
            """The monitored day (param date > data_interval_start > run_after - 1 day)."""
            try:
                day = _monitored_day(get_current_context())
            except ValueError as exc:  # a malformed `date` param: retrying will not fix it
                from airflow.sdk.exceptions import AirflowFailException

                raise AirflowFailException(str(exc)) from exc
            return {"date": day.isoformat(), "config": config_path}

        @task
        def compute(run: dict) -> dict:
            from monitor.run import RunOptions
            from monitor.run import phases as pipeline

            try:
                # no failure notice here: the on_failure_callback sends one once retries are spent
                return pipeline.compute(config(), _day(run), RunOptions(failure_notice=False), _clients(_connection_env()))
            except Exception as exc:
                raise _fail_fast(exc) from exc

        @task
        def render(computed: dict) -> str:
            from monitor.run import phases as pipeline

            return pipeline.render(config(), _day(computed), _clients(_connection_env()))

        @task
        def notify(computed: dict) -> dict:
            from monitor.run import RunOptions
            from monitor.run import phases as pipeline

            params = get_current_context()["params"]
            options = RunOptions(send_email=bool(params.get("send_email", True)), resend=bool(params.get("resend", False)))
            return pipeline.notify(config(), _day(computed), options, _clients(_connection_env()))

        @task
        def reevaluate_final(run: dict) -> dict | None:
            """Recompute day - labels.delay_days, whose labels are now final; never re-sends."""
            from monitor.run import RunOptions
            from monitor.run import phases as pipeline

            res = pipeline.reevaluate_final(config(), _day(run), RunOptions(failure_notice=False), _clients(_connection_env()))
            return None if res is None else {"date": res.date, "output_uri": res.output_uri, "status": res.status}

        @task
        def deep_dive(computed: dict) -> str | None:
            """The optional Evidently report (report.evidently: true); logs and moves on if it fails."""
            cfg = config()
            if not cfg.report.evidently:
                return None
            from monitor.run import phases as pipeline

            return pipeline.build_deep_dive(cfg, _day(computed), clients=_clients(_connection_env()))

        run = resolve()
        computed = compute(run)
        render(computed) >> notify(computed)
        deep_dive(computed)
        reevaluate_final(run)

    return drift_monitor()


def _day(run: dict) -> dt.date:
    return dt.date.fromisoformat(run["date"])


class _ConfigErrors(DAG):
    """Stands in for the configs that failed to load: the DagBag calls validate() on every DAG
    it finds, records what it raises as an import error of this file, and still bags the others."""

    config_errors: tuple[str, ...] = ()

    def validate(self):
        raise ConfigError(
            f"{len(self.config_errors)} monitor config(s) failed to load; their DAGs are missing:\n"
            + "\n".join(self.config_errors)
        )


def build_all() -> dict[str, DAG]:
    """Every monitor's DAG by dag_id, plus the _ConfigErrors placeholder when a config is broken."""
    folder = dagutil.config_dir(variable=_variable)
    # A worker running one task parses this file for one dag_id: build only that DAG.
    wanted = get_parsing_context().dag_id
    dags: dict[str, DAG] = {}
    errors: list[str] = []
    seen: dict[str, Path] = {}
    for path in dagutil.config_files(folder):
        try:
            cfg = load_config(path)
            dag_id = dagutil.dag_id_for(cfg.name)
            if dag_id in seen:
                raise ConfigError(f"{path}: name: {cfg.name!r} is already used by {seen[dag_id]}; monitor names must be unique")
            seen[dag_id] = path
            if wanted is None or wanted == dag_id:
                dags[dag_id] = build_dag(cfg, str(path))
        except (ConfigError, ValueError) as exc:
            errors.append(f"{path}: {exc}" if str(path) not in str(exc) else str(exc))
    if errors and wanted is None:
        broken = _ConfigErrors(dag_id="drift_monitor__config_errors", schedule=None, start_date=START_DATE)
        broken.config_errors = tuple(errors)
        dags[broken.dag_id] = broken
    return dags


# Airflow collects the DAG objects found in the module's globals.
globals().update(build_all())
