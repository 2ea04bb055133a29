"""Hostile values through the whole run (issue 13, findings 4, 6, 15 and "Done when").

Values built from `$5_$10`, `{{ 7*7 }}`, `<script>`, `=HYPERLINK(...)`, `@SUM(1)`, CR/LF, NUL and
megabyte strings go into category values, column names and cohort values of a small dataset; the
whole `run` (local storage, a real aiosmtpd server) must end with report.html and an email, nothing
executed or unescaped, no live formula in to_annotate.csv, no line break in a header, metrics.json
and the email each under 1 MB; or with a one-line refusal. Bounded: a dozen examples of a few MB.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from email import message_from_bytes, policy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.config import parse_config
from monitor.errors import MonitorError
from monitor.io.safecsv import FORMULA_START
from monitor.notify.smtp import SmtpSettings
from monitor.run import RunOptions, run
from monitor.run.context import Clients
from tests.support.servers import smtp_sink

DAY = dt.date(2026, 11, 25)
MB = 1_000_000  # metrics.json and the email each stay under this
ATOMS = ["$5_$10", "plan_$9_$19", "{{ 7*7 }}", "{% for x in y %}", "<script>alert(1)</script>", '=HYPERLINK("x")',
         "@SUM(1)", "+1+1", "-2+3", "\r\n", "\n", "Bcc: evil@example.com", "\x00", "\t", "'", '"', "&", "\u2028", "é"]
HEADERS = {"subject", "from", "to", "date", "message-id", "x-monitor", "x-monitor-date", "x-monitor-status",
           "mime-version", "content-type", "content-transfer-encoding"}


@pytest.fixture(scope="module")
def smtp():
    with smtp_sink() as (sink, port):
        yield sink, port


def _frames(n_ref: int, n_cur: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(n: int, start: int) -> pd.DataFrame:
        score = rng.uniform(size=n)
        return pd.DataFrame({
            "id": np.arange(start, start + n), "x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n),
            "s": score, "p": (score > 0.5).astype(int), "y": (rng.uniform(size=n) < score).astype(float),
        })

    cur = frame(n_cur, 10**6)
    cur.loc[cur.index % 3 == 0, "y"] = np.nan  # a third unlabelled: rows to annotate
    return frame(n_ref, 0), cur


def _run(root: Path, ref: pd.DataFrame, cur: pd.DataFrame, port: int, cohort: str = "c", **over) -> tuple:
    root.mkdir(parents=True, exist_ok=True)
    ref.to_parquet(root / "ref.parquet")
    (root / "prod" / f"dt={DAY}").mkdir(parents=True)
    cur.to_parquet(root / "prod" / f"dt={DAY}" / "part-0.parquet")
    cfg = parse_config({
        "name": "m", "reference": {"uri": str(root / "ref.parquet")},
        "production": {"uri": str(root / "prod" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "cohorts": [{"column": cohort}],
        "performance": {"bootstrap": 20, "min_labelled": 30, "min_cohort_labelled": 10, "annotate_rows": 50},
        "output": {"uri": str(root / "out")}, "email": {"to": ["ml@example.com"], "subject_prefix": "[mon]"}, **over,
    }, str(root / "m.yaml"))
    smtp = SmtpSettings(host="127.0.0.1", port=port, use_ssl=False, starttls=False, timeout=20, retries=0)
    return cfg, run(cfg, DAY, RunOptions(), Clients(smtp=smtp))


def _check_outputs(root: Path, raw_email: bytes) -> dict:
    """The assertions every hostile run must pass; returns metrics.json."""
    out = root / "out" / "m" / f"date={DAY}"
    metrics_raw = (out / "metrics.json").read_bytes()
    assert len(metrics_raw) < MB, f"metrics.json is {len(metrics_raw):,} bytes"
    assert len(raw_email) < MB, f"the email is {len(raw_email):,} bytes"
    html = (out / "report.html").read_text()
    msg = message_from_bytes(raw_email, policy=policy.default)
    html_part, text_part = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html_part is not None and text_part is not None
    body_html, body_text = html_part.get_content(), text_part.get_content()
    for medium in (html, body_html):
        assert "<script" not in medium.lower()  # the templates have none: any would be data, unescaped
    for medium in (html, body_html, body_text, str(msg["Subject"])):
        assert "{{ 7*7 }}" in medium or "7*7" not in medium  # never evaluated by a template (no 49 for it)
    # headers: one line each, only ours (a CR/LF in data would start a header of its own)
    head = raw_email.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw_email else raw_email.split(b"\n\n", 1)[0]
    for line in re.split(rb"\r?\n", head):
        if line[:1] not in (b" ", b"\t"):
            assert line.split(b":", 1)[0].decode().lower() in HEADERS, line[:80]
    for name, value in msg.items():
        assert "\r" not in str(value) and "\n" not in str(value), name
    annotate = out / "to_annotate.csv"
    if annotate.exists():
        for row in csv.reader(io.StringIO(annotate.read_text())):
            for cell in row:
                if cell and cell[0] in FORMULA_START:
                    float(cell)  # only a number may start like a formula (-0.5); anything else is escaped
    return json.loads(metrics_raw)


hostile = st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3).map("".join)


@pytest.mark.parametrize("where", ["category", "column", "cohort_column"])
@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=hostile, megabyte=st.booleans())
def test_hostile_values_through_the_whole_run(where, value, megabyte, smtp, tmp_path_factory):
    sink, port = smtp
    if megabyte:
        value = value + "M" * MB
    ref, cur = _frames(300, 300, seed=len(value))
    cohort = "c"
    if where == "column":  # a hostile name of a feature the config does not name
        ref, cur = ref.rename(columns={"x": value}), cur.rename(columns={"x": value})
    elif where == "cohort_column":  # a hostile name the config must name (the cohort column)
        ref, cur, cohort = ref.rename(columns={"c": value}), cur.rename(columns={"c": value}), value
    else:  # an unseen category (and cohort value) for a third of today's rows: findings, charts, cohorts
        cur.loc[cur.index % 3 == 1, "c"] = value
    before = len(sink.messages)
    root = tmp_path_factory.mktemp("hostile")
    try:
        _run(root, ref, cur, port, cohort=cohort)
    except MonitorError as exc:  # a refusal is fine when it is one readable line
        assert "\n" not in str(exc) and len(str(exc)) < 2500
        event(f"{where}: refused")
        return
    event(f"{where}: report and email")
    received = sink.wait_for(before + 1)
    assert len(received) == before + 1
    metrics = _check_outputs(root, sink.envelopes[-1].original_content)
    if where == "category" and not megabyte:
        assert metrics["quality"]["columns"]["c"]["unseen_examples"] == [value]  # quoted whole when short
        assert any(f["check"] == "unseen_categories" for f in metrics["quality"]["findings"])


def test_fifty_thousand_categories_and_a_megabyte_string(tmp_path, smtp_server):
    sink, port = smtp_server
    ref, cur = _frames(20_000, 50_000, seed=3)
    cur["shop"] = [f"shop_{i}" for i in range(len(cur))]  # 50k distinct values, none seen in training
    ref["shop"] = [f"old_{i}" for i in range(len(ref))]
    big = "=HYPERLINK(\"" + "A" * MB + "\")"
    cur.loc[1:5, ["c", "s", "p", "y"]] = [big, 0.9999, 1, 0.0]  # 5 rows of a megabyte value, among the worst rows
    cfg, res = _run(tmp_path, ref, cur, port, cohort="shop")
    (got,) = sink.wait_for(1)
    metrics = _check_outputs(tmp_path, sink.envelopes[0].original_content)
    cohorts = [c["cohort"] for c in metrics["cohorts"]]
    assert len(cohorts) == cfg.performance.cohort_values + 1 and "shop=(other 49,950 values)" in cohorts
    shop = metrics["drift"]["features"]["shop"]
    assert len(shop["histogram"]["categories"]) <= 20 and len(shop["note"]) < 2000
    unseen = metrics["quality"]["columns"]["c"]["unseen_examples"]
    assert unseen[0].startswith('=HYPERLINK("AAA') and len(unseen[0]) == 200 and re.search("\u2026#[0-9a-f]{6}$", unseen[0])
    assert all(len(v) <= 200 for v in unseen)
    worst = [w["features"]["c"] for w in metrics["analysis"]["worst_rows"]]
    assert worst.count(unseen[0]) == 5 and max(len(c) for c in worst) == 200  # quoted by its start
    assert res.email["sent"] and "left_out" not in res.email  # bounded values: the whole email fits
