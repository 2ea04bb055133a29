"""One Airflow DAG per monitor config: `drift_monitor__<name>`.

    resolve ──> compute ──> render ──> notify          (the email path)
       │          └──> deep_dive                      (optional Evidently artifact; never fails the run)
       └──> reevaluate_final                          (day - labels.delay_days, now that its labels are final)

The configs come from $MONITOR_CONFIG_DIR, else the Airflow Variable `monitor_config_dir`,
else <repo>/monitors. Parsing imports only airflow.sdk, yaml and pydantic; pandas, scipy,
boto3 and evidently load inside the tasks. The task bodies live in monitor.airflow.runtime.

A config that fails to load does not take the other monitors down with it. Airflow 3.3
records any error raised while parsing this file as an import error of the file and marks
every DAG of the file stale, so no error may leave build_all(): a broken config becomes a
DAG of its own (same dag_id when its `name` is readable, shown as "<name>: CONFIG ERROR")
whose only task fails at once with the config's error and sends the failure notice.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, dag, get_current_context, get_parsing_context, task

import monitor.airflow as helpers
from monitor.airflow import runtime
from monitor.config import MonitorConfig, load_config
from monitor.errors import ConfigError

START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
RETRIES = 2  # transient storage and SMTP errors only; everything else fails on the first try
RETRY_DELAY = dt.timedelta(minutes=5)
# Airflow's own kill, a little after the monitor's in-process limit (limits.run_seconds), which
# fails first with a line that says what timed out.
TIMEOUT_GRACE = dt.timedelta(minutes=2)

PARAMS = {
    "date": Param(
        None,
        type=["null", "string"],
        format="date",
        title="Date to monitor",
        description=(
            "YYYY-MM-DD: the day whose data this run checks. Blank: the day before the run "
            "(a nightly run monitors yesterday). Airflow's own 'Logical date' field does not choose the day: leave it as is."
        ),
    ),
    "send_email": Param(True, type="boolean", title="Send the email", description="Off: write the outputs only."),
    "resend": Param(
        False, type="boolean", title="Resend",
        description="Send again even if this date's email already went out (reruns do not re-send by default).",
    ),
}

RUNBOOK = """\
### Drift monitor `{name}`

Checks one day of production data of **{name}** against its training snapshot: data quality,
drift, performance (on the labels that have arrived) and business impact; then emails the report.

| | |
|---|---|
| config | `{path}` |
| schedule | `{schedule}` (UTC); each run monitors **the day before it**: its data interval start |
| outputs | `{output}{name}/date=YYYY-MM-DD/` (metrics.json, report.html, manifest.json); all monitors: `{output}index.html` |
| email | {email} |

**Which day a run monitors**: the `date` param if set, else the run's data interval start
(the *Logical date* column), else the day before the run was triggered. Run ids carry the time
the run was due (`scheduled__2026-03-26...` monitors 2026-03-25); the `resolve` task's log says
the day.

**Rerun a day**: *Trigger* with `date` = YYYY-MM-DD (outputs are replaced; the email is not sent
again unless `resend` is on), or
`airflow dags trigger {dag_id} -c '{{"date": "2026-03-25"}}' --run-id date_2026-03-25__1` (a run id
naming the day shows it in the run list). Without Airflow:
`drift-monitor run {path} --date 2026-03-25`.

**Backfill a range**: `airflow backfill create --dag-id {dag_id} --from-date A --to-date B --max-active-runs 1`
(one run per day, in order; add `--reprocess-behavior completed` to recompute days that succeeded).

**When a task fails**: a failure notice goes to the same recipients, with links to the run and
its log. A missing training snapshot, a bad config or unusable data fail at once; storage and
SMTP errors are retried {retries} times, {delay} minutes apart.
"""

BROKEN_DOC = """\
### Config error: monitor `{name}` is not running

`{path}` does not load, so this DAG stands in for the monitor: each run fails at once with the
error below and sends a failure notice. The other monitors are not affected.

```
{error}
```

