"""The phases of one monitored date, the one place that wires storage and SMTP to the stages.

    compute(cfg, day)  ->  read window + reference + baseline + labels, run the stages,
                           commit metrics.json (+ to_annotate.csv) with manifest.json
    render(cfg, day)   ->  report.html from the committed metrics.json and the history, committed
    notify(cfg, day)   ->  the email (or .eml in the outbox), once per date; recorded in the manifest
    run(cfg, day)      ->  the three in a row (the CLI); the DAG runs them as separate tasks

Options and clients are resolved once by the caller (`RunOptions`, `Clients`). A stage that
raises is reported (an alert and `errors` in metrics.json), the others still run. A run that
cannot proceed at all (config, reference, storage) raises a MonitorError after sending a
failure notice, and writes nothing, so an earlier good output for the date is never replaced.
Every output is committed with the manifest written last (monitor.io.commit): a phase that stops
half-way leaves the date's previous commit as it was, and readers only trust committed outputs.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Concatenate, Optional, ParamSpec, TypeVar

from monitor import __version__
from monitor.config import MonitorConfig, check_columns
from monitor.errors import DataError, MonitorError, NotFoundError, NotifyError
from monitor.io.commit import Output, UncommittedError, add_outputs, commit, digest, read_committed, update_manifest
from monitor.io.inputs import read_inputs, window_dates
from monitor.io.outputs import link, load_history, output_prefix, read_manifest, sweep_leftovers
from monitor.io.safecsv import safe_csv
from monitor.io.storage import Storage, storage_for, time_limits, writer_tag
from monitor.jsonutil import dumps
from monitor.notify.claim import CLAIM_NAME, claim_send, release_claim, settle_claim, why_claimed
from monitor.notify.smtp import DeliveryUnknownError
from monitor.redact import redact, redact_json
from monitor.run.computation import compute_metrics, infer_features, make_context
from monitor.run.context import Clients, RunOptions, RunResult
from monitor.run.email import email_decision, index_failure, notify_failure, send_report
from monitor.run.memory import lean_allocators

__all__ = [
    "RunResult",
    "run",
    "compute",
    "render",
    "notify",
    "reevaluate_final",
    "window_dates",
    "output_prefix",
    "infer_features",
    "load_history",
    "notify_failure",
    "build_deep_dive",
]

log = logging.getLogger(__name__)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _limited(fn: Callable[Concatenate[MonitorConfig, dt.date, _P], _R]) -> Callable[Concatenate[MonitorConfig, dt.date, _P], _R]:
    """Run a phase within the config's time limits: every storage operation at most limits.read_seconds,
    the phase at most limits.run_seconds; past either, DeadlineError names what timed out."""

    @functools.wraps(fn)
    def limited(cfg: MonitorConfig, day: dt.date, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with time_limits(cfg.limits.read_seconds, cfg.limits.run_seconds):
            return fn(cfg, day, *args, **kwargs)

    return limited


def new_run_id() -> str:
    """A unique id for one run (or phase) of a date: UTC time, host, pid and a random tail."""
    import uuid

    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{writer_tag()}-{uuid.uuid4().hex[:6]}"


def _code_version() -> str:
    """The installed package's version (from its metadata), or MONITOR_CODE_VERSION when set."""
    return os.environ.get("MONITOR_CODE_VERSION") or __version__


def _prefetch_imports(cfg: MonitorConfig) -> None:
    """scikit-learn's import for the domain classifier (~1 s, mostly holding the GIL), begun in the
    background now so that it overlaps the parquet reads; not at all when the classifier is off."""
    if cfg.drift.multivariate.enabled:
        from monitor.stages.drift.multivariate import prefetch_classifier

        prefetch_classifier()


