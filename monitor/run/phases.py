"""The one place that wires storage and SMTP to the pure stages for one monitored date.

    run(cfg, day)  ->  read window + reference + baseline + labels
                   ->  quality, drift, performance, cohorts, business, analysis
                   ->  metrics.json, report.html, to_annotate.csv   (under <output>/<name>/date=DAY/)
                   ->  email (or .eml in the outbox)  ->  manifest.json

A stage that raises is reported (an alert and `errors` in metrics.json), the
others still run. A run that cannot proceed at all (config/reference/storage)
raises a MonitorError after sending a failure notice, and writes nothing, so
an earlier good output for the date is never replaced by garbage.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from monitor import __version__
from monitor.alerts import Alert, mark_new, resolved_since, status_of
from monitor.config import MonitorConfig, check_columns
from monitor.errors import DataError, MonitorError, NotFoundError, NotifyError
from monitor.io.storage import ObjectInfo, S3Storage, Storage, format_uri, join_uri, read_tables, storage_for
from monitor.jsonutil import dumps, to_jsonable

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

SCHEMA_VERSION = 1
_DATE_DIR = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/metrics\.json$")


@dataclass
class RunResult:
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


# --------------------------------------------------------------------------- helpers


def window_dates(day: dt.date, days: int) -> list[dt.date]:
    """The `days` daily partitions ending on and including `day`, oldest first."""
    return [day - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]


def output_prefix(cfg: MonitorConfig, day: dt.date) -> str:
    return join_uri(cfg.output.uri, cfg.name, f"date={day.isoformat()}") + "/"


def _storage(uri: str, s3: Optional[S3Storage]) -> Storage:
    return storage_for(uri, s3=s3)


def infer_features(cfg: MonitorConfig, reference: Any) -> dict[str, str]:
    """Features from config, else every reference column that is not a model/id/time column."""
    import pandas as pd

    m = cfg.model
    reserved = {m.target, m.prediction, m.score, m.id, m.timestamp, cfg.production.source_column}
    if cfg.labels:
        reserved.update(cfg.labels.join_on)
    if cfg.business:
        reserved.update(g.column for g in cfg.business.guardrails)
    out: dict[str, str] = {}
    num, cat = cfg.features.numerical, cfg.features.categorical
    if num is not None or cat is not None:
        out.update({c: "numerical" for c in num or []})
        out.update({c: "categorical" for c in cat or []})
        return out
    for col in reference.columns:
        if col in reserved:
            continue
        s = reference[col]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            if pd.api.types.is_datetime64_any_dtype(s):
                continue
            out[col] = "categorical"
        else:
            out[col] = "numerical"
    return out


def load_history(cfg: MonitorConfig, day: dt.date, *, s3: Optional[S3Storage] = None, limit: int = 30) -> list[dict]:
    """metrics.json of the runs before `day`, oldest first (at most `limit`)."""
    base = join_uri(cfg.output.uri, cfg.name) + "/"
    st = _storage(base, s3)
    try:
        objs = st.list(base)
    except NotFoundError:
        return []
    dated = []
    for o in objs:
        m = _DATE_DIR.search(o.uri.replace("\\", "/"))
        if m and m.group(1) < day.isoformat():
            dated.append((m.group(1), o.uri))
    out = []
    for _, uri in sorted(dated)[-limit:]:
        try:
            out.append(st.read_json(uri))
        except MonitorError:
            continue  # one unreadable old run does not stop tonight's
    return out


def _code_version() -> str:
    """The installed package's version (from its metadata), or MONITOR_CODE_VERSION when set."""
    return os.environ.get("MONITOR_CODE_VERSION") or __version__


# --------------------------------------------------------------------------- reading


@dataclass
class Inputs:
    current: Any
    reference: Any
    baseline: Any
    labels: Any
    partitions: list[dict]
    objects: list[dict]
    label_errors: list[str]
    reference_identity: str