Fix the file; at the next DAG-folder scan this DAG becomes the monitor again (same id when
the config's `name` is unchanged, so its history is kept). Check a fix without Airflow:
`drift-monitor run {path} --date YYYY-MM-DD --no-email`.
"""


def _variable() -> str | None:
    from airflow.sdk import Variable

    return Variable.get(helpers.CONFIG_DIR_VARIABLE, default=None)


def _schedule(cron: str | None) -> CronDataIntervalTimetable | None:
    return CronDataIntervalTimetable(cron, timezone="UTC") if cron else None


def _runbook(cfg: MonitorConfig, config_path: str, dag_id: str) -> str:
    email = ("to " + ", ".join(cfg.email.to) if cfg.email.to else "to the outbox") + f" (send: {cfg.email.send})"
    return RUNBOOK.format(
        name=cfg.name, path=config_path, schedule=cfg.schedule or "manual only", dag_id=dag_id,
        output=cfg.output.uri.rstrip("/") + "/", email=email, retries=RETRIES,
        delay=int(RETRY_DELAY.total_seconds() // 60),
    )


def build_dag(cfg: MonitorConfig, config_path: str) -> DAG:
    """The DAG for one monitor config. Each task body is one call into monitor.airflow.runtime."""
    cron = helpers.cron_for(cfg.schedule)
    dag_id = helpers.dag_id_for(cfg.name)

    @dag(
        dag_id=dag_id,
        description=f"Drift and performance monitor '{cfg.name}' ({config_path})",
        schedule=_schedule(cron),
        start_date=START_DATE,
        catchup=False,
        # one run at a time: each day's "new vs ongoing" alerts and trends read the days before it
        max_active_runs=1,
        default_args={
            "retries": RETRIES,
            "retry_delay": RETRY_DELAY,
            "execution_timeout": dt.timedelta(seconds=cfg.limits.run_seconds) + TIMEOUT_GRACE,
            "on_failure_callback": functools.partial(runtime.on_failure, config_path=config_path),
        },
        params=PARAMS,
        tags=["drift_monitor", cfg.name],
        doc_md=_runbook(cfg, config_path, dag_id),
    )
    def drift_monitor():
        @task
        def resolve() -> dict:
            """The monitored day (param date > data_interval_start > run_after - 1 day)."""
            return runtime.resolve(get_current_context(), config_path)

        @task
        def compute(run: dict) -> dict:
            return runtime.compute(config_path, run)

        @task
        def render(computed: dict) -> str:
            return runtime.render(config_path, computed)

        @task
        def notify(computed: dict) -> dict:
            return runtime.notify(config_path, computed, get_current_context()["params"])

        @task
        def reevaluate_final(run: dict) -> dict | None:
            """Recompute day - labels.delay_days, whose labels are now final; never re-sends."""
            return runtime.reevaluate_final(config_path, run)

        @task
        def deep_dive(computed: dict) -> str | None:
            """The optional Evidently report (report.evidently: true); logs and moves on if it fails."""
            return runtime.deep_dive(config_path, computed)

        run = resolve()
        computed = compute(run)
        render(computed) >> notify(computed)
        deep_dive(computed)
        reevaluate_final(run)

    return drift_monitor()


def build_broken_dag(dag_id: str, config_path: str, error: str, peeked: dict) -> DAG:
    """A DAG of its own for a config that does not load: visible by name in the UI, each run fails
    loudly with the error (and the failure notice), and no other monitor's DAG is touched."""
    name = peeked.get("name") or Path(config_path).stem

    @dag(
        dag_id=dag_id,
        dag_display_name=f"{name}: CONFIG ERROR",
        description=("Config error: " + (error.splitlines() or [""])[0])[:200],
        schedule=_schedule(peeked.get("cron")),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={
            "retries": 0,
            "execution_timeout": TIMEOUT_GRACE,
            "on_failure_callback": functools.partial(runtime.on_failure, config_path=config_path, to=peeked.get("to")),
        },
        params=PARAMS,
        tags=["drift_monitor", "config_error"],
        doc_md=BROKEN_DOC.format(name=name, path=config_path, error=error),
    )
    def broken():
        @task
        def config_error() -> None:
            """Fails with the config's error (re-read now: it may have been fixed since the parse)."""
            runtime.config_error(config_path)

        config_error()

    return broken()


def build_all() -> dict[str, DAG]:
    """Every monitor's DAG by dag_id; a config that does not load gets a DAG of its own that fails.

    Nothing a config does can raise out of this function: Airflow records an exception here as an
    import error of this file, which marks *every* DAG of the file stale (Airflow 3.3), so one typo
    would switch off all monitors.
    """
    folder = helpers.config_dir(variable=_variable)
    # A worker running one task parses this file for one dag_id: build only that DAG.
    wanted = get_parsing_context().dag_id
    dags: dict[str, DAG] = {}
    seen: dict[str, Path] = {}
    broken: list[tuple[Path, str]] = []
    for path in helpers.config_files(folder):
        try:
            cfg = load_config(path)
            dag_id = helpers.dag_id_for(cfg.name)
            if dag_id in seen:
                raise ConfigError(f"{path}: name: {cfg.name!r} is already used by {seen[dag_id]}; monitor names must be unique")
            helpers.cron_for(cfg.schedule)  # a bad schedule is a config error too
            seen[dag_id] = path
            if wanted is None or wanted == dag_id:
                try:
                    dags[dag_id] = build_dag(cfg, str(path))
                except Exception:
                    del seen[dag_id]
                    raise
        except Exception as exc:  # noqa: BLE001 - isolation: one config never breaks the others
            text = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            broken.append((path, text if str(path) in text else f"{path}: {text}"))
    for path, error in broken:
        peeked = helpers.peek(path)
        dag_id = helpers.broken_dag_id(path, peeked.get("name"), set(seen))
        seen[dag_id] = path
        if wanted is None or wanted == dag_id:
            try:
                dags[dag_id] = build_broken_dag(dag_id, str(path), error, peeked)
            except Exception:  # noqa: BLE001 - never let the stand-in take the file down
                continue
    return dags


# Airflow collects the DAG objects found in the module's globals.
globals().update(build_all())
