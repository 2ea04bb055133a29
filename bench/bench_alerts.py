"""Alert benchmark: does the monitor stay quiet on healthy days and name every real incident?

    python bench/bench_alerts.py [--small] [--workdir DIR] [--only NAME,NAME] [--keep]

It builds a realistic store for a car-loan repayment classifier (a weekly traffic
cycle, a few nulls and manual overrides that are normal for this model, labels that
arrive over four days), then plays the nightly schedule: every night it runs
`python -m monitor run CONFIG --date <yesterday>` in process (through
`monitor.cli.main`, email to an outbox), which also re-evaluates the day whose labels
just became final.

1. Healthy: the first nights run on untouched data; every healthy day must come out
   `ok`, both on its night and when re-evaluated with final labels, and its email
   subject must say OK.
2. Incidents: each incident gets its own copy of the store as it stood after the
   healthy nights, is injected from its onset day on, and the nights after it are
   played until an alert names it (or a budget of nights runs out). An incident is
   *caught* when a run flags a day from the onset on (status above `ok`), and
   *named* when an alert has the expected kind and subject (for quality alerts
   also the check's name): "quality:null_rate:debt_to_income_ratio", "volume:rows",
   "cohort:region=east", ...

Per incident it prints whether it was caught and named, the nights from onset to
the first alert and to the naming alert (0 = the morning after it started), and
what the alerts were. The last line is

    incidents=N caught=N healthy_days=N false_alarm_days=N

(`caught` counts incidents caught AND named). `--small` is the CI size.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import io
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

START = dt.date(2026, 3, 2)  # a Monday: day 1 of production
LABEL_DELAY = 3  # labels.delay_days: a day's labels are complete when it is this old at its re-evaluation
# Share of a day's labels that has arrived by the night when the day is `age` days old.
ARRIVAL = {0: 0.0, 1: 0.0, 2: 0.25, 3: 0.6}
REGIONS = ["north", "south", "east", "west"]
REGION_P = [0.3, 0.25, 0.25, 0.2]
EMPLOYMENT = ["employed", "self_employed", "unemployed"]
EMPLOYMENT_P = [0.75, 0.18, 0.07]
WEEKDAY_VOLUME = [1.0, 1.02, 1.0, 0.98, 1.05, 0.62, 0.55]  # Mon..Sun
OVERRIDE_SHARE = 0.015  # manual decisions that overrule the score: normal for this model, in training too


@dataclasses.dataclass(frozen=True)
class Size:
    rows: int  # rows on an average weekday
    healthy: int  # healthy nights (days monitored before any incident)
    nights: int  # budget of nights per incident (data incidents stop early once named)


FULL = Size(rows=2000, healthy=35, nights=LABEL_DELAY + 2)
SMALL = Size(rows=700, healthy=8, nights=LABEL_DELAY + 2)


# --------------------------------------------------------------------------- data


def features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    age = np.clip(rng.normal(41, 12, n), 18, 80).round().astype("int64")
    income = rng.lognormal(np.log(52000), 0.45, n).round(2)
    income = np.where(rng.uniform(size=n) < 0.01, np.nan, income)  # 1% never filled in
    dti = rng.beta(2.2, 6, n).round(4)
    car_value = rng.gamma(4, 6500, n).round(2)
    loan = (car_value * rng.uniform(0.5, 1.0, n)).round(2)
    tenure = rng.exponential(7, n).round(2)
    employment = rng.choice(EMPLOYMENT, n, p=EMPLOYMENT_P).astype(object)
    employment[rng.uniform(size=n) < 0.03] = None  # 3% unknown, as in training
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "debt_to_income_ratio": dti,
            "car_value": car_value,
            "loan_amount": loan,
            "driver_tenure": tenure,
            "salary_range": np.where(np.nan_to_num(income, nan=52000) < 38000, "low",
                                     np.where(np.nan_to_num(income, nan=52000) < 75000, "medium", "high")),
            "region": rng.choice(REGIONS, n, p=REGION_P),
            "employment": employment,
        }
    )


def logit(df: pd.DataFrame) -> np.ndarray:
    income = pd.to_numeric(df["income"], errors="coerce").fillna(52000).to_numpy(dtype=float)
    return (
        1.1
        + 0.9 * (np.log(np.maximum(income, 1.0)) - np.log(52000))
        - 5.0 * (df["debt_to_income_ratio"].to_numpy(dtype=float) - 0.27)
        - 1.1 * (df["loan_amount"].to_numpy(dtype=float) / 25000 - 0.8)
        + 0.06 * np.minimum(df["driver_tenure"].to_numpy(dtype=float), 15)
        - 1.2 * (df["employment"] == "unemployed").to_numpy()
        + 0.012 * (df["age"].to_numpy(dtype=float) - 41)
    )


def serve(df: pd.DataFrame, rng: np.random.Generator, threshold: float = 0.5) -> pd.DataFrame:
    """The model's output on the features it was given: score, decision (with a few manual overrides)."""
    score = 1 / (1 + np.exp(-logit(df)))
    pred = (score >= threshold).astype("int64")
    override = rng.uniform(size=len(df)) < OVERRIDE_SHARE
    pred[override] = 1 - pred[override]
    return df.assign(y_pred_proba=score.round(6), y_pred=pred, latency_ms=rng.gamma(3, 22, len(df)).round(1))


