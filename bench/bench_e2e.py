"""End to end: the whole nightly `run` (report + email to an outbox) vs Evidently's two presets.

    .venv/bin/python bench/bench_e2e.py --rows 1000000
    .venv/bin/python bench/bench_e2e.py --rows 50000000 --cols 30 --skip-evidently-above 2000000 --repeat 1

For each N it writes one day of N rows x `--cols` columns (id, score, prediction, numerical
and 5 categorical features) as parquet in row groups of 1M rows (so generating 50M rows needs
little memory), its labels (id, target) in another location, and a reference of `--ref-rows`
rows (1M) with the target. Then:

- ours, local storage: `drift-monitor run CONFIG --date D --resend` (the CLI's `main`) in a
  fresh child process; a first run fits and caches the drift profile (reported, not counted),
  then `--repeat` runs are timed, median reported. `ours_s` is the wall time of `main(...)`
  inside the child (config load, read, stages, outputs, report, email); the child's total wall
  time including interpreter start and imports is printed as well (the package's bytecode
  compiled first, as an install has it). Peak memory is the child's own high-water mark
  (VmHWM), i.e. our run alone: its ru_maxrss would count this parent's peak too, which Linux
  carries over at exec (the S3 runs' figure was the parent's, moto's objects included).
- ours, S3: the same data uploaded to moto's ThreadedMotoServer on 127.0.0.1 (served from this
  parent process), outputs written to S3 too, same repeats (`ours_s3_s`).
- Evidently 0.7: DataDriftPreset + ClassificationPreset on the same frames (reference; the day
  joined with its labels), in its own child process: `Report.run` is timed (reading and
  joining the frames is not), peak memory read the same way.

Per-phase times come from the manifest's `timings`. The last line is

    rows=N ours_s=... ours_s3_s=... evidently_s=... speedup=... peak_rss_mb=...

with speedup = evidently_s / ours_s and peak_rss_mb our local run's peak. Figures only:
nothing is asserted. `--profile FILE` writes a pyinstrument (`.html`/`.txt`) or cProfile
(`.prof`) profile of one extra local run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 1, 15)
N_CAT = 5
CHUNK = 1_000_000
BUCKET = "bench-e2e"


def layout(cols: int) -> tuple[list[str], list[str]]:
    """Numerical and categorical feature names for a day of `cols` columns (id, score, prediction + features)."""
    n_num = cols - 3 - N_CAT
    if n_num < 1:
        raise SystemExit(f"--cols {cols}: need at least {4 + N_CAT}")
    return [f"f{i:02d}" for i in range(n_num)], [f"c{i}" for i in range(N_CAT)]


# --------------------------------------------------------------------------- data


def _chunk(rng: Any, n: int, id_start: int, cols: int, *, shift: float) -> tuple[Any, Any]:
    import numpy as np
    import pyarrow as pa

    num, cat = layout(cols)
    out: dict[str, Any] = {"id": pa.array(np.arange(id_start, id_start + n, dtype="int64"))}
    x = rng.normal(0.0, 1.0, (len(num), n))
    x[: max(1, len(num) // 4)] += shift  # a quarter of the numerical features drift
    logit = 0.8 * x[0] - 0.6 * x[min(1, len(num) - 1)] + 0.4 * x[min(2, len(num) - 1)]
    score = 1.0 / (1.0 + np.exp(-logit))
    out["y_pred_proba"] = pa.array(score)
    out["y_pred"] = pa.array((score >= 0.5).astype("int64"))
    for i, name in enumerate(num):
        v = x[i]
        if i % 5 == 4:  # a few columns with missing values
            v = np.where(rng.uniform(size=n) < 0.02, np.nan, v)
        out[name] = pa.array(v)
    c0_codes = None
    for i, name in enumerate(cat):
        levels = np.array([f"{name}_{k}" for k in range(4 + 3 * i)], dtype=object)
        p = 1.0 / np.arange(1, levels.size + 1)
        codes = rng.choice(levels.size, n, p=p / p.sum())
        c0_codes = codes if i == 0 else c0_codes
        out[name] = pa.array(levels[codes], type=pa.string())
    target = (rng.uniform(size=n) < score).astype("int64")
    if shift:  # in production the model is worse for one cohort (c0 = c0_0): some labels flipped
        bad = (c0_codes == 0) & (rng.uniform(size=n) < 0.1)
        target = np.where(bad, 1 - target, target)
    return pa.table(out), pa.table({"id": out["id"], "y": pa.array(target)})


def write_dataset(root: Path, rows: int, cols: int, ref_rows: int, seed: int = 0) -> dict[str, Path]:
    """reference.parquet, predictions/dt=DAY/part-0.parquet and labels/dt=DAY/labels.parquet under root."""
    import numpy as np
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    part = root / "predictions" / f"dt={DAY.isoformat()}"
    lab = root / "labels" / f"dt={DAY.isoformat()}"
    part.mkdir(parents=True, exist_ok=True)
    lab.mkdir(parents=True, exist_ok=True)

    writer: Any = None
    done = 0
    while done < ref_rows:
        n = min(CHUNK, ref_rows - done)
        t, lt = _chunk(rng, n, done, cols, shift=0.0)
        t = t.append_column("y", lt.column("y"))
        writer = writer or pq.ParquetWriter(root / "reference.parquet", t.schema)
        writer.write_table(t)
        done += n
    writer.close()

    writer = None
    lwriter: Any = None
    done = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        t, lt = _chunk(rng, n, 10**10 + done, cols, shift=0.15)
        writer = writer or pq.ParquetWriter(part / "part-0.parquet", t.schema)
        lwriter = lwriter or pq.ParquetWriter(lab / "labels.parquet", lt.schema)
        writer.write_table(t)
        lwriter.write_table(lt)
        done += n
    writer.close()
    lwriter.close()
    return {"reference": root / "reference.parquet", "production": part / "part-0.parquet",
            "labels": lab / "labels.parquet"}


def write_config(root: Path, base: str, cols: int, name: str) -> Path:
    """The monitor config, with data and outputs under `base` (a local dir or s3://bucket/prefix)."""
    import yaml

    num, cat = layout(cols)
    cfg = {
        "name": "bench_e2e",
        "schedule": "@daily",
        "window_days": 1,
        "reference": {"uri": f"{base}/reference.parquet"},
        "production": {"uri": f"{base}/predictions/dt={{date}}/", "format": "parquet"},
        "labels": {"uri": f"{base}/labels/dt={{date}}/", "format": "parquet", "join_on": ["id"], "delay_days": 3},
        "model": {"task": "binary_classification", "target": "y", "prediction": "y_pred",
                  "score": "y_pred_proba", "id": "id"},
        "features": {"numerical": num, "categorical": cat},
        "cohorts": [{"column": "c0"}, {"column": "c1"}],
        "metrics": ["roc_auc", "accuracy", "f1"],
        "drift": {"method": "auto"},
        "output": {"uri": f"{base}/out"},
        "email": {"to": ["ml-team@example.com"], "send": "always", "outbox": str(root / f"outbox_{name}")},
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# --------------------------------------------------------------------------- measured children


def child_ours(config: str, profile: Optional[str]) -> dict:
    """One `run` through the CLI entry point; wall time, peak RSS and the manifest's timings."""
    import resource

    t_start = time.perf_counter()
    from monitor.cli import main as cli_main

    args = ["run", config, "--date", DAY.isoformat(), "--resend"]
    profiler: Any = None
    if profile and profile.endswith(".prof"):
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time: robust on a shared machine
        profiler.enable()
    elif profile:
        from pyinstrument import Profiler  # measuring only; not a runtime dependency

        profiler = Profiler(interval=0.001)
        profiler.start()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    code = cli_main(args)
    run_s = time.perf_counter() - t
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if profile and profile.endswith(".prof"):
        profiler.disable()
        profiler.dump_stats(profile)
    elif profile:
        profiler.stop()
        Path(profile).write_text(profiler.output_html() if profile.endswith(".html") else profiler.output_text(unicode=True, show_all=False))
    if code != 0:
        raise SystemExit(f"run exited {code}")
    manifest = _read_manifest(config)
    return {
        "run_s": run_s,
        "import_s": t - t_start,
        "cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
        "peak_rss_mb": _peak_rss_mb(),
        "timings": manifest.get("timings", {}),
        "email_sent": bool((manifest.get("email") or {}).get("sent")),
        "rows": manifest.get("rows", {}),
    }


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM where /proc has it, else ru_maxrss (which, on Linux, also holds
    the peak of the parent that started this process)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read_manifest(config: str) -> dict:
    import yaml

    cfg = yaml.safe_load(Path(config).read_text())
    uri = f"{cfg['output']['uri']}/{cfg['name']}/date={DAY.isoformat()}/manifest.json"
    if uri.startswith("s3://"):
        import boto3

        bucket, key = uri[5:].split("/", 1)
        return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return json.loads(Path(uri).read_text())


def child_evidently(root: str, cols: int) -> dict:
    """Evidently 0.7.23: DataDriftPreset + ClassificationPreset on the reference and the labelled day."""
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore")
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset, DataDriftPreset

    r = Path(root)
    reference = pd.read_parquet(r / "reference.parquet")
    current = pd.read_parquet(r / "predictions" / f"dt={DAY.isoformat()}")
    labels = pd.read_parquet(r / "labels" / f"dt={DAY.isoformat()}")
    current = current.merge(labels, on="id", how="left")
    num, cat = layout(cols)
    definition = DataDefinition(
        id_column="id",
        numerical_columns=[*num, "y_pred_proba"],
        categorical_columns=[*cat, "y_pred", "y"],
        classification=[BinaryClassification(target="y", prediction_labels="y_pred", prediction_probas="y_pred_proba")],
    )
    t = time.perf_counter()
    report = Report([DataDriftPreset(), ClassificationPreset()])
    snapshot = report.run(Dataset.from_pandas(current, data_definition=definition),
                          Dataset.from_pandas(reference, data_definition=definition))
    n_metrics = len(snapshot.dict()["metrics"])
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "metrics": n_metrics,
            "peak_rss_mb": _peak_rss_mb()}


# --------------------------------------------------------------------------- driver


def _child(args: list[str], env: Optional[dict] = None) -> tuple[dict, float]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed (exit {out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), wall


def _ours(config: Path, repeat: int, env: Optional[dict], label: str, warmup: bool = True) -> dict:
    if warmup:
        _warmup(config, env, label)
    return _timed(config, repeat, env, label)


def _warmup(config: Path, env: Optional[dict], label: str) -> None:
    warm, _ = _child(["--child-ours", str(config)], env)  # fits and caches the drift profile
    print(f"  {label}: first run (fits the drift profile) {warm['run_s']:.2f}s, peak {warm['peak_rss_mb']:.0f} MB; "
          f"timings {_fmt_timings(warm['timings'])}", flush=True)


def _timed(config: Path, repeat: int, env: Optional[dict], label: str) -> dict:
    runs = []
    for _ in range(max(1, repeat)):
        res, wall = _child(["--child-ours", str(config)], env)
        res["process_wall_s"] = wall
        runs.append(res)
        print(f"  {label}: run {res['run_s']:.2f}s (CPU {res['cpu_s']:.2f}s; process {wall:.2f}s incl. {res['import_s']:.2f}s start-up imports), "
              f"peak RSS {res['peak_rss_mb']:.0f} MB, email sent={res['email_sent']}; "
              f"timings {_fmt_timings(res['timings'], res['run_s'])}",
              flush=True)
    med = sorted(runs, key=lambda r: r["run_s"])[len(runs) // 2]
    return {
        "run_s": statistics.median(r["run_s"] for r in runs),
        "process_wall_s": statistics.median(r["process_wall_s"] for r in runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "timings": med["timings"],
        "median_run_s": med["run_s"],
        "rows": med["rows"],
    }


def _fmt_timings(t: dict, run_s: Optional[float] = None) -> str:
    text = " ".join(f"{k}={v:.2f}" for k, v in t.items())
    if run_s is not None and "compute" in t:  # the rest of `run`: config, report, email, re-evaluation check
        text += f" render+notify+rest={run_s - t['compute']:.2f}"
    return text


def _upload(paths: dict[str, Path], root: Path, endpoint: str) -> dict[str, str]:
    import boto3

    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    for p in paths.values():
        s3.upload_file(str(p), BUCKET, f"{root.name}/{p.relative_to(root).as_posix()}")
    return env


def bench(rows: int, args: argparse.Namespace, workdir: Path) -> str:
    root = workdir / f"rows_{rows}"
    t = time.perf_counter()
    stamp = root / "dataset.json"
    shape = {"rows": rows, "cols": args.cols, "ref_rows": args.ref_rows, "day": DAY.isoformat()}
    if args.reuse and stamp.exists() and json.loads(stamp.read_text()).get("shape") == shape:
        paths = {k: Path(v) for k, v in json.loads(stamp.read_text())["paths"].items()}
        for leftover in [root / "out", *root.glob("outbox_*")]:  # each measurement starts from no outputs
            shutil.rmtree(leftover, ignore_errors=True)
        made = "reused"
    else:
        shutil.rmtree(root, ignore_errors=True)  # a half-written or other-shaped dataset is never mixed in
        paths = write_dataset(root, rows, args.cols, args.ref_rows)
        stamp.write_text(json.dumps({"shape": shape, "paths": {k: str(v) for k, v in paths.items()}}))
        made = f"generated in {time.perf_counter() - t:.1f}s"
    size_mb = paths["production"].stat().st_size / 2**20
    print(f"rows={rows:,} x {args.cols} columns: day {size_mb:.0f} MiB parquet, reference {args.ref_rows:,} rows; "
          f"{made}", flush=True)

    local_cfg = write_config(root, str(root), args.cols, "local")
    ours = _ours(local_cfg, args.repeat, None, "ours local", warmup=not args.no_warmup)
    print(f"  ours local: median run {ours['run_s']:.2f}s (CPU {ours['cpu_s']:.2f}s), process {ours['process_wall_s']:.2f}s, "
          f"peak RSS {ours['peak_rss_mb']:.0f} MB, rows {ours['rows']}")
    print("  per-phase (median run, s): " + _fmt_timings(ours["timings"], ours["median_run_s"]), flush=True)

    if args.profile:
        _child(["--child-ours", str(local_cfg), "--profile-to", args.profile])
        print(f"  profile of one local run written to {args.profile}")

    s3_s: Optional[float] = None
    if not args.no_s3:
        import logging
        import socket

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            env = _upload(paths, root, f"http://127.0.0.1:{port}")
            s3_cfg = write_config(root, f"s3://{BUCKET}/{root.name}", args.cols, "s3")
            ours_s3 = _ours(s3_cfg, args.repeat, env, "ours S3")
            s3_s = ours_s3["run_s"]
            print(f"  ours S3: median run {s3_s:.2f}s (CPU {ours_s3['cpu_s']:.2f}s), peak RSS {ours_s3['peak_rss_mb']:.0f} MB")
            print("  per-phase S3 (median run, s): " + _fmt_timings(ours_s3["timings"], ours_s3["median_run_s"]), flush=True)
        finally:
            server.stop()

    ev_s: Optional[float] = None
    if args.skip_evidently_above is None or rows <= args.skip_evidently_above:
        ev, _ = _child(["--child-evidently", str(root), "--cols", str(args.cols)])
        ev_s = ev["seconds"]
        print(f"  evidently: DataDriftPreset + ClassificationPreset {ev_s:.1f}s ({ev['metrics']} metrics), "
              f"peak RSS {ev['peak_rss_mb']:.0f} MB", flush=True)
    ev_txt = f"{ev_s:.2f}" if ev_s is not None else "skipped"
    speedup = f"{ev_s / ours['run_s']:.1f}" if ev_s is not None else "skipped"
    s3_txt = f"{s3_s:.3f}" if s3_s is not None else "skipped"
    return (f"rows={rows} ours_s={ours['run_s']:.3f} ours_s3_s={s3_txt} evidently_s={ev_txt} "
            f"speedup={speedup} peak_rss_mb={ours['peak_rss_mb']:.0f}")


def _compile_package() -> None:
    """Our package's bytecode, as an installed package has it (pip compiles at install): from a checkout with
    PYTHONDONTWRITEBYTECODE set, every timed run would compile its ~130 modules again (0.2-0.3 s of CPU)."""
    import compileall

    compileall.compile_dir(str(REPO / "monitor"), quiet=1)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--cols", type=int, default=27, help="columns of the day: id, score, prediction, features (default 27)")
    ap.add_argument("--ref-rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per storage (median); a warm-up run comes first")
    ap.add_argument("--skip-evidently-above", type=int, default=None, metavar="ROWS")
    ap.add_argument("--no-s3", action="store_true", help="local storage only")
    ap.add_argument("--no-warmup", action="store_true",
                    help="no untimed first run (the timed run then fits the drift profile too); for the largest sizes")
    ap.add_argument("--profile", metavar="FILE", help="profile one extra local run (.html/.txt: pyinstrument, .prof: cProfile)")
    ap.add_argument("--workdir", help="where the data goes (default: a temp dir, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the data")
    ap.add_argument("--reuse", action="store_true",
                    help="with --workdir --keep: use the data a previous run left there if it has the same shape "
                         "(outputs, outbox and the cached profile are removed first)")
    ap.add_argument("--child-ours", help=argparse.SUPPRESS)
    ap.add_argument("--profile-to", help=argparse.SUPPRESS)
    ap.add_argument("--child-evidently", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_ours:
        print(json.dumps(child_ours(args.child_ours, args.profile_to)))
        return 0
    if args.child_evidently:
        print(json.dumps(child_evidently(args.child_evidently, args.cols)))
        return 0

    import psutil

    _compile_package()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_e2e_"))
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    lines = []
    try:
        for rows in args.rows:
            lines.append(bench(rows, args, workdir))
            if not args.keep:
                shutil.rmtree(workdir / f"rows_{rows}", ignore_errors=True)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