def _read_inputs(cfg: MonitorConfig, day: dt.date, s3: Optional[S3Storage]) -> Inputs:
    import pandas as pd

    objects: list[dict] = []

    def record(role: str, objs: list[ObjectInfo], rows: int) -> None:
        for o in objs:
            objects.append({"role": role, **o.to_dict(), "rows": rows if len(objs) == 1 else None})

    # Reference: the run cannot proceed without it.
    ref_frames, ref_ids = [], []
    for uri in cfg.reference.uris:
        df, objs = read_tables(_storage(uri, s3), uri, fmt=cfg.reference.format, csv_options=cfg.reference.csv_options)
        ref_frames.append(df)
        ref_ids += [f"{o.uri}:{o.size}:{o.etag or o.mtime}" for o in objs]
        record("reference", objs, len(df))
    reference = ref_frames[0] if len(ref_frames) == 1 else pd.concat(ref_frames, ignore_index=True)
    if reference.empty:
        raise DataError(
            f"{', '.join(cfg.reference.uris)}: the reference (training snapshot) has no rows; "
            "point `reference.uri` at the data the model was trained on"
        )

    baseline = reference
    if cfg.baseline:
        frames = []
        for uri in cfg.baseline.uris:
            df, objs = read_tables(_storage(uri, s3), uri, fmt=cfg.baseline.format, csv_options=cfg.baseline.csv_options)
            frames.append(df)
            record("baseline", objs, len(df))
        baseline = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    # Production window: a missing or broken partition is a finding, not a crash.
    partitions: list[dict] = []
    frames = []
    many = len(cfg.production.uris) > 1
    for d in window_dates(day, cfg.window_days):
        for template in cfg.production.uris:
            uri = format_uri(template, d)
            part = {"date": d.isoformat(), "uri": uri, "found": False, "rows": None, "error": None}
            try:
                df, objs = read_tables(_storage(uri, s3), uri, fmt=cfg.production.format, csv_options=cfg.production.csv_options)
                part.update(found=True, rows=int(len(df)))
                record("production", objs, len(df))
                if many:
                    df[cfg.production.source_column] = _source_name(template)
                frames.append(df)
            except NotFoundError as exc:
                if _missing_bucket(exc):
                    raise
                part["error"] = None if "no such" in str(exc) or "no data files" in str(exc) else str(exc)
            except DataError as exc:
                part.update(found=True, error=str(exc))
            partitions.append(part)
    frames = [f for f in frames if len(f)]
    if frames:
        current = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    else:
        current = reference.iloc[0:0].copy()

    # Delayed labels, from their own location, joined on the id.
    labels = None
    label_errors: list[str] = []
    if cfg.labels:
        lab_frames = []
        for d in window_dates(day, cfg.window_days):
            for template in cfg.labels.uris:
                uri = format_uri(template, d)
                try:
                    df, objs = read_tables(_storage(uri, s3), uri, fmt=cfg.labels.format, csv_options=cfg.labels.csv_options)
                    record("labels", objs, len(df))
                    lab_frames.append(df)
                except NotFoundError as exc:
                    if _missing_bucket(exc):
                        label_errors.append(str(exc))
                except DataError as exc:
                    label_errors.append(str(exc))
        labels = pd.concat(lab_frames, ignore_index=True) if lab_frames else pd.DataFrame(columns=[*cfg.labels.join_on, cfg.model.target])
        current = _join_labels(cfg, current, labels, label_errors)
    elif cfg.model.target not in current.columns:
        current = current.assign(**{cfg.model.target: float("nan")})

    return Inputs(current, reference, baseline, labels, partitions, objects, label_errors, "|".join(ref_ids))


def _missing_bucket(exc: Exception) -> bool:
    return "does not exist (create it" in str(exc)


def _source_name(template: str) -> str:
    base = template.split("{", 1)[0].rstrip("/=")
    return base.rsplit("/", 2)[-2] if base.count("/") >= 2 else base


