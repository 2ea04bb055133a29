"""Create the demo bucket and upload the demo data to S3 (MinIO in docker-compose, moto in the e2e).

    python docker/seed_s3.py [--bucket monitoring] [--end YYYY-MM-DD] [--if-missing]

The data is what `drift-monitor demo` generates (monitor.demo.generator.generate): 30 daily
production partitions ending on --end (default: yesterday, UTC, the day a nightly run
monitors), the training snapshot, the validation set and the late labels. With --if-missing
(what compose runs at every start) nothing is written when the partition of --end is already
there; otherwise the 30 days ending --end are (re)written, so a stack started again a week
later still has data for last night's run. It lands under
s3://<bucket>/data/... and s3://<bucket>/labels/..., where docker/monitors/car_loan_s3.yaml
reads it. The endpoint and credentials come from AIRFLOW_CONN_AWS_DEFAULT (or AWS_* env),
exactly as the monitor's own storage layer reads them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path


def ensure_bucket(client, bucket: str) -> None:
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in names:
        client.create_bucket(Bucket=bucket)


def has_day(client, bucket: str, end: dt.date) -> bool:
    """Whether the demo's production partition of `end` is in the bucket."""
    prefix = f"data/car_loan/predictions/dt={end.isoformat()}/"
    return bool(client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0))


def seed(bucket: str, end: dt.date, *, if_missing: bool = False, rows_per_day: int | None = None) -> int:
    """Upload the demo store to s3://bucket/; returns the number of objects written (0 when skipped)."""
    from monitor.demo import generator as demo
    from monitor.io.storage import S3Storage

    s3 = S3Storage()
    ensure_bucket(s3.client, bucket)
    if if_missing and has_day(s3.client, bucket, end):
        return 0
    kw = {"rows_per_day": rows_per_day} if rows_per_day else {}
    with tempfile.TemporaryDirectory(prefix="demo_seed_") as tmp:
        demo.generate(tmp, end, **kw)
        root = Path(tmp)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            key = p.relative_to(root).as_posix()
            s3.write_bytes(f"s3://{bucket}/{key}", p.read_bytes())
    return len(files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bucket", default=os.environ.get("MONITOR_BUCKET", "monitoring"))
    ap.add_argument("--end", type=dt.date.fromisoformat,
                    default=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1),
                    help="last production day (default: yesterday, UTC)")
    ap.add_argument("--if-missing", "--if-empty", dest="if_missing", action="store_true",
                    help="do nothing when the partition of --end is already there")
    args = ap.parse_args(argv)
    n = seed(args.bucket, args.end, if_missing=args.if_missing)
    where = f"s3://{args.bucket}/"
    print(f"seeded {n} objects under {where} (demo days ending {args.end})" if n
          else f"{where} already holds the demo day {args.end}; left as is")
    return 0


if __name__ == "__main__":
    sys.exit(main())