def outcomes(df: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """What really happens: the model is right about the world (labels follow the true logit)."""
    p = 1 / (1 + np.exp(-logit(df)))
    return (rng.uniform(size=len(df)) < p).astype("int64")


def day_rows(size: Size, day: dt.date, rng: np.random.Generator) -> int:
    return int(rng.poisson(size.rows * WEEKDAY_VOLUME[day.weekday()]))


def make_day(size: Size, day: dt.date, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(production partition, true labels) of one day."""
    rng = np.random.default_rng(seed)
    n = day_rows(size, day, rng)
    x = features(rng, n)
    repaid = outcomes(x, rng)
    df = serve(x, rng)
    ids = np.arange(n, dtype="int64") + 10_000_000 + 100_000 * (day - START).days
    secs = np.sort(rng.integers(0, 86400, n))
    df.insert(0, "timestamp", pd.Timestamp(day, tz="UTC") + pd.to_timedelta(secs, unit="s"))
    df.insert(0, "id", ids)
    return df, pd.DataFrame({"id": ids, "repaid": repaid})


def make_reference(size: Size, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training snapshot (14 days of traffic two months before go-live) and a validation set."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(2):
        n = 7 * size.rows if k == 0 else 3 * size.rows
        x = features(rng, n)
        df = serve(x, rng).assign(repaid=outcomes(x, rng))
        df.insert(0, "id", np.arange(n, dtype="int64") + 1_000_000 * (k + 1))
        frames.append(df)
    train, valid = frames
    first = START - dt.timedelta(days=60)
    weight = np.array([WEEKDAY_VOLUME[(first + dt.timedelta(days=d)).weekday()] for d in range(7)])
    secs = rng.choice(7, len(train), p=weight / weight.sum()) * 86400 + rng.integers(0, 86400, len(train))
    train.insert(1, "timestamp", pd.Timestamp(first, tz="UTC") + pd.to_timedelta(np.sort(secs), unit="s"))
    return train, valid


CONFIG = """\
name: car_loan
schedule: "@daily"
window_days: 1
reference: {{uri: "{root}/data/train.parquet"}}
baseline: {{uri: "{root}/data/validation.parquet"}}
production: {{uri: "{root}/data/predictions/dt={{date}}/", format: parquet}}
labels:
  uri: "{root}/labels/dt={{date}}/"
  join_on: [id]
  delay_days: {delay}
model:
  task: binary_classification
  target: repaid
  prediction: y_pred
  score: y_pred_proba
  id: id
  timestamp: timestamp
features:
  numerical: [age, income, debt_to_income_ratio, car_value, loan_amount, driver_tenure]
  categorical: [salary_range, region, employment]
cohorts:
  - column: salary_range
  - column: region
  - column: employment
  - {{column: car_value, bins: [0, 20000, 40000, .inf]}}
  - {{name: new_drivers, where: "driver_tenure < 1"}}
metrics: [roc_auc, accuracy, f1, brier]
drift: {{method: auto}}
business:
  guardrails: [{{column: latency_ms, stat: p95, max: 200}}]
output: {{uri: "{root}/monitoring/"}}
email:
  to: [ml-team@example.com]
  send: always
  outbox: "{root}/outbox"
"""


class Store:
    """One copy of the production store: predictions, labels (as arrived so far), truth, outputs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "monitor.yaml"

    def part_dir(self, day: dt.date) -> Path:
        return self.root / "data" / "predictions" / f"dt={day.isoformat()}"

    def truth_path(self, day: dt.date) -> Path:
        return self.root / "truth" / f"{day.isoformat()}.parquet"

    def write_partition(self, day: dt.date, files: list[pd.DataFrame]) -> None:
        d = self.part_dir(day)
        shutil.rmtree(d, ignore_errors=True)
        if not files:
            return  # the partition is absent
        d.mkdir(parents=True)
        for k, f in enumerate(files):
            f.to_parquet(d / f"part-{k}.parquet", index=False)

    def read_partition(self, day: dt.date) -> pd.DataFrame:
        return pd.read_parquet(self.part_dir(day) / "part-0.parquet")

    def deliver_labels(self, night: dt.date) -> None:
        """Write the labels that have arrived by the morning of `night` + 1 (the run's as-of)."""
        as_of = night + dt.timedelta(days=1)
        for path in sorted((self.root / "truth").glob("*.parquet")):
            day = dt.date.fromisoformat(path.stem)
            age = (as_of - day).days
            if age <= 0:
                continue
            share = ARRIVAL.get(age, 1.0)
            out = self.root / "labels" / f"dt={day.isoformat()}" / "labels.csv"
            if share <= 0 or (out.exists() and share >= 1.0 and age > max(ARRIVAL) + 1):
                continue  # nothing yet, or complete since an earlier night
            truth = pd.read_parquet(path)
            order = np.random.default_rng(day.toordinal()).permutation(len(truth))
            arrived = truth.iloc[np.sort(order[: int(round(share * len(truth)))])]
            out.parent.mkdir(parents=True, exist_ok=True)
            arrived.to_csv(out, index=False)

    def copy(self, root: Path) -> Store:
        shutil.copytree(self.root, root)
        other = Store(root)
        other.config.write_text(CONFIG.format(root=root, delay=LABEL_DELAY))
        return other


def build(root: Path, size: Size, days: int, seed: int) -> Store:
    store = Store(root)
    (root / "data").mkdir(parents=True)
    (root / "truth").mkdir()
    train, valid = make_reference(size, seed)
    train.to_parquet(root / "data" / "train.parquet", index=False)
    valid.to_parquet(root / "data" / "validation.parquet", index=False)
    for k in range(days):
        day = START + dt.timedelta(days=k)
        df, truth = make_day(size, day, seed * 1000 + k + 1)
        store.write_partition(day, [df])
        truth.to_parquet(store.truth_path(day), index=False)
    store.config.write_text(CONFIG.format(root=root, delay=LABEL_DELAY))
    return store


# --------------------------------------------------------------------------- running


@dataclasses.dataclass
class Night:
    night: dt.date  # the monitored day (the run happens the morning after)
    status: str  # its nightly status
    tags: list[str]  # alert names of the nightly run
    final_day: Optional[dt.date]  # the day re-evaluated that night (labels final)
    final_status: Optional[str]
    final_tags: list[str]
    subject: Optional[str]
    exit_code: int
    error: str = ""


def tags_of(metrics: dict) -> list[str]:
    """Alert names: kind:subject for every alert, plus quality:check:subject for quality findings."""
    out = [f"{a.get('kind')}:{a.get('subject')}" for a in metrics.get("alerts") or []]
    for f in ((metrics.get("quality") or {}).get("findings") or []):
        out.append(f"quality:{f.get('check')}:{f.get('subject')}")
    return out


def read_metrics(store: Store, day: dt.date) -> Optional[dict]:
    path = store.root / "monitoring" / "car_loan" / f"date={day.isoformat()}" / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def subject_of(store: Store, day: dt.date) -> Optional[str]:
    import email
    from email import policy

    for eml in (store.root / "outbox").glob(f"{day.isoformat()}*.eml"):
        msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        return str(msg["Subject"] or "").strip()
    return None


def run_night(store: Store, night: dt.date) -> Night:
    from monitor.cli import main

    store.deliver_labels(night)
    as_of = night + dt.timedelta(days=1)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", str(store.config), "--date", night.isoformat(), "--as-of", as_of.isoformat()])
    m = read_metrics(store, night) or {}
    final_day = night - dt.timedelta(days=LABEL_DELAY)
    fm = read_metrics(store, final_day)
    return Night(
        night=night,
        status=m.get("status", "missing") if m.get("date") == night.isoformat() else "missing",
        tags=tags_of(m),
        final_day=final_day if fm else None,
        final_status=fm.get("status") if fm else None,
        final_tags=tags_of(fm) if fm else [],
        subject=subject_of(store, night),
        exit_code=code,
        error=(err.getvalue().strip().splitlines() or [""])[-1] if code else "",
    )


# --------------------------------------------------------------------------- incidents


Inject = Callable[[pd.DataFrame, np.random.Generator], list[pd.DataFrame]]


@dataclasses.dataclass(frozen=True)
class Incident:
    name: str
    what: str
    expect: str  # regex over alert names (see tags_of) that names this incident
    partition: Optional[Inject] = None  # production files of an affected day from its healthy frame
    labels: Optional[Callable[[pd.DataFrame, pd.DataFrame, np.random.Generator], Optional[pd.DataFrame]]] = None
    days: int = 0  # affected days from the onset (0 = every day from the onset on)
    needs_labels: bool = False  # only visible once labels arrived (budget: the whole label delay)


def _one(f: Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]) -> Inject:
    return lambda df, rng: [f(df.copy(), rng)]


def _unit_change(df, rng):
    return df.assign(income=df["income"] / 1000)  # upstream now sends thousands


def _partial_nulls(df, rng):
    df.loc[rng.uniform(size=len(df)) < 0.2, "debt_to_income_ratio"] = np.nan
    return df


def _recoded(df, rng):
    return df.assign(employment=df["employment"].map({"employed": "EMP", "self_employed": "SELF", "unemployed": "UNEMP"}))


def _squashed(df, rng):
    return df.assign(y_pred_proba=(0.5 + (df["y_pred_proba"] - 0.5) * 0.3).round(6))


def _shifted(df, rng):
    s = np.clip(df["y_pred_proba"] + 0.1, 0, 1).round(6)
    return df.assign(y_pred_proba=s, y_pred=np.where(rng.uniform(size=len(df)) < OVERRIDE_SHARE, s < 0.5, s >= 0.5).astype("int64"))


def _cohort_noise(df, rng):
    east = (df["region"] == "east").to_numpy()
    s = df["y_pred_proba"].to_numpy().copy()
    s[east] = rng.uniform(0.2, 1.0, int(east.sum())).round(6)  # a stale model replica serving one region
    return df.assign(y_pred_proba=s, y_pred=(s >= 0.5).astype("int64"))


def _partial_arrival(df, rng):
    return df.sample(frac=0.35, random_state=1).sort_values("id")


def _double_written(df, rng):
    return [df, df.copy()]  # the batch job retried and wrote the whole batch twice


def _wrong_key(df, rng):
    # A join on the wrong key: each row gets another applicant's income, and the model scores that.
    wrong = df.assign(income=rng.permutation(df["income"].to_numpy()))
    return serve(wrong.drop(columns=["y_pred_proba", "y_pred", "latency_ms"]), rng).assign(
        latency_ms=df["latency_ms"].to_numpy())[df.columns]


def _dropped(df, rng):
    return df.drop(columns=["car_value"])


def _renamed(df, rng):
    return df.rename(columns={"debt_to_income_ratio": "dti_ratio"})


def _as_text(df, rng):
    return df.assign(age=df["age"].astype(str))


def _threshold(df, rng):
    s = df["y_pred_proba"]
    pred = (s >= 0.6).astype("int64")  # serving moved the cut-off; the config still says 0.5
    flip = rng.uniform(size=len(df)) < OVERRIDE_SHARE
    return df.assign(y_pred=np.where(flip, 1 - pred, pred))


def _nan_scores(df, rng):
    df.loc[rng.uniform(size=len(df)) < 0.05, "y_pred_proba"] = np.nan
    return df


def _wrong_day(df, rng):
    return df.assign(timestamp=df["timestamp"] - pd.Timedelta(days=1))  # the job stamped yesterday's date


def _covariate(df, rng):
    x = df.drop(columns=["y_pred_proba", "y_pred", "latency_ms"])
    x = x.assign(income=(x["income"] * 1.3).round(2))  # a market change: incomes up 30% overnight
    return serve(x, rng).assign(latency_ms=df["latency_ms"].to_numpy())[df.columns]


def _new_category(df, rng):
    hit = rng.uniform(size=len(df)) < 0.12
    return df.assign(region=np.where(hit, "central", df["region"]))  # a new sales region went live


def _constant(df, rng):
    return df.assign(y_pred_proba=0.78, y_pred=1)  # the model server fell back to the prior


def _labels_broken(pred, truth, rng):
    return None  # nothing arrives


def _labels_inverted(pred, truth, rng):
    return truth.assign(repaid=1 - truth["repaid"])  # the label job flipped its encoding


def _stale_model(pred, truth, rng):
    # The world changed: repayment no longer follows debt-to-income the way it did.
    dti = pd.to_numeric(pred["debt_to_income_ratio"], errors="coerce").fillna(0.27).to_numpy()
    p = 1 / (1 + np.exp(-(1.1 + 5.0 * (dti - 0.27))))
    return truth.assign(repaid=(rng.uniform(size=len(truth)) < p).astype("int64"))


INCIDENTS = [
    Incident("unit_change", "income sent in thousands", r"^(quality:out_of_range:income|drift:income)$", _one(_unit_change)),
    Incident("partial_nulls", "20% of debt_to_income_ratio null", r"^quality:null_rate:debt_to_income_ratio$", _one(_partial_nulls)),
    Incident("recoded_categories", "employment recoded EMP/SELF/UNEMP", r"^quality:unseen_categories:employment$", _one(_recoded)),
    Incident("squashed_scores", "scores squashed towards 0.5", r"^drift:y_pred_proba$", _one(_squashed)),
    Incident("shifted_scores", "scores +0.10", r"^(drift:y_pred_proba|quality:positive_rate:y_pred)$", _one(_shifted)),
    Incident("cohort_noise", "region=east served random scores", r"^cohort:region=east$", _one(_cohort_noise), needs_labels=True),
    Incident("partial_arrival", "35% of the rows arrived", r"^volume:rows$", _one(_partial_arrival), days=1),
    Incident("double_written", "the batch written twice", r"^quality:duplicate_ids:id$", _double_written, days=1),
    Incident("wrong_key_join", "income joined on the wrong key", r"^(drift:.*multivariate.*|performance:.*)$", _one(_wrong_key)),
    Incident("dropped_column", "car_value no longer sent", r"^quality:missing_columns:car_value$", _one(_dropped)),
    Incident("renamed_column", "debt_to_income_ratio renamed dti_ratio", r"^quality:renamed_columns:debt_to_income_ratio$", _one(_renamed)),
    Incident("numbers_as_text", "age written as strings", r"^quality:type_changed:age$", _one(_as_text)),
    Incident("threshold_change", "decisions at 0.6, config says 0.5", r"^quality:(prediction_score_mismatch|positive_rate):y_pred$", _one(_threshold)),
    Incident("nan_scores", "5% of scores NaN", r"^quality:score_invalid:y_pred_proba$", _one(_nan_scores)),
    Incident("labels_feed_broken", "no label arrives from the onset on", r"^quality:labels_due:.*$", labels=_labels_broken, needs_labels=True),
    Incident("late_partition", "the partition lands after the run", r"^no_data:partition_missing$", lambda df, rng: [], days=1),
    Incident("wrong_day_timestamps", "rows stamped with the previous day", r"^quality:timestamp_window:timestamp$", _one(_wrong_day), days=1),
    Incident("covariate_shift", "incomes up 30% overnight", r"^drift:income$", _one(_covariate)),
    Incident("new_category", "region 'central' at 12%", r"^quality:unseen_categories:region$", _one(_new_category)),
    Incident("constant_score", "the model falls back to a constant", r"^quality:constant_prediction:y_pred(_proba)?$", _one(_constant)),
    Incident("labels_inverted", "label feed flips 0/1", r"^performance:.*$", labels=_labels_inverted, needs_labels=True),
    Incident("stale_model", "repayment no longer follows the score", r"^(performance|cohort):.*$", labels=_stale_model, needs_labels=True),
]


@dataclasses.dataclass
class Outcome:
    incident: Incident
    caught_night: Optional[int] = None  # nights from onset to the first flag
    named_night: Optional[int] = None  # nights from onset to the naming alert
    tags: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)