def _join_labels(cfg: MonitorConfig, current: Any, labels: Any, errors: list[str]) -> Any:
    assert cfg.labels is not None
    target, keys = cfg.model.target, cfg.labels.join_on
    missing = [k for k in [*keys, target] if k not in labels.columns]
    if missing and len(labels):
        errors.append(f"labels: columns {missing} not found (have {list(labels.columns)[:10]}); set labels.join_on / model.target")
        return current.assign(**{target: float("nan")}) if target not in current.columns else current
    absent = [k for k in keys if k not in current.columns]
    if absent:
        errors.append(f"labels: join column(s) {absent} not in the production data; set labels.join_on")
        return current.assign(**{target: float("nan")})
    lab = labels[[*keys, target]].dropna(subset=[target]).drop_duplicates(keys, keep="last")
    cur = current.drop(columns=[target]) if target in current.columns else current
    for k in keys:  # ids written by two systems often differ in type (int vs str)
        if lab[k].dtype != cur[k].dtype:
            lab = lab.assign(**{k: lab[k].astype(str)})
            cur = cur.assign(**{k: cur[k].astype(str)})
    # Look the target up by key instead of merging: a merge copies every column of the window
    # (10M x 30: +2.2 GiB); this adds one column. Keys are unique in `lab` (drop_duplicates above).
    import numpy as np
    import pandas as pd

    if len(keys) == 1:
        pos = pd.Index(lab[keys[0]]).get_indexer(cur[keys[0]])
    else:
        pos = pd.MultiIndex.from_frame(lab[keys]).get_indexer(pd.MultiIndex.from_frame(cur[keys]))
    found = pos >= 0
    if not len(lab):  # no label has arrived yet for this window
        return cur.assign(**{target: np.full(len(cur), np.nan)})
    values = lab[target].to_numpy()
    col = pd.Series(values.take(np.where(found, pos, 0)), index=cur.index).where(found)
    return cur.assign(**{target: col})


# --------------------------------------------------------------------------- stages


class _Stages:
    """Runs each stage, keeping its result; a stage that raises becomes an error entry and an alert."""

    def __init__(self) -> None:
        self.errors: list[dict] = []
        self.alerts: list[Alert] = []
        self.timings: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        try:
            result = fn()
        except MonitorError as exc:
            self._fail(name, str(exc))
            result = None
        except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen input: report it, keep the other stages
            self._fail(name, f"{type(exc).__name__}: {exc}")
            result = None
        self.timings[name] = round(time.perf_counter() - t, 4)
        if result is not None and hasattr(result, "alerts"):
            self.alerts.extend(result.alerts())
        return result

    def _fail(self, name: str, message: str) -> None:
        self.errors.append({"stage": name, "error": message})
        self.alerts.append(
            Alert("quality", f"stage:{name}", "critical", f"{name} could not be computed: {message}")
        )


def _profile(cfg: MonitorConfig, inputs: Inputs, columns: dict[str, str], s3: Optional[S3Storage]) -> Any:
    """The drift reference profile, fitted once per training snapshot and cached in the output store."""
    from monitor.stages.drift.engine import ReferenceProfile, fit_profile, profile_cache_key

    uri = None
    if cfg.drift.cache_profile and inputs.reference_identity:
        key = profile_cache_key(inputs.reference_identity, columns, cfg.drift)
        uri = join_uri(cfg.output.uri, cfg.name, "_profiles", f"{key}.npz")
        st = _storage(uri, s3)
        try:
            return ReferenceProfile.from_bytes(st.read_bytes(uri)), True
        except MonitorError:
            pass
        except Exception:  # noqa: BLE001 - a corrupt cache is refitted, never trusted
            pass
    profile = fit_profile(inputs.reference, columns, cfg.drift)
    if uri:
        try:
            _storage(uri, s3).write_bytes(uri, profile.to_bytes())
        except MonitorError:
            pass  # caching is an optimisation
    return profile, False