@_limited
def compute(cfg: MonitorConfig, day: dt.date, options: RunOptions = RunOptions(), clients: Optional[Clients] = None) -> dict:
    """Phase 1: read the inputs, run the stages, write metrics.json (+ to_annotate.csv) and the manifest.

    Returns a small XCom-safe dict. Nothing is written when the run cannot proceed,
    so an earlier good output for the date is never replaced by garbage.
    """
    clients = clients or Clients.from_env()
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    as_of = options.today()
    out = output_prefix(cfg, day)
    st_out = storage_for(out, s3=clients.s3)
    try:
        lean_allocators()  # before anything imports pyarrow or starts a thread (the sklearn prefetch's included)
        _prefetch_imports(cfg)
        from monitor.io.text_codes import kept  # imports pandas: after lean_allocators

        with kept():  # text columns hashed once for all stages (their dictionary codes)
            inputs = read_inputs(cfg, day, clients.s3)
            check_columns(cfg, list(inputs.reference.columns))
            history = load_history(cfg, day, s3=clients.s3, limit=cfg.report.trend_runs)
            computed = compute_metrics(make_context(cfg, day, inputs, history, as_of), clients.s3)
    except MonitorError as exc:
        if options.failure_notice and options.send_email:
            notify_failure(cfg, day, str(exc), clients=clients)  # also marks the day failed on the index page
        else:
            index_failure(cfg, day, redact(str(exc)), clients)
        raise
    metrics, to_annotate = computed.metrics, computed.to_annotate

    _add_links(cfg, st_out, out, metrics, annotate=to_annotate is not None and len(to_annotate) > 0)
    manifest = {
        "monitor": cfg.name,
        "date": day.isoformat(),
        "inputs": inputs.objects,
        "partitions": inputs.partitions,
        "rows": metrics["rows"],
        "config_hash": cfg.config_hash,
        "config_path": cfg.source_path,
        "code_version": _code_version(),
        "computed_at": started.isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "timings": {**computed.timings, "compute": round(time.perf_counter() - t0, 4)},
        # the email record survives recomputation (the commit keeps the current manifest's): a rerun
        # does not re-send unless asked
        "email": None,
    }
    files = [Output("metrics.json", redact_json(dumps(metrics)).encode("utf-8"), "application/json")]
    if to_annotate is not None and len(to_annotate):  # formula-safe, cells cut
        files.append(Output("to_annotate.csv", safe_csv(to_annotate).encode("utf-8"), "text/csv"))
    sweep_leftovers(cfg, s3=clients.s3)  # what stopped runs left in .staging folders
    # staged, then the manifest (the commit), then published; a previous run's report.html, or a
    # to_annotate.csv when nothing is left to annotate (its rows are labelled now), is removed
    commit(st_out, out, files, manifest, run_id=new_run_id(), replace=True)
    return {
        "date": day.isoformat(), "output_uri": out, "status": metrics["status"], "alerts": len(metrics["alerts"]),
        # for the task log (monitor.airflow.runtime.log_compute): the inputs, the cache, the alerts
        "inputs": [{"role": o.get("role"), "uri": o.get("uri"), "rows": o.get("rows")} for o in inputs.objects][:50],
        "missing": [p for p in inputs.partitions if not p.get("found")][:20],
        "profile_cached": metrics.get("profile_cached"),
        "alert_list": [{k: a.get(k) for k in ("severity", "kind", "subject", "new")} for a in metrics["alerts"]][:50],
    }


def _add_links(cfg: MonitorConfig, st_out: Storage, out: str, metrics: dict, *, annotate: bool) -> None:
    """The links to the date's outputs (report, to_annotate.csv when written, the Evidently report) in metrics."""
    links: dict[str, str] = {"report": link(st_out, out + "report.html")}
    if annotate:
        links["to_annotate"] = link(st_out, out + "to_annotate.csv")
    if cfg.report.evidently:
        links["evidently"] = link(st_out, out + "evidently.html")
    metrics["links"] = links
    if metrics.get("analysis") is not None and "to_annotate" in links:
        metrics["analysis"]["to_annotate_uri"] = links["to_annotate"]


def _committed_metrics(cfg: MonitorConfig, day: dt.date, st: Any, out: str) -> tuple[dict, dict, dict]:
    """The date's committed metrics.json, its manifest and the metrics' digest; a clear refusal otherwise."""
    manifest = read_manifest(st, out)
    try:
        raw = read_committed(st, out, "metrics.json", manifest)
        metrics = json.loads(raw)
    except NotFoundError:
        raise NotFoundError(f"{out}metrics.json: not computed yet; run the compute step for {day} first") from None
    except UncommittedError as exc:
        raise UncommittedError(
            f"{exc}: the compute of {day} did not finish, so there is nothing to report for {day}; rerun the date "
            f"(python -m monitor run {cfg.source_path or 'CONFIG'} --date {day}, or clear the compute task)") from None
    except ValueError as exc:
        raise DataError(f"{out}metrics.json: not valid JSON ({exc})") from None
    return metrics, manifest or {}, digest(raw)