def play_incident(base: Store, inc: Incident, onset: dt.date, size: Size, workdir: Path, seed: int) -> Outcome:
    store = base.copy(workdir / inc.name)
    res = Outcome(inc)
    budget = size.nights if inc.needs_labels else 3
    last = onset + dt.timedelta(days=budget - 1)
    rng = np.random.default_rng(seed)
    for k in range(budget):
        day = onset + dt.timedelta(days=k)
        if inc.days and k >= inc.days:
            continue
        if inc.partition is not None:
            store.write_partition(day, inc.partition(store.read_partition(day), rng))
        if inc.labels is not None:
            pred, truth = store.read_partition(day), pd.read_parquet(store.truth_path(day))
            new = inc.labels(pred, truth, rng)
            if new is None:
                store.truth_path(day).unlink()
            else:
                new.to_parquet(store.truth_path(day), index=False)
    night = onset
    while night <= last:
        n = run_night(store, night)
        k = (night - onset).days
        if n.exit_code:
            res.errors.append(f"{night}: exit {n.exit_code} {n.error}")
        flagged = [(n.status, n.tags)]
        if n.final_day is not None and n.final_day >= onset:
            flagged.append((n.final_status or "missing", n.final_tags))
        for status, tags in flagged:
            if status not in ("ok", "missing") and res.caught_night is None:
                res.caught_night = k
            res.tags += [t for t in tags if t not in res.tags]
            if res.named_night is None and any(re.match(inc.expect, t) for t in tags):
                res.named_night = k
        if res.named_night is not None:
            break
        night += dt.timedelta(days=1)
    return res