def _compute(
    cfg: MonitorConfig, day: dt.date, inputs: Inputs, history: list[dict], as_of: dt.date, s3: Optional[S3Storage]
) -> tuple[dict, _Stages, Any]:
    stages = _Stages()
    window = window_dates(day, cfg.window_days)
    current, reference, baseline = inputs.current, inputs.reference, inputs.baseline
    features = infer_features(cfg, reference)
    m = cfg.model
    has_data = len(current) > 0
    labelled = int(current[m.target].notna().sum()) if m.target in current.columns else 0
    final = (as_of - day).days >= (cfg.labels.delay_days if cfg.labels else 0)

    def quality():
        from monitor.stages.quality.checks import check_quality

        ref_days = _reference_days(cfg, reference)
        return check_quality(
            current, reference, model=m, features=features, config=cfg.quality,
            window_start=window[0], window_end=window[-1], partitions=inputs.partitions,
            history=history, labels=inputs.labels,
            reference_daily_rows=(len(reference) / ref_days) if ref_days else None,
        )

    q = stages.run("quality", quality)  # always: with quality disabled it still checks arrival
    if q is not None and has_data:
        # The run continues on the columns it can use: retyped columns converted back, unusable ones dropped.
        from monitor.stages.quality.checks import coerce_types

        current = coerce_types(current, q)
        features = {c: k for c, k in features.items() if c in q.usable_features} if q.usable_features else features
    for err in inputs.label_errors:
        stages.alerts.append(Alert("quality", "labels", "warning", err))

    drift = None
    cached = None
    if has_data:
        roles = {c: "feature" for c in features}
        for col in (m.prediction, m.score):
            if col and col in reference.columns:
                roles[col] = "prediction"
        if labelled and m.target in reference.columns:
            roles[m.target] = "target"
        kinds = {c: features.get(c) or _kind(reference[c]) for c in roles}

        def drift_stage():
            nonlocal cached
            from monitor.stages.drift.engine import detect_drift

            t = time.perf_counter()
            profile, cached = _profile(cfg, inputs, kinds, s3)
            stages.timings["drift_profile"] = round(time.perf_counter() - t, 4)
            return detect_drift(profile, current, cfg.drift, roles)

        drift = stages.run("drift", drift_stage)

    perf = cohorts = business = None
    analysis: dict[str, Any] = {}
    if has_data and m.target in baseline.columns:
        def perf_stage():
            from monitor.stages.performance.metrics import evaluate_performance

            return evaluate_performance(current, baseline, m, cfg.metrics, cfg.performance, final=final, human_level=cfg.human_level)

        perf = stages.run("performance", perf_stage)

        def cohort_stage():
            from monitor.stages.cohorts import evaluate_cohorts

            cats = [c for c, k in features.items() if k == "categorical"]
            return evaluate_cohorts(current, baseline, m, cfg.metrics, cfg.cohorts, cfg.performance, categorical_features=cats)

        if cfg.cohorts or cfg.performance.all_categorical_cohorts:
            cohorts = stages.run("cohorts", cohort_stage)

    if has_data and cfg.business:
        def business_stage():
            from monitor.stages.business import evaluate_business

            return evaluate_business(current, baseline, m, cfg.business, window_days=cfg.window_days)

        business = stages.run("business", business_stage)

    to_annotate = None
    if has_data:
        def analysis_stage():
            from monitor.stages import analysis as an

            out: dict[str, Any] = {}
            if labelled:
                out["worst_rows"] = an.worst_rows(current, m, list(features), cfg.performance.worst_rows)
            if cohorts is not None:
                out["top_cohorts"] = an.top_cohorts(cohorts, 5)
            drifted = [c for c, f in (drift.to_dict().get("features") or {}).items() if f.get("drifted")] if drift else []
            cohort_cols = [c.column for c in cfg.cohorts if c.column]
            sample = an.select_for_annotation(
                current, m, cfg.performance.annotate_rows, cfg.performance.seed,
                cohort_columns=cohort_cols, drifted_features=drifted,
            ) if cfg.performance.annotate_rows else None
            return out, sample

        res = stages.run("analysis", analysis_stage)
        if res is not None:
            analysis, to_annotate = res

    alerts = list(stages.alerts)
    if not has_data and not any(a.kind == "no_data" for a in alerts):
        missing = ", ".join(p["date"] for p in inputs.partitions if not p["found"]) or window[-1].isoformat()
        alerts.append(Alert("no_data", "production", "critical", f"no production rows for {missing}: the partition is missing or empty"))
    previous = history[-1] if history else None
    alerts = mark_new(_dedupe(alerts), previous)
    rows_ref = len(reference)
    metrics = {
        "schema_version": SCHEMA_VERSION,
        "monitor": cfg.name,
        "date": day.isoformat(),
        "window": {"start": window[0].isoformat(), "end": window[-1].isoformat()},
        "status": status_of(alerts, has_data),
        "rows": {"current": int(len(current)), "reference": int(rows_ref), "labelled": labelled},
        "alerts": [a.to_dict() for a in alerts],
        "resolved": resolved_since(alerts, previous, _checked_kinds(has_data, drift, perf, cohorts, business, q)),
        "drift": drift.to_dict() if drift is not None else None,
        "quality": q.to_dict() if q is not None else None,
        "performance": perf.to_dict() if perf is not None else None,
        "cohorts": (cohorts.to_dict().get("cohorts", []) if cohorts is not None else []),
        "cohort_errors": (cohorts.to_dict().get("errors", []) if cohorts is not None else []),
        "business": business.to_dict() if business is not None else None,
        "analysis": analysis or None,
        "errors": stages.errors,
        "final": final,
        "as_of": as_of.isoformat(),
        "profile_cached": cached,
    }
    return to_jsonable(metrics), stages, to_annotate


