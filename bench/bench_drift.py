"""Benchmark: our drift engine vs Evidently 0.7's DataDriftPreset on the same frames and methods.

    python bench/bench_drift.py --rows 1000000 --cols 25
    python bench/bench_drift.py --rows 100000 --cols 25 --skip-evidently-above 200000

Generates a reference and a current frame (numeric and categorical columns, NaNs,
a quarter of the columns drifted), fits our reference profile (timed on its own),
runs detection with the profile cached, then runs Evidently with the methods our
`auto` chose, column by column, and compares the scores. The last line is:

    rows=N cols=M ours_s=... evidently_s=... speedup=... max_abs_diff=...

ours_s is detection with the profile cached (the nightly cost); the profile fit
and the profile round trip through bytes are printed above it.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

from monitor.config import DriftConfig
from monitor.stages.drift import METHODS, Day, ReferenceProfile, detect_drift, fit_profile
from monitor.stages.drift.multivariate import multivariate_drift


def make_frames(rows: int, cols: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str], set[str]]:
    """Reference and current frames; roughly 1 in 4 columns categorical, every 4th column drifted."""
    rng = np.random.default_rng(seed)
    ref, cur, kinds, drifted = {}, {}, {}, set()
    for j in range(cols):
        drift = j % 4 == 1
        kind = j % 4
        name = f"c{j:02d}"
        if kind == 3 or j % 7 == 6:
            # categorical: strings with 3..40 levels, skewed
            levels = np.array([f"v{k}" for k in range(3 + (j * 7) % 38)])
            w = 1.0 / np.arange(1, levels.size + 1)
            w_ref = w / w.sum()
            w_cur = (w[::-1] / w.sum()) if drift else w_ref
            ref[name] = levels[rng.choice(levels.size, rows, p=w_ref)]
            cur[name] = levels[rng.choice(levels.size, rows, p=w_cur)]
            kinds[name] = "categorical"
        elif j % 5 == 4:
            # small-integer numeric (<= 5 values): Evidently's auto picks Jensen-Shannon
            p = np.array([0.4, 0.3, 0.15, 0.1, 0.05])
            ref[name] = rng.choice(5, rows, p=p)
            cur[name] = rng.choice(5, rows, p=p[::-1] if drift else p)
            kinds[name] = "numerical"
        else:
            shift = 0.3 if drift else 0.0
            if j % 3 == 0:
                r, c = rng.normal(size=rows), rng.normal(shift, size=rows)
            elif j % 3 == 1:
                r, c = rng.lognormal(size=rows), rng.lognormal(shift, size=rows)
            else:
                r, c = rng.integers(0, 1000, rows).astype(np.float64), (rng.integers(0, 1000, rows) + 150 * shift).astype(np.float64)
            if j % 2 == 0:  # some missing values
                r[rng.random(rows) < 0.02] = np.nan
                c[rng.random(rows) < 0.03] = np.nan
            ref[name], cur[name] = r, c
            kinds[name] = "numerical"
        if drift:
            drifted.add(name)
    return pd.DataFrame(ref), pd.DataFrame(cur), kinds, drifted


def score(col: dict) -> float:
    return col["p_value"] if METHODS[col["method"]].kind == "p_value" else col["statistic"]


def run_evidently(ref: pd.DataFrame, cur: pd.DataFrame, kinds: dict[str, str], methods: dict[str, str]) -> dict[str, float]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    dd = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numerical"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    report = Report([DataDriftPreset(per_column_method=methods)])
    snap = report.run(Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd))
    out = {}
    for m in snap.dict()["metrics"]:
        cfg = m.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            out[cfg["column"]] = float(m["value"])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=25)
    ap.add_argument("--method", default="auto", help="drift method for every column (default: auto, as Evidently)")
    ap.add_argument("--workers", type=int, default=2, help="columns processed at once (DriftConfig.workers)")
    ap.add_argument("--repeat", type=int, default=3, help="detection runs; the best is reported")
    ap.add_argument("--skip-evidently-above", type=int, default=None, metavar="ROWS",
                    help="do not run Evidently when --rows exceeds this (evidently_s is then reported as nan)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    t = time.perf_counter()
    ref, cur, kinds, drifted = make_frames(args.rows, args.cols)
    frames_mb = (ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum()) / 2**20
    print(f"data: {args.rows} rows x {args.cols} cols ({sum(k == 'categorical' for k in kinds.values())} categorical, "
          f"{len(drifted)} drifted), frames {frames_mb:.0f} MB, generated in {time.perf_counter() - t:.1f}s")

    # the univariate engine alone (what Evidently's preset does); the domain classifier is timed below
    cfg = DriftConfig(method=args.method, workers=args.workers, multivariate={"enabled": False})
    roles = {c: "feature" for c in kinds}
    t = time.perf_counter()
    profile = fit_profile(ref, kinds, DriftConfig(method=args.method, workers=args.workers))
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    blob = profile.to_bytes()
    to_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "profile")
        with open(path, "wb") as out:
            out.write(blob)
        t = time.perf_counter()
        with open(path, "rb") as f:
            data = f.read()
        read_s = time.perf_counter() - t
        t = time.perf_counter()
        profile = ReferenceProfile.from_bytes(data)
        from_s = time.perf_counter() - t
    print(f"ours: profile fit {fit_s:.2f}s, to_bytes {to_s:.2f}s ({len(blob) / 2**20:.0f} MB); cached profile: "
          f"file read {read_s:.3f}s, from_bytes {from_s * 1000:.2f} ms (views into the buffer, no copy)")

    times = []
    for _ in range(max(1, args.repeat)):
        gc.collect()
        t = time.perf_counter()
        result = detect_drift(profile, cur, cfg, roles)
        times.append(time.perf_counter() - t)
    ours_s = min(times)
    print(f"ours: detect (profile cached) best {ours_s:.3f}s of {[round(x, 3) for x in times]} (first run is cold)")

    tracemalloc.start()
    detect_drift(profile, cur, cfg, roles)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"ours: detect peak traced memory {peak / 2**20:.0f} MB above the input frames and profile")

    res = result.to_dict()
    methods = {c: f["method"] for c, f in res["features"].items()}
    print(f"ours: dataset_drift={res['dataset_drift']} share={res['share_drifted']:.2f} "
          f"drifted={sorted(c for c, f in res['features'].items() if f['drifted'])} (planted: {sorted(drifted)})")

    _run_path(profile, cur, cfg, roles, ours_s)
    _extras(profile, cur, cfg, roles)

    run_ev = args.skip_evidently_above is None or args.rows <= args.skip_evidently_above
    evidently_s = float("nan")
    max_diff = float("nan")
    if run_ev:
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        ev = run_evidently(ref, cur, kinds, methods)
        evidently_s = time.perf_counter() - t
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"evidently: DataDriftPreset {evidently_s:.2f}s, peak RSS grew by >= {(rss1 - rss0) / 1024:.0f} MB")
        print(f"{'column':8} {'kind':12} {'method':14} {'ours':>24} {'evidently':>24} {'abs_diff':>10} verdict")
        diffs = []
        for c, f in res["features"].items():
            o, e = score(f), ev.get(c, float("nan"))
            d = abs(o - e)
            diffs.append(d)
            same = "agree" if f["drifted_evidently"] == _ev_verdict(f["method"], e, f["threshold"]) else "DISAGREE"
            print(f"{c:8} {f['kind']:12} {f['method']:14} {o:24.17g} {e:24.17g} {d:10.2e} {same}")
        max_diff = max(diffs) if diffs else float("nan")
        # the machine is shared: time ours again after Evidently's minutes and keep the best of all runs
        after = []
        for _ in range(max(1, args.repeat)):
            gc.collect()
            t = time.perf_counter()
            detect_drift(profile, cur, cfg, roles)
            after.append(time.perf_counter() - t)
        ours_s = min(ours_s, min(after))
        print(f"ours: detect again after Evidently {[round(x, 3) for x in after]}; best overall {ours_s:.3f}s")
    speedup = evidently_s / ours_s if run_ev else float("nan")
    print(f"rows={args.rows} cols={args.cols} ours_s={ours_s:.3f} evidently_s={evidently_s:.2f} "
          f"speedup={speedup:.1f} max_abs_diff={max_diff:.3g}")


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _run_path(profile: ReferenceProfile, cur: pd.DataFrame, cfg: DriftConfig, roles: dict[str, str], ours_s: float) -> None:
    """The same detection on the frame as the nightly run has it: written to parquet, read back by monitor.io."""
    from monitor.io.storage import LocalStorage, read_tables

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "part-0.parquet")
        cur.to_parquet(path, index=False)
        t = time.perf_counter()
        frame, _ = read_tables(LocalStorage(), path)
        read_s = time.perf_counter() - t
        run_s = _best(lambda: detect_drift(profile, frame, cfg, roles))
        kinds = sorted({str(frame[c].dtype) for c in frame.columns})
    print(f"ours: read parquet {read_s:.2f}s ({type(frame).__name__}, dtypes {kinds}); detect on it best {run_s:.3f}s "
          f"(in-memory frame {ours_s:.3f}s)")


def _extras(profile: ReferenceProfile, cur: pd.DataFrame, cfg: DriftConfig, roles: dict[str, str]) -> None:
    """The newest day on its own (quiet and shifted) and the domain classifier, timed on their own."""
    rng = np.random.default_rng(1)
    day = cur.iloc[np.sort(rng.choice(len(cur), min(len(cur), 165), replace=False))].reset_index(drop=True)
    shifted = day.assign(**{c: day[c] + 3 for c in day.columns if pd.api.types.is_float_dtype(day[c])})
    for name, frame in (("165 rows sampled from the window", day), ("the same, numeric columns +3", shifted)):
        d = Day("2026-01-01", frame)
        with_day = _best(lambda d=d: detect_drift(profile, cur, cfg, roles, newest_day=d))
        res = detect_drift(profile, cur, cfg, roles, newest_day=d).newest_day
        print(f"ours: with the newest day ({name}) {with_day:.3f}s; drifted that day: {res.drifted if res else None}")
    mv_cfg = DriftConfig(method=cfg.method, workers=cfg.workers)
    t = time.perf_counter()
    mv = multivariate_drift(profile, cur, list(roles), mv_cfg)
    print(f"ours: domain classifier {time.perf_counter() - t:.2f}s ({mv.n_reference}+{mv.n_current} rows, "
          f"AUC {mv.statistic or float('nan'):.3f} [{mv.ci_low or float('nan'):.3f}, {mv.ci_high or float('nan'):.3f}], "
          f"drifted={mv.drifted}, top {[c for c, _ in mv.top_features[:3]]})")


def _ev_verdict(method: str, score: float, threshold: float) -> bool:
    if METHODS[method].kind == "distance":
        return score >= threshold
    return score <= threshold if method in ("ks", "cramer_von_mises") else score < threshold


if __name__ == "__main__":
    main()
