"""Reading one run's inputs: the reference, the baseline, the production window and the delayed labels.

    read_inputs(cfg, day, s3)  ->  Inputs(current, reference, baseline, labels, partitions, objects, ...)

A missing or unreadable production partition is a finding (recorded in `partitions`),
never a crash; a missing reference or bucket is raised: the run cannot proceed.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from monitor.config import MonitorConfig
from monitor.errors import BucketNotFoundError, DataError, NotFoundError
from monitor.io.columns import concat
from monitor.io.labels import join_labels, labels_due, labels_partitioned, read_labels
from monitor.io.storage import ObjectInfo, S3Storage, Storage, format_uri, read_tables, storage_for

__all__ = ["Inputs", "read_inputs", "window_dates", "join_labels"]

_T = TypeVar("_T")


def window_dates(day: dt.date, days: int) -> list[dt.date]:
    """The `days` daily partitions ending on and including `day`, oldest first."""
    return [day - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]


def _storage(uri: str, s3: Optional[S3Storage]) -> Storage:
    return storage_for(uri, s3=s3)


@dataclass
class Inputs:
    current: Any
    reference: Any
    baseline: Any
    labels: Any  # the labels table as read; released (None) once the quality checks have used it
    partitions: list[dict]
    objects: list[dict]
    label_errors: list[str]
    reference_identity: str
    labels_partitioned: bool = True  # labels written per date like the predictions (orphans mean something)
    labels_due: Optional[dict] = None  # label coverage of the day whose labels are due (see io.labels)


def read_inputs(cfg: MonitorConfig, day: dt.date, s3: Optional[S3Storage]) -> Inputs:

    objects: list[dict] = []

    def record(role: str, objs: list[ObjectInfo], rows: int) -> None:
        for o in objs:
            objects.append({"role": role, **o.to_dict(), "rows": rows if len(objs) == 1 else None})

    # Reference: the run cannot proceed without it. From remote storage it is fetched while the
    # production window is read (both mostly wait for the server); its error still comes first.
    def read_reference() -> tuple[Any, list[str]]:
        reference, ref_ids = _read_set(cfg.reference, "reference", s3, record, _read_by_every_run(cfg))
        if reference.empty:
            raise DataError(
                f"{', '.join(cfg.reference.uris)}: the reference (training snapshot) has no rows; "
                "point `reference.uri` at the data the model was trained on"
            )
        return reference, ref_ids

    ahead = _in_background(read_reference) if any(_storage(u, s3).local_path(u) is None for u in cfg.reference.uris) else None
    if ahead is None:
        reference, ref_ids = read_reference()
    try:
        frames, partitions = _read_production(cfg, day, s3, record)
    except BaseException:
        if ahead is not None:
            ahead.result()  # the reference's error first
        raise
    if ahead is not None:
        reference, ref_ids = ahead.result()

    baseline = _read_set(cfg.baseline, "baseline", s3, record, _read_by_every_run(cfg))[0] if cfg.baseline else reference
    objects.sort(key=lambda o: {"reference": 0, "baseline": 1}.get(o["role"], 2))  # as when read in turn (stable)

    frames = [f for f in frames if len(f)]
    if frames:
        current = frames[0] if len(frames) == 1 else concat(frames)
    else:
        current = reference.iloc[0:0].copy()
    current = _window_by_timestamp(cfg, current, window_dates(day, cfg.window_days), partitions)

    # Delayed labels, from their own location, joined on the id; and the day whose labels are due.
    labels = None
    label_errors: list[str] = []
    due = None
    if cfg.labels:
        window = window_dates(day, cfg.window_days)
        labels = read_labels(cfg, window, s3, record, label_errors)
        current = join_labels(cfg, current, labels, label_errors)
        due = labels_due(cfg, day, window, current, labels, s3, record)
    elif cfg.model.target not in current.columns:
        current = current.assign(**{cfg.model.target: float("nan")})

    return Inputs(current, reference, baseline, labels, partitions, objects, label_errors, "|".join(ref_ids),
                  labels_partitioned=labels_partitioned(cfg), labels_due=due)


def _read_set(spec: Any, role: str, s3: Optional[S3Storage], record: Callable[[str, list, int], None],
              columns: set[str]) -> tuple[Any, list[str]]:
    """The reference or the baseline: every URI of `spec` opened lazily, as one frame, with the
    identity of each object read (uri:size:etag-or-mtime); `columns` are fetched at once (the rest when read)."""
    frames, ids = [], []
    for uri in spec.uris:
        df, objs = read_tables(_storage(uri, s3), uri, fmt=spec.format, csv_options=spec.csv_options, lazy=True)
        if hasattr(df, "prefetch"):  # a remote snapshot read by ranges: the columns every run reads, in few GETs
            df.prefetch(columns)
        frames.append(df)
        ids += [f"{o.uri}:{o.size}:{o.etag or o.mtime}" for o in objs]
        record(role, objs, len(df))
    return (frames[0] if len(frames) == 1 else concat(frames)), ids


def _read_by_every_run(cfg: MonitorConfig) -> set[str]:
    """The reference columns a run reads even when the reference's summaries are cached: the model's
    outputs, label, timestamp and cohort columns (its ids only go into the cached figures)."""
    m = cfg.model
    names = {m.target, m.prediction, m.score, m.timestamp, *(m.scores or {}).values(), *(c.column for c in cfg.cohorts if c.column)}
    return {c for c in names if c}


def _read_production(cfg: MonitorConfig, day: dt.date, s3: Optional[S3Storage],
                     record: Callable[[str, list, int], None]) -> tuple[list, list[dict]]:
    """The production window's frames and one entry per partition. A missing or broken partition is a
    finding, not a crash. A partition is dated by the oldest day it serves (`dates` lists them all), so
    the newest day is tested on its own only when it has an object of its own."""
    partitions: list[dict] = []
    frames = []
    many = len(cfg.production.uris) > 1
    read: dict[str, dict] = {}  # each distinct object once: a yearly `{date:%Y}` or undated URI serves many days
    for d in window_dates(day, cfg.window_days):
        for template in cfg.production.uris:
            uri = format_uri(template, d)
            if uri in read:
                read[uri]["dates"].append(d.isoformat())
                continue
            part = {"date": d.isoformat(), "uri": uri, "found": False, "rows": None, "error": None, "dates": [d.isoformat()]}
            read[uri] = part
            try:
                df, objs = read_tables(_storage(uri, s3), uri, fmt=cfg.production.format, csv_options=cfg.production.csv_options)
                part.update(found=True, rows=int(len(df)))
                record("production", objs, len(df))
                if many:
                    df[cfg.production.source_column] = _source_name(template)
                frames.append(df)
            except BucketNotFoundError:
                raise
            except NotFoundError:
                pass  # a missing partition: `found` stays False and quality reports it
            except DataError as exc:
                part.update(found=True, error=str(exc))
            partitions.append(part)
    return frames, partitions


def _window_by_timestamp(cfg: MonitorConfig, current: Any, window: list[dt.date], partitions: list[dict]) -> Any:
    """An undated production URI (one file or prefix for every day) holds other days too: with
    `model.timestamp`, only the rows stamped in the window are the window (all 45 days of a churn
    log were read as one day, and 98% of them "stamped outside the window"). Rows whose stamp does
    not parse stay, for the timestamp check to name. Dated URIs are left as they are: there a row
    from another day is an incident."""
    ts = cfg.model.timestamp
    if not ts or ts not in current.columns or not len(current) or any("{date" in t for t in cfg.production.uris):
        return current
    import pandas as pd

    raw = current[ts]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return current  # epoch numbers: the unit is ambiguous
    t = pd.to_datetime(raw, errors="coerce", utc=True)
    lo, hi = pd.Timestamp(window[0], tz="UTC"), pd.Timestamp(window[-1] + dt.timedelta(days=1), tz="UTC")
    keep = ((t >= lo) & (t < hi)) | t.isna()
    found = [p for p in partitions if p.get("found") and p.get("rows") is not None]
    if len(found) == 1:  # the rows it gave the window (with several sources, each keeps its rows read)
        found[0].update(rows_read=found[0]["rows"], rows=int(keep.sum()), filtered_by=ts)
    return current[keep.to_numpy()].reset_index(drop=True) if not keep.all() else current


def _in_background(fn: Callable[[], _T]) -> Future[_T]:
    """fn() in a thread, in a copy of this context (the storage time budgets hold there too)."""
    future: Future[_T] = Future()

    def work() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller with result()
            future.set_exception(exc)

    threading.Thread(target=contextvars.copy_context().run, args=(work,), name="read reference", daemon=True).start()
    return future


def _source_name(template: str) -> str:
    base = template.split("{", 1)[0].rstrip("/=")
    return base.rsplit("/", 2)[-2] if base.count("/") >= 2 else base