def _checked_kinds(has_data: bool, drift: Any, perf: Any, cohorts: Any, business: Any, quality: Any) -> set[str]:
    """The alert kinds whose checks actually ran (the others cannot have resolved)."""
    kinds = {"no_data"}
    if quality is not None:
        kinds |= {"quality", "volume"}
    if has_data and drift is not None:
        kinds.add("drift")
    if perf is not None and (perf.to_dict().get("labelled") or 0) > 0:
        kinds.add("performance")
        if cohorts is not None:
            kinds.add("cohort")
    if business is not None:
        kinds.add("business")
    return kinds


def _kind(s: Any) -> str:
    import pandas as pd

    return "numerical" if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else "categorical"


def _reference_days(cfg: MonitorConfig, reference: Any) -> Optional[float]:
    import pandas as pd

    ts = cfg.model.timestamp
    if not ts or ts not in reference.columns:
        return None
    t = pd.to_datetime(reference[ts], errors="coerce", utc=True).dropna()
    if t.empty:
        return None
    days = (t.max() - t.min()).total_seconds() / 86400
    return max(days, 1.0)


def _dedupe(alerts: list[Alert]) -> list[Alert]:
    seen, out = set(), []
    for a in alerts:
        if (a.kind, a.subject, a.message) not in seen:
            seen.add((a.kind, a.subject, a.message))
            out.append(a)
    return out


# --------------------------------------------------------------------------- email


def _outbox(cfg: MonitorConfig) -> str:
    return cfg.email.outbox or os.environ.get("MONITOR_OUTBOX") or "outbox"


def _email_decision(cfg: MonitorConfig, status: str, send_email: bool, resend: bool, previous_manifest: Optional[dict]) -> Optional[str]:
    """Why the email is not sent, or None to send it."""
    if not send_email:
        return "skipped: --no-email"
    if cfg.email.send == "never":
        return "skipped: email.send is never"
    if cfg.email.send == "on_alert" and status == "ok":
        return "skipped: email.send is on_alert and nothing needs attention"
    from monitor.notify.smtp import already_sent

    if previous_manifest and already_sent(previous_manifest) and not resend:
        return f"skipped: already sent at {previous_manifest['email'].get('sent_at')} (use --resend to send again)"
    return None


def _send(cfg: MonitorConfig, report: Any, attachments: dict[str, bytes], smtp: Any) -> dict:
    from monitor.notify.smtp import build_message, deliver

    to = cfg.email.to or ["ml-team@localhost"]
    msg = build_message(report, sender=cfg.email.sender, to=to, attachments=attachments, subject_prefix=cfg.email.subject_prefix)
    record = deliver(msg, smtp=smtp, outbox_dir=_outbox(cfg))
    return {"sent": True, **record}


def _smtp_from_env(env: Optional[dict] = None) -> Any:
    from monitor.notify.smtp import smtp_settings_from_env

    return smtp_settings_from_env(os.environ if env is None else env)


_FROM_ENV = object()


def notify_failure(
    cfg: Optional[MonitorConfig],
    day: Optional[dt.date],
    error: str,
    *,
    task: Optional[str] = None,
    dag_id: Optional[str] = None,
    smtp: Any = _FROM_ENV,
    monitor_name: Optional[str] = None,
) -> Optional[dict]:
    """Send the failure notice for a run that could not complete. Never raises: it is the last word."""
    try:
        from monitor.report.render import render_failure

        name = cfg.name if cfg else (monitor_name or "monitor")
        report = render_failure(monitor=name, date=day.isoformat() if day else None, error=error, task=task, dag_id=dag_id)
        if cfg is not None and cfg.email.send == "never":
            return None
        settings = _smtp_from_env() if smtp is _FROM_ENV else smtp
        from monitor.notify.smtp import build_message, deliver

        to = (cfg.email.to if cfg else None) or ["ml-team@localhost"]
        sender = cfg.email.sender if cfg else "drift-monitor@localhost"
        msg = build_message(report, sender=sender, to=to, subject_prefix=cfg.email.subject_prefix if cfg else "")
        outbox = _outbox(cfg) if cfg else (os.environ.get("MONITOR_OUTBOX") or "outbox")
        return deliver(msg, smtp=settings, outbox_dir=outbox)
    except Exception:  # noqa: BLE001 - the failure that brought us here is the one to report
        import logging

        logging.getLogger(__name__).exception("could not send the failure notice")
        return None