# --------------------------------------------------------------------------- main


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="the CI size: fewer rows and healthy nights")
    ap.add_argument("--workdir", default=None, help="keep the stores here (default: a temporary folder)")
    ap.add_argument("--only", default="", help="comma-separated incident names")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    size = SMALL if args.small else FULL
    incidents = [i for i in INCIDENTS if not args.only or i.name in args.only.split(",")]
    tmp = None
    if args.workdir:
        workdir = Path(args.workdir).resolve()
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench_alerts_")
        workdir = Path(tmp.name)
    try:
        run_bench(size, incidents, workdir, args.seed)
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


@dataclasses.dataclass
class BenchResult:
    healthy: dict[dt.date, list[str]]  # every healthy day -> why it was above ok ([] = ok)
    outcomes: list[Outcome]

    @property
    def false_alarm_days(self) -> list[dt.date]:
        return [d for d, why in self.healthy.items() if why]

    @property
    def caught(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.caught_night is not None and o.named_night is not None]


def healthy_nights(base: Store, size: Size) -> dict[dt.date, list[str]]:
    """Each healthy day checked on its night and again once its labels are final (the last
    LABEL_DELAY days only on their night: their re-evaluation falls after the healthy span)."""
    healthy = [START + dt.timedelta(days=k) for k in range(size.healthy)]
    verdict: dict[dt.date, list[str]] = {d: [] for d in healthy}
    for day in healthy:
        n = run_night(base, day)
        if n.exit_code:
            verdict[day].append(f"exit {n.exit_code}: {n.error}")
        if n.status != "ok":
            verdict[day].append(f"night {n.status}: {', '.join(n.tags)}")
        if n.subject is not None and not n.subject.startswith("[OK]"):
            verdict[day].append(f"subject {n.subject!r}")
        if n.final_day in verdict and n.final_status != "ok":
            verdict[n.final_day].append(f"final {n.final_status}: {', '.join(n.final_tags)}")
    return verdict


