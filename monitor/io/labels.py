"""Reading the delayed labels: each distinct object once per run, joined to the predictions on
their keys, and the label coverage of the day whose labels are due tonight."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Optional

from monitor.config import MonitorConfig
from monitor.errors import BucketNotFoundError, DataError, NotFoundError
from monitor.io.columns import concat
from monitor.io.storage import ObjectInfo, S3Storage, format_uri, read_tables, storage_for

__all__ = ["labels_partitioned", "read_labels", "join_labels", "labels_due"]

Record = Callable[[str, list[ObjectInfo], int], None]


def labels_partitioned(cfg: MonitorConfig) -> bool:
    """Labels written per date like the predictions (a `{date}` in the URI), not one table for all dates."""
    return cfg.labels is not None and all("{date" in t for t in cfg.labels.uris)


def read_labels(
    cfg: MonitorConfig, days: list[dt.date], s3: Optional[S3Storage], record: Record, errors: list[str]
) -> Any:
    """The labels for these days: each distinct object once (an undated URI is one read, not one
    per day of the window). A missing partition is no error (labels arrive late); an unreadable
    one, or a missing bucket, goes to `errors`."""
    import pandas as pd

    assert cfg.labels is not None
    frames = []
    for uri in dict.fromkeys(format_uri(t, d) for d in days for t in cfg.labels.uris):
        try:
            df, objs = read_tables(storage_for(uri, s3=s3), uri, fmt=cfg.labels.format, csv_options=cfg.labels.csv_options)
        except BucketNotFoundError as exc:
            errors.append(str(exc))
            continue
        except NotFoundError:
            continue  # labels not arrived yet for that day
        except DataError as exc:
            errors.append(str(exc))
            continue
        record("labels", objs, len(df))
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*cfg.labels.join_on, cfg.model.target])
    return frames[0] if len(frames) == 1 else concat(frames)


def join_labels(cfg: MonitorConfig, current: Any, labels: Any, errors: list[str]) -> Any:
    """`current` with the target column looked up from the labels by key (NaN where none arrived)."""
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


def labels_due(
    cfg: MonitorConfig, day: dt.date, window: list[dt.date], current: Any, labels: Any, s3: Optional[S3Storage], record: Record
) -> Optional[dict]:
    """Label coverage of the day whose labels are due tonight (`labels.delay_days` before `day`):
    {date, uri, delay_days, rows, labelled}, or None when that day had no predictions to label."""
    assert cfg.labels is not None
    delay = cfg.labels.delay_days
    due = day - dt.timedelta(days=delay)
    target = cfg.model.target
    info: dict[str, Any] = {"date": due.isoformat(), "uri": ", ".join(dict.fromkeys(format_uri(t, due) for t in cfg.labels.uris)),
                            "delay_days": delay, "rows": 0, "labelled": 0}
    if due >= window[0]:  # inside the window (a delay shorter than it): the joined rows say it
        rows = _rows_of_day(cfg, current, due, len(window))
        if rows is None:
            return None
        info.update(rows=int(len(rows)), labelled=int(rows[target].notna().sum()) if target in rows.columns else 0)
        return info
    preds = _due_predictions(cfg, due, s3)
    if preds is None:
        return None
    if labels_partitioned(cfg):
        labels = read_labels(cfg, [due], s3, record, [])
    joined = join_labels(cfg, preds, labels, [])
    info.update(rows=int(len(joined)), labelled=int(joined[target].notna().sum()) if target in joined.columns else 0)
    return info


def _rows_of_day(cfg: MonitorConfig, current: Any, day: dt.date, window_days: int) -> Any:
    if window_days == 1:
        return current
    ts = cfg.model.timestamp
    if not ts or ts not in current.columns:
        return None
    import pandas as pd

    return current[pd.to_datetime(current[ts], errors="coerce", utc=True).dt.date == day]


def _due_predictions(cfg: MonitorConfig, due: dt.date, s3: Optional[S3Storage]) -> Any:
    """The join keys of the due day's predictions (only those columns are read), or None."""
    import pandas as pd

    assert cfg.labels is not None
    keys = cfg.labels.join_on
    frames = []
    for template in cfg.production.uris:
        uri = format_uri(template, due)
        try:
            df, _ = read_tables(storage_for(uri, s3=s3), uri, columns=keys, fmt=cfg.production.format,
                                csv_options=cfg.production.csv_options)
        except Exception:  # noqa: BLE001 - no data that day (its own run said so) or no key column
            continue
        frames.append(df)
    if not frames or not sum(len(f) for f in frames) or any(k not in f.columns for f in frames for k in keys):
        return None
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