# --------------------------------------------------------------------------- run


def compute(
    cfg: MonitorConfig,
    day: dt.date,
    *,
    as_of: Optional[dt.date] = None,
    s3: Optional[S3Storage] = None,
    smtp: Any = _FROM_ENV,
    failure_notice: bool = True,
) -> dict:
    """Phase 1: read the inputs, run the stages, write metrics.json (+ to_annotate.csv) and the manifest.

    Returns a small XCom-safe dict. Nothing is written when the run cannot proceed,
    so an earlier good output for the date is never replaced by garbage.
    """
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    as_of = as_of or dt.date.today()
    out = output_prefix(cfg, day)
    st_out = _storage(out, s3)
    try:
        inputs = _read_inputs(cfg, day, s3)
        check_columns(cfg, list(inputs.reference.columns))
        history = load_history(cfg, day, s3=s3, limit=cfg.report.trend_runs)
        metrics, stages, to_annotate = _compute(cfg, day, inputs, history, as_of, s3)
    except MonitorError as exc:
        if failure_notice:
            notify_failure(cfg, day, str(exc), smtp=smtp)
        raise

    links: dict[str, str] = {"report": _link(st_out, out + "report.html")}
    if to_annotate is not None and len(to_annotate):
        links["to_annotate"] = _link(st_out, out + "to_annotate.csv")
    if cfg.report.evidently:
        links["evidently"] = _link(st_out, out + "evidently.html")
    metrics["links"] = links
    if metrics.get("analysis") is not None and "to_annotate" in links:
        metrics["analysis"]["to_annotate_uri"] = links["to_annotate"]

    previous = _read_manifest(st_out, out)
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
        "timings": {**stages.timings, "compute": round(time.perf_counter() - t0, 4)},
        # the email record survives recomputation: a rerun does not re-send unless asked
        "email": previous.get("email") if previous else None,
    }
    st_out.write_text(out + "metrics.json", dumps(metrics), "application/json")
    if to_annotate is not None and len(to_annotate):
        buf = io.StringIO()
        to_annotate.to_csv(buf, index=False)
        st_out.write_text(out + "to_annotate.csv", buf.getvalue(), "text/csv")
    st_out.write_text(out + "manifest.json", dumps(manifest), "application/json")
    return {"date": day.isoformat(), "output_uri": out, "status": metrics["status"], "alerts": len(metrics["alerts"])}


def _read_manifest(st: Storage, out: str) -> Optional[dict]:
    try:
        return st.read_json(out + "manifest.json")
    except MonitorError:
        return None


def _report(cfg: MonitorConfig, day: dt.date, s3: Optional[S3Storage]) -> tuple[Any, dict, dict]:
    from monitor.report.render import render_report

    out = output_prefix(cfg, day)
    st = _storage(out, s3)
    try:
        metrics = st.read_json(out + "metrics.json")
    except NotFoundError:
        raise NotFoundError(f"{out}metrics.json: not computed yet; run the compute step for {day} first") from None
    manifest = _read_manifest(st, out) or {}
    history = load_history(cfg, day, s3=s3, limit=cfg.report.trend_runs)
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
    return report, metrics, manifest


def render(cfg: MonitorConfig, day: dt.date, *, s3: Optional[S3Storage] = None) -> str:
    """Phase 2: render report.html (self-contained) from metrics.json and the history; returns its URI."""
    return _render(cfg, day, s3)[0]


def _render(cfg: MonitorConfig, day: dt.date, s3: Optional[S3Storage]) -> tuple[str, tuple]:
    out = output_prefix(cfg, day)
    rendered = _report(cfg, day, s3)
    _storage(out, s3).write_text(out + "report.html", rendered[0].standalone_html(), "text/html; charset=utf-8")
    return out + "report.html", rendered


