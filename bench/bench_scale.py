"""Scale on one worker: monitor.run.phases.compute on a daily window of N rows x 30 columns.

    .venv/bin/python bench/bench_scale.py [--rows 1000000 10000000] [--workdir DIR] [--keep] [--no-labels]

For each N it writes, as parquet on local storage (in row groups of 1M rows, so generating
10M rows needs little memory): a reference of min(N, 1M) rows, one production partition of
N rows x 30 columns (id, score, prediction, 22 numerical and 5 categorical features) and its
labels (id, target). Then, in a fresh child process, it runs `pipeline.compute` for that day
and prints rows, seconds and peak RSS; a sampler thread attributes the peak to the stage
running at the time (read / quality / drift / performance / ...).

Figures only; nothing is asserted (see bench/ conventions in the brief).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 1, 15)
N_NUM, N_CAT = 22, 5
CHUNK = 1_000_000


def num_cols() -> list[str]:
    return [f"f{i:02d}" for i in range(N_NUM)]


def cat_cols() -> list[str]:
    return [f"c{i}" for i in range(N_CAT)]


# --------------------------------------------------------------------------- data


def _chunk(rng, n: int, id_start: int, *, shift: float):
    import numpy as np
    import pyarrow as pa

    cols: dict = {"id": pa.array(np.arange(id_start, id_start + n, dtype="int64"))}
    x = rng.normal(0.0, 1.0, (N_NUM, n)).astype("float64")
    x[: N_NUM // 4] += shift  # a quarter of the features drift in production
    logit = 0.8 * x[0] - 0.6 * x[1] + 0.4 * x[2]
    score = 1.0 / (1.0 + np.exp(-logit))
    cols["y_pred_proba"] = pa.array(score)
    cols["y_pred"] = pa.array((score >= 0.5).astype("int64"))
    for i, name in enumerate(num_cols()):
        cols[name] = pa.array(x[i])
    levels = [pa.array([f"{c}_{k}" for k in range(8)]) for c in cat_cols()]
    for i, name in enumerate(cat_cols()):
        codes = rng.integers(0, 8, n).astype("int32")
        cols[name] = pa.DictionaryArray.from_arrays(pa.array(codes), levels[i])
    target = (rng.uniform(size=n) < score).astype("int64")
    return pa.table(cols), pa.table({"id": cols["id"], "y": pa.array(target)})


def write_dataset(root: Path, rows: int, *, labels: bool, seed: int = 0) -> dict:
    """The reference, the production partition for DAY and its labels; returns the paths."""
    import numpy as np
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    part = root / "predictions" / f"dt={DAY.isoformat()}"
    lab = root / "labels" / f"dt={DAY.isoformat()}"
    part.mkdir(parents=True, exist_ok=True)
    lab.mkdir(parents=True, exist_ok=True)

    ref_rows = min(rows, CHUNK)
    t, lt = _chunk(rng, ref_rows, 0, shift=0.0)
    ref = t.append_column("y", lt.column("y"))
    pq.write_table(ref, root / "reference.parquet")

    writer = lwriter = None
    done = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        t, lt = _chunk(rng, n, 10**9 + done, shift=0.15)
        if writer is None:
            writer = pq.ParquetWriter(part / "part-0.parquet", t.schema)
            lwriter = pq.ParquetWriter(lab / "labels.parquet", lt.schema) if labels else None
        writer.write_table(t)
        if lwriter is not None:
            lwriter.write_table(lt)
        done += n
    assert writer is not None
    writer.close()
    if lwriter is not None:
        lwriter.close()
    return {"reference": root / "reference.parquet", "production": part, "labels": lab}


def write_config(root: Path, *, labels: bool) -> Path:
    import yaml

    cfg = {
        "name": "scale",
        "schedule": "@daily",
        "window_days": 1,
        "reference": {"uri": str(root / "reference.parquet")},
        "production": {"uri": str(root / "predictions") + "/dt={date}/", "format": "parquet"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "y_pred",
                  "score": "y_pred_proba", "id": "id"},
        "features": {"numerical": num_cols(), "categorical": cat_cols()},
        "cohorts": [{"column": "c0"}],
        "metrics": ["roc_auc", "accuracy"],
        "drift": {"method": "auto"},
        "output": {"uri": str(root / "out")},
        "email": {"send": "never"},
    }
    if labels:
        cfg["labels"] = {"uri": str(root / "labels") + "/dt={date}/", "format": "parquet",
                         "join_on": ["id"], "delay_days": 0}
    path = root / "scale.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# --------------------------------------------------------------------------- the measured child


class Sampler(threading.Thread):
    """Samples this process's RSS every 50 ms and keeps the peak per named phase."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process()
        self.phase = "import"
        self.peaks: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rss = self.proc.memory_info().rss
            if rss > self.peaks.get(self.phase, 0):
                self.peaks[self.phase] = rss
            time.sleep(0.05)