def _report(cfg: MonitorConfig, day: dt.date, clients: Clients) -> tuple[Any, dict, dict, dict]:
    from monitor.report.render import render_report

    out = output_prefix(cfg, day)
    st = storage_for(out, s3=clients.s3)
    metrics, manifest, metrics_digest = _committed_metrics(cfg, day, st, out)
    history = load_history(cfg, day, s3=clients.s3, limit=cfg.report.trend_runs)
    provenance = {
        "inputs": manifest.get("inputs", []),
        "config_hash": manifest.get("config_hash"),
        "code_version": manifest.get("code_version"),
        "generated_at": manifest.get("computed_at"),
        "run_seconds": (manifest.get("timings") or {}).get("compute"),
    }
    report = render_report(
        metrics, history=history, provenance=provenance, charts=cfg.report.charts, trend_runs=cfg.report.trend_runs
    )
    return report, metrics, manifest, metrics_digest


@_limited
def render(cfg: MonitorConfig, day: dt.date, clients: Optional[Clients] = None) -> str:
    """Phase 2: render report.html (self-contained) from the committed metrics.json and the history, and
    commit it next to that metrics.json; returns its URI."""
    return _render(cfg, day, clients or Clients.from_env())[0]


def _render(cfg: MonitorConfig, day: dt.date, clients: Clients) -> tuple[str, tuple]:
    out = output_prefix(cfg, day)
    st = storage_for(out, s3=clients.s3)
    for attempt in range(3):  # another run of the date may commit a new metrics.json while we render
        try:
            report, metrics, _, metrics_digest = _report(cfg, day, clients)
        except UncommittedError:
            if attempt == 2:
                raise
            time.sleep(0.2)  # another run is publishing the date's outputs: read them again
            continue
        html = Output("report.html", report.standalone_html().encode("utf-8"), "text/html; charset=utf-8")
        manifest = add_outputs(st, out, [html], run_id=new_run_id(), basis={"metrics.json": metrics_digest})
        if manifest is not None:
            return out + "report.html", (report, metrics, manifest)
    raise UncommittedError(f"{out}metrics.json changed three times while report.html was rendered (other runs of {day} "
                           "are computing it); render again once they are done")


@_limited
def notify(
    cfg: MonitorConfig,
    day: dt.date,
    options: RunOptions = RunOptions(),
    clients: Optional[Clients] = None,
    *,
    _rendered: Optional[tuple] = None,
) -> dict:
    """Phase 3: email the report (or write .eml to the outbox) once per date; record it in manifest.json."""
    clients = clients or Clients.from_env()
    out = output_prefix(cfg, day)
    st = storage_for(out, s3=clients.s3)
    report, metrics, manifest = _rendered or _report(cfg, day, clients)[:3]
    why_not = email_decision(cfg, metrics.get("status", "ok"), options, manifest)
    error: Optional[MonitorError] = None
    claim_uri, run_id = out + CLAIM_NAME, new_run_id()
    if not why_not:  # at most one email per date: claim the send atomically first (see monitor.notify.claim)
        ours, other = claim_send(st, claim_uri, run_id, force=options.resend)
        if not ours:
            why_not = why_claimed(other or {})
    if why_not:
        email = {"sent": False, "reason": why_not}
    else:
        try:
            email = send_report(cfg, report, {"report.html": report.standalone_html().encode("utf-8")}, clients,
                                report_link=(metrics.get("links") or {}).get("report"))
            email["subject"] = report.subject
            settle_claim(st, claim_uri, run_id, "partial" if email.get("partial") else "sent", email)
        except DeliveryUnknownError as exc:  # the server may have it: keep the claim, never send it again
            error = exc
            email = {"sent": False, "outcome": "unknown", "error": redact(str(exc))}
            settle_claim(st, claim_uri, run_id, "unknown", email)
        except MonitorError as exc:  # certainly not sent: give the claim back so a retry sends
            error = exc
            email = {"sent": False, "error": redact(str(exc))}
            release_claim(st, claim_uri, run_id)
    update_manifest(st, out, functools.partial(_record_email, email))  # re-read: the outputs it lists are kept
    _index_day(cfg, day, metrics, clients)
    if error is not None:
        raise NotifyError(f"results written to {out}, but the email was not delivered: {error}")
    return email