def notify(
    cfg: MonitorConfig,
    day: dt.date,
    *,
    send_email: bool = True,
    resend: bool = False,
    s3: Optional[S3Storage] = None,
    smtp: Any = _FROM_ENV,
    _rendered: Optional[tuple] = None,
) -> dict:
    """Phase 3: email the report (or write .eml to the outbox) once per date; record it in manifest.json."""
    out = output_prefix(cfg, day)
    st = _storage(out, s3)
    report, metrics, manifest = _rendered or _report(cfg, day, s3)
    why_not = _email_decision(cfg, metrics.get("status", "ok"), send_email, resend, manifest)
    error = None
    if why_not:
        email = {"sent": False, "reason": why_not}
    else:
        settings = _smtp_from_env() if smtp is _FROM_ENV else smtp
        try:
            email = _send(cfg, report, {"report.html": report.standalone_html().encode("utf-8")}, settings)
            email["subject"] = report.subject
        except MonitorError as exc:
            error = exc
            email = {"sent": False, "error": str(exc)}
    prev = manifest.get("email") or {}
    if not email["sent"] and prev.get("sent"):
        # Keep the record of the last delivery: a skipped or failed resend must not erase it.
        manifest["email"] = {**prev, "last_attempt": dict(email)}
        email["previous"] = prev
    else:
        manifest["email"] = email
    manifest["notified_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    st.write_text(out + "manifest.json", dumps(manifest), "application/json")
    if error is not None:
        raise NotifyError(f"results written to {out}, but the email was not delivered: {error}")
    return email


def run(
    cfg: MonitorConfig,
    day: dt.date,
    *,
    send_email: bool = True,
    resend: bool = False,
    s3: Optional[S3Storage] = None,
    smtp: Any = _FROM_ENV,
    as_of: Optional[dt.date] = None,
    failure_notice: bool = True,
    deep_dive: bool = True,
) -> RunResult:
    """Monitor one date: compute, render, notify (and the optional Evidently deep dive, last)."""
    t0 = time.perf_counter()
    res = compute(cfg, day, as_of=as_of, s3=s3, smtp=smtp, failure_notice=failure_notice)
    _, rendered = _render(cfg, day, s3)  # rendered once, reused for the email (charts are the slow part)
    email = notify(cfg, day, send_email=send_email, resend=resend, s3=s3, smtp=smtp, _rendered=rendered)
    if deep_dive and cfg.report.evidently:
        build_deep_dive(cfg, day, s3=s3)
    metrics = rendered[1]
    return RunResult(
        status=res["status"], date=res["date"], output_uri=res["output_uri"], metrics=metrics, email=email,
        seconds=round(time.perf_counter() - t0, 3), alerts=metrics["alerts"],
    )


def _link(st: Storage, uri: str) -> str:
    if isinstance(st, S3Storage):
        return st.presigned_url(uri) or uri
    return str(Path(uri).resolve())


def build_deep_dive(cfg: MonitorConfig, day: dt.date, reference: Any = None, current: Any = None, *, s3: Optional[S3Storage] = None) -> Optional[str]:
    """Write the optional Evidently report next to report.html. Failures are logged, never raised."""
    import logging

    out = output_prefix(cfg, day)
    try:
        from monitor.report.evidently import build_evidently_html

        if reference is None or current is None:
            inputs = _read_inputs(cfg, day, s3)
            reference, current = inputs.reference, inputs.current
        cols = [c for c in infer_features(cfg, reference) if c in current.columns]
        html = build_evidently_html(reference, current, cols, sample_rows=cfg.report.evidently_sample_rows, seed=cfg.performance.seed)
        _storage(out, s3).write_bytes(out + "evidently.html", html, "text/html; charset=utf-8")
        return out + "evidently.html"
    except Exception as exc:  # noqa: BLE001 - the deep dive must never block the email or the run
        logging.getLogger(__name__).warning("evidently deep-dive for %s %s failed: %s", cfg.name, day, exc)
        return None


def reevaluate_final(cfg: MonitorConfig, day: dt.date, **kw: Any) -> Optional[RunResult]:
    """Recompute the day whose labels became final today (day - labels.delay_days), without re-sending."""
    if not cfg.labels or cfg.labels.delay_days <= 0:
        return None
    target = day - dt.timedelta(days=cfg.labels.delay_days)
    prefix = output_prefix(cfg, target)
    if not _storage(prefix, kw.get("s3")).exists(prefix + "metrics.json"):
        return None  # never monitored (before the monitor existed): nothing to complete
    if kw.get("as_of") is None:
        kw["as_of"] = day + dt.timedelta(days=1)
    kw["send_email"] = False
    kw["deep_dive"] = False
    return run(cfg, target, **kw)