def run_bench(size: Size, incidents: list[Incident], workdir: Path, seed: int, out: Callable[[str], None] = print) -> BenchResult:
    t0 = time.perf_counter()
    total = size.healthy + size.nights + 1
    base = build(workdir / "base", size, total, seed)
    out(f"store: {total} days x ~{size.rows} rows, labels delay {LABEL_DELAY} days ({workdir})")
    verdict = healthy_nights(base, size)
    result = BenchResult(verdict, [])
    out(f"\nhealthy: {len(verdict)} days, {len(result.false_alarm_days)} above ok  ({time.perf_counter() - t0:.0f}s)")
    for d in result.false_alarm_days:
        out(f"  {d}  " + " | ".join(verdict[d]))

    onset = START + dt.timedelta(days=size.healthy)
    out(f"\nincidents from {onset} (nights counted from the onset: 0 = the morning after it started)")
    out(f"  {'incident':22s} {'caught':6s} {'named':5s} {'first':>5s} {'named':>5s}  alerts")
    for k, inc in enumerate(incidents):
        o = play_incident(base, inc, onset, size, workdir, seed * 7919 + k)
        result.outcomes.append(o)
        shown = ", ".join(o.tags[:6]) + (f" (+{len(o.tags) - 6})" if len(o.tags) > 6 else "")
        out(
            f"  {inc.name:22s} {'yes' if o.caught_night is not None else 'NO':6s} {'yes' if o.named_night is not None else 'NO':5s} "
            f"{'-' if o.caught_night is None else o.caught_night:>5} {'-' if o.named_night is None else o.named_night:>5}  "
            f"{shown or '(none)'}" + (f"  ERRORS: {'; '.join(o.errors)}" if o.errors else "")
        )
    out(f"\n({time.perf_counter() - t0:.0f}s)")
    out(f"incidents={len(result.outcomes)} caught={len(result.caught)} healthy_days={len(verdict)} "
        f"false_alarm_days={len(result.false_alarm_days)}")
    return result


if __name__ == "__main__":
    sys.exit(main())