def _record_email(email: dict, manifest: dict) -> dict:
    prev = manifest.get("email") or {}
    if not email["sent"] and prev.get("sent"):
        # Keep the record of the last delivery: a skipped or failed resend must not erase it.
        manifest["email"] = {**prev, "last_attempt": dict(email)}
        email["previous"] = prev
    else:
        manifest["email"] = email
    manifest["notified_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return manifest


def _index_day(cfg: MonitorConfig, day: dt.date, metrics: dict, clients: Clients) -> Optional[str]:
    """Rewrite <output>/index.html with this day; a failure here is one quiet log line, never a failed run."""
    from monitor.report.index import summarize_day, update_index

    try:
        return update_index(storage_for(cfg.output.uri, s3=clients.s3), cfg.output.uri, cfg.name, day,
                            summarize_day(cfg.name, metrics))
    except Exception as exc:  # noqa: BLE001 - the index is a convenience
        log.info("could not rewrite the index page under %s: %s", cfg.output.uri, exc)
        return None


@_limited
def run(cfg: MonitorConfig, day: dt.date, options: RunOptions = RunOptions(), clients: Optional[Clients] = None) -> RunResult:
    """Monitor one date: compute, render, notify (and the optional Evidently deep dive, last).

    Any failure (reading, computing, rendering, writing, sending) ends in one failure notice,
    unless email is off (--no-email) or `options.failure_notice` is off (the DAG sends its own).
    """
    clients = clients or Clients.from_env()
    t0 = time.perf_counter()
    try:
        res = compute(cfg, day, replace(options, failure_notice=False), clients)
        _, rendered = _render(cfg, day, clients)  # rendered once, reused for the email (charts are the slow part)
        email = notify(cfg, day, options, clients, _rendered=rendered)
    except Exception as exc:
        if options.failure_notice and options.send_email:
            notify_failure(cfg, day, str(exc) if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}", clients=clients)
        raise
    if options.deep_dive and cfg.report.evidently:
        build_deep_dive(cfg, day, clients=clients)
    metrics = rendered[1]
    return RunResult(
        status=res["status"], date=res["date"], output_uri=res["output_uri"], metrics=metrics, email=email,
        seconds=round(time.perf_counter() - t0, 3), alerts=metrics["alerts"],
    )


def build_deep_dive(
    cfg: MonitorConfig, day: dt.date, reference: Any = None, current: Any = None, *, clients: Optional[Clients] = None
) -> Optional[str]:
    """Write the optional Evidently report next to report.html. Failures are logged, never raised."""
    clients = clients or Clients()
    out = output_prefix(cfg, day)
    try:
        from monitor.report.evidently import build_evidently_html

        if reference is None or current is None:
            inputs = read_inputs(cfg, day, clients.s3)
            reference, current = inputs.reference, inputs.current
        cols = [c for c in infer_features(cfg, reference) if c in current.columns]
        html = build_evidently_html(reference, current, cols, sample_rows=cfg.report.evidently_sample_rows, seed=cfg.performance.seed)
        st = storage_for(out, s3=clients.s3)
        add_outputs(st, out, [Output("evidently.html", html, "text/html; charset=utf-8")], run_id=new_run_id(), basis={})
        return out + "evidently.html"
    except Exception as exc:  # noqa: BLE001 - the deep dive must never block the email or the run
        log.warning("evidently deep-dive for %s %s failed: %s", cfg.name, day, exc)
        return None


def reevaluate_final(
    cfg: MonitorConfig, day: dt.date, options: RunOptions = RunOptions(), clients: Optional[Clients] = None
) -> Optional[RunResult]:
    """Recompute the day whose labels became final today (day - labels.delay_days), without re-sending."""
    if not cfg.labels or cfg.labels.delay_days <= 0:
        return None
    clients = clients or Clients.from_env()
    target = day - dt.timedelta(days=cfg.labels.delay_days)
    prefix = output_prefix(cfg, target)
    if not storage_for(prefix, s3=clients.s3).exists(prefix + "metrics.json"):
        return None  # never monitored (before the monitor existed): nothing to complete
    as_of = options.as_of or day + dt.timedelta(days=1)
    again = RunOptions(send_email=False, resend=False, as_of=as_of, failure_notice=options.failure_notice, deep_dive=False)
    return run(cfg, target, again, clients)
