"""Realistic synthetic data for a car-loan repayment classifier, written to a local store.

    <workdir>/data/car_loan/train.parquet          training snapshot (features, target, score, prediction)
    <workdir>/data/car_loan/validation.parquet     held-out validation set with the model's scores
    <workdir>/data/car_loan/predictions/dt=YYYY-MM-DD/part-0.parquet   30 daily production partitions
    <workdir>/labels/car_loan/dt=YYYY-MM-DD/labels.csv                ground truth, another system, days late

Incidents, counted from the first production day (day 1):
- day 20 on: `income` shifts up 30% and `region` tilts west (feature drift), and the
  model stops working for the `salary_range=low` cohort (labels no longer follow the score);
- day 27: an upstream join nulls 40% of `debt_to_income_ratio` (a data-quality incident).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DemoData", "generate", "DRIFT_DAY", "QUALITY_DAY", "DAYS"]

DAYS = 30
DRIFT_DAY = 20
QUALITY_DAY = 27
LABEL_DELAY = 3
ROWS_PER_DAY = 2000
REGIONS = ["north", "south", "east", "west"]
EMPLOYMENT = ["employed", "self_employed", "unemployed"]


@dataclass(frozen=True)
class DemoData:
    workdir: Path
    start: dt.date
    end: dt.date

    def day(self, n: int) -> dt.date:
        """The date of production day n (1-based)."""
        return self.start + dt.timedelta(days=n - 1)


def _frame(rng, n: int, *, drifted: bool = False, broken_cohort: bool = False, id_start: int = 0, day: dt.date | None = None):
    import numpy as np
    import pandas as pd

    age = np.clip(rng.normal(41, 12, n), 18, 80).round().astype("int64")
    income = rng.lognormal(np.log(52000), 0.45, n)
    salary_range = np.where(income < 38000, "low", np.where(income < 75000, "medium", "high"))
    dti = rng.beta(2.2, 6, n)
    car_value = rng.gamma(4, 6500, n)
    loan_amount = car_value * rng.uniform(0.5, 1.0, n)
    tenure = rng.exponential(7, n)
    region_p = [0.1, 0.15, 0.15, 0.6] if drifted else [0.3, 0.25, 0.25, 0.2]
    region = rng.choice(REGIONS, n, p=region_p)
    employment = rng.choice(EMPLOYMENT, n, p=[0.75, 0.18, 0.07])
    if drifted:
        income = income * 1.3  # an upstream unit/market change: salary_range was set before it
    logit = (
        1.1
        + 0.9 * (np.log(income) - np.log(52000))
        - 5.0 * (dti - 0.27)
        - 1.1 * (loan_amount / 25000 - 0.8)
        + 0.06 * np.minimum(tenure, 15)
        - 1.2 * (employment == "unemployed")
        + 0.012 * (age - 41)
    )
    score = 1 / (1 + np.exp(-logit))
    true_p = score.copy()
    if broken_cohort:
        low = salary_range == "low"
        true_p[low] = 0.85 - 0.6 * score[low]  # the world changed for this cohort: the score misleads
    repaid = (rng.uniform(size=n) < true_p).astype("int64")
    latency = rng.gamma(3, 22, n)
    df = pd.DataFrame(
        {
            "id": np.arange(id_start, id_start + n, dtype="int64"),
            "age": age,
            "income": income.round(2),
            "debt_to_income_ratio": dti.round(4),
            "car_value": car_value.round(2),
            "loan_amount": loan_amount.round(2),
            "driver_tenure": tenure.round(2),
            "salary_range": salary_range,
            "region": region,
            "employment": employment,
            "latency_ms": latency.round(1),
            "y_pred_proba": score.round(6),
            "y_pred": (score >= 0.5).astype("int64"),
            "repaid": repaid,
        }
    )
    if day is not None:
        secs = np.sort(rng.integers(0, 86400, n))
        df.insert(1, "timestamp", pd.Timestamp(day, tz="UTC") + pd.to_timedelta(secs, unit="s"))
    return df


def generate(workdir: str | Path, end: dt.date, *, seed: int = 7, rows_per_day: int = ROWS_PER_DAY) -> DemoData:
    """Write the demo store under `workdir`; `end` is the last production day (day 30)."""
    import numpy as np
    import pandas as pd

    root = Path(workdir)
    rng = np.random.default_rng(seed)
    start = end - dt.timedelta(days=DAYS - 1)
    data = root / "data" / "car_loan"
    labels_root = root / "labels" / "car_loan"
    data.mkdir(parents=True, exist_ok=True)

    # Ten days of traffic at the production rate, sampled two months before go-live.
    train_day = start - dt.timedelta(days=60)
    train = _frame(rng, 10 * rows_per_day, id_start=1, day=None)
    span = 10 * 86400
    train.insert(1, "timestamp", pd.Timestamp(train_day, tz="UTC") + pd.to_timedelta(rng.integers(0, span, len(train)), unit="s"))
    train.to_parquet(data / "train.parquet", index=False)
    valid = _frame(rng, 5000, id_start=100_000)
    valid.to_parquet(data / "validation.parquet", index=False)

    for n in range(1, DAYS + 1):
        day = start + dt.timedelta(days=n - 1)
        df = _frame(
            rng, rows_per_day, drifted=n >= DRIFT_DAY, broken_cohort=n >= DRIFT_DAY,
            id_start=1_000_000 * n, day=day,
        )
        if n == QUALITY_DAY:
            hit = rng.uniform(size=len(df)) < 0.4
            df.loc[hit, "debt_to_income_ratio"] = np.nan
        labels = df[["id", "repaid"]]
        part = data / "predictions" / f"dt={day.isoformat()}"
        part.mkdir(parents=True, exist_ok=True)
        df.drop(columns=["repaid"]).to_parquet(part / "part-0.parquet", index=False)
        # Labels arrive late: complete after LABEL_DELAY days, partial before, none on the last day.
        age_days = (end - day).days
        coverage = 1.0 if age_days >= LABEL_DELAY else age_days / (LABEL_DELAY + 1)
        if coverage > 0:
            arrived = labels.sample(frac=coverage, random_state=int(rng.integers(1 << 30))).sort_values("id")
            out = labels_root / f"dt={day.isoformat()}"
            out.mkdir(parents=True, exist_ok=True)
            arrived.to_csv(out / "labels.csv", index=False)
    return DemoData(workdir=root, start=start, end=end)