def child(config: Path) -> dict:
    import resource

    sampler = Sampler()
    sampler.start()
    from monitor.config import load_config
    from monitor.run import RunOptions
    from monitor.run import computation as compute_mod
    from monitor.run import phases as pipeline

    # Attribute memory to stages: wrap the reader and the stage runner (no change to the library).
    real_read, real_run = pipeline.read_inputs, compute_mod.StageRunner.run

    def read_inputs(*a, **kw):
        sampler.phase = "read inputs"
        try:
            return real_read(*a, **kw)
        finally:
            sampler.phase = "between stages"

    def stage_run(self, stage, ctx, done):
        sampler.phase = f"stage {stage.name}"
        try:
            return real_run(self, stage, ctx, done)
        finally:
            sampler.phase = "between stages"

    pipeline.read_inputs = read_inputs  # the bench samples memory per stage
    compute_mod.StageRunner.run = stage_run  # type: ignore[method-assign]
    cfg = load_config(config)
    rss_before = sampler.proc.memory_info().rss
    t = time.perf_counter()
    res = pipeline.compute(cfg, DAY, RunOptions(as_of=DAY + dt.timedelta(days=30), failure_notice=False))
    seconds = time.perf_counter() - t
    sampler.phase = "done"
    time.sleep(0.1)
    sampler.stop.set()
    metrics = json.loads(Path(res["output_uri"], "metrics.json").read_text())
    manifest = json.loads(Path(res["output_uri"], "manifest.json").read_text())
    return {
        "rows": metrics["rows"]["current"],
        "labelled": metrics["rows"]["labelled"],
        "status": res["status"],
        "errors": [e.get("stage") for e in metrics.get("errors", [])],
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_before_mb": round(rss_before / 2**20),
        "peak_by_phase_mb": {k: round(v / 2**20) for k, v in sampler.peaks.items()},
        "timings": manifest.get("timings", {}),
    }


# --------------------------------------------------------------------------- driver


def bench(rows: int, workdir: Path, *, labels: bool) -> dict:
    root = workdir / f"rows_{rows}"
    t = time.perf_counter()
    paths = write_dataset(root, rows, labels=labels)
    gen_s = time.perf_counter() - t
    config = write_config(root, labels=labels)
    size_mb = sum(p.stat().st_size for p in paths["production"].rglob("*.parquet")) / 2**20
    out = subprocess.run([sys.executable, __file__, "--child", str(config)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode != 0:
        raise SystemExit(f"compute on {rows} rows failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(generate_seconds=round(gen_s, 1), parquet_mb=round(size_mb))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--workdir", help="where to write the data (default: a temp dir, removed afterwards)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-labels", action="store_true", help="no label join (drift + quality only)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child))))
        return 0

    import psutil

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_scale_"))
    total_gb = psutil.virtual_memory().total / 2**30
    print(f"machine: {os.cpu_count()} cores, {total_gb:.1f} GiB RAM; columns: id, score, prediction, "
          f"{N_NUM} numerical, {N_CAT} categorical (30); labels: {not args.no_labels}")
    print(f"{'rows':>12} {'seconds':>8} {'peak RSS':>10} {'parquet':>8}  peak by phase (MiB)")
    try:
        for rows in args.rows:
            r = bench(rows, workdir, labels=not args.no_labels)
            phases = ", ".join(f"{k}: {v}" for k, v in sorted(r["peak_by_phase_mb"].items(), key=lambda kv: -kv[1]))
            print(f"{r['rows']:>12,} {r['seconds']:>8.1f} {r['peak_rss_mb']:>7,} MiB {r['parquet_mb']:>5} MiB  {phases}")
            print(f"{'':>12} status={r['status']} labelled={r['labelled']:,} errors={r['errors']} "
                  f"stage seconds={json.dumps({k: round(v, 1) for k, v in r['timings'].items()})}", flush=True)
            if not args.keep:
                shutil.rmtree(workdir / f"rows_{rows}", ignore_errors=True)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
