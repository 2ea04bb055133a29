"""Reading one run's inputs: the reference, the baseline, the production window and the delayed labels.

    read_inputs(cfg, day, s3)  ->  Inputs(current, reference, baseline, labels, partitions, objects, ...)

A missing or unreadable production partition is a finding (recorded in `partitions`),
never a crash; a missing reference or bucket is raised: the run cannot proceed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

from monitor.config import MonitorConfig
from monitor.errors import BucketNotFoundError, DataError, NotFoundError
from monitor.io.columns import concat
from monitor.io.storage import ObjectInfo, S3Storage, Storage, format_uri, read_tables, storage_for

__all__ = ["Inputs", "read_inputs", "window_dates", "join_labels"]


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
    labels: Any
    partitions: list[dict]
    objects: list[dict]
    label_errors: list[str]
    reference_identity: str


def read_inputs(cfg: MonitorConfig, day: dt.date, s3: Optional[S3Storage]) -> Inputs:
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
    reference = ref_frames[0] if len(ref_frames) == 1 else concat(ref_frames)
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
        baseline = frames[0] if len(frames) == 1 else concat(frames)

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
            except BucketNotFoundError:
                raise
            except NotFoundError:
                pass  # a missing partition: `found` stays False and quality reports it
            except DataError as exc:
                part.update(found=True, error=str(exc))
            partitions.append(part)
    frames = [f for f in frames if len(f)]
    if frames:
        current = frames[0] if len(frames) == 1 else concat(frames)
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
                except BucketNotFoundError as exc:
                    label_errors.append(str(exc))
                except NotFoundError:
                    pass  # labels not arrived yet for that day
                except DataError as exc:
                    label_errors.append(str(exc))
        labels = concat(lab_frames) if lab_frames else pd.DataFrame(columns=[*cfg.labels.join_on, cfg.model.target])
        current = join_labels(cfg, current, labels, label_errors)
    elif cfg.model.target not in current.columns:
        current = current.assign(**{cfg.model.target: float("nan")})

    return Inputs(current, reference, baseline, labels, partitions, objects, label_errors, "|".join(ref_ids))


def _source_name(template: str) -> str:
    base = template.split("{", 1)[0].rstrip("/=")
    return base.rsplit("/", 2)[-2] if base.count("/") >= 2 else base


def join_labels(cfg: MonitorConfig, current: Any, labels: Any, errors: list[str]) -> Any:
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
