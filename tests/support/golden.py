"""Golden metrics.json: the results of the demo and of a seeded day, committed, so a speed change shows it changed nothing.

    python -m tests.support.golden            # compare the current code with the committed files
    python -m tests.support.golden --update   # rewrite them (only with a change that alters statistics on purpose)

The demo (four days that hold every kind of alert) and a seeded day (SEEDED_ROWS reference
rows, two files per day, NaNs, text categories with nulls, partial labels) are generated
from fixed seeds into a temp dir and run with `compute`; each metrics.json is stored with
the temp dir's path replaced by `<store>`. `tests/integration/test_golden.py` requires
every number equal to 1e-12 (relative) and everything else (alerts, verdicts, counts)
exactly. Whoever changes a statistic on purpose regenerates the files with `--update` in
the same commit and says so in the message.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.paths import FIXTURES, ROOT

GOLDEN = FIXTURES / "golden"
DEMO_END = dt.date(2026, 11, 25)
DEMO_CONFIG = ROOT / "monitor" / "demo" / "car_loan.yaml"
SEEDED_ROWS = 200_000
SEEDED_DAY = dt.date(2026, 3, 10)


def differences(a: Any, b: Any, path: str = "", tol: float = 1e-12) -> list[str]:
    """Where two JSON documents differ: numbers beyond `tol` (relative to max(1, |x|)), anything else at all."""
    out: list[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in the {'first' if k in a else 'second'}")
            else:
                out += differences(a[k], b[k], f"{path}/{k}", tol)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            out += differences(x, y, f"{path}[{i}]", tol)
    elif isinstance(a, float) or isinstance(b, float):
        numbers = isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool)
        if not numbers or abs(a - b) > tol * max(1.0, abs(a), abs(b)):
            out.append(f"{path}: {a!r} vs {b!r}")
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: {a!r} vs {b!r}")
    return out


def _metrics(output_uri: str, root: Path) -> dict:
    text = Path(output_uri, "metrics.json").read_text()
    return json.loads(text.replace(json.dumps(str(root))[1:-1], "<store>"))


def demo_days() -> list[dt.date]:
    from monitor.demo.generator import DRIFT_DAY, QUALITY_DAY

    return [DEMO_END - dt.timedelta(days=30 - n) for n in (DRIFT_DAY, DRIFT_DAY + 1, QUALITY_DAY, 30)]


def run_demo(work: Path) -> dict[str, dict]:
    """metrics.json of four demo days (run in date order: trends and new alerts read the days before)."""
    import os

    from monitor.config import load_config
    from monitor.demo.generator import generate
    from monitor.run import RunOptions, compute

    generate(work, DEMO_END)
    old = os.environ.get("DEMO_DIR")
    os.environ["DEMO_DIR"] = str(work)
    try:
        cfg = load_config(DEMO_CONFIG)
        options = RunOptions(as_of=DEMO_END + dt.timedelta(days=1), failure_notice=False)
        return {str(d): _metrics(compute(cfg, d, options)["output_uri"], work) for d in demo_days()}
    finally:
        if old is None:
            os.environ.pop("DEMO_DIR", None)
        else:
            os.environ["DEMO_DIR"] = old


def run_seeded(work: Path, rows: int = SEEDED_ROWS) -> dict[str, dict]:
    from monitor.config import load_config
    from monitor.run import RunOptions, compute
    from tests.support.seeded import seeded_store

    cfg = load_config(seeded_store(work, rows))
    out = compute(cfg, SEEDED_DAY, RunOptions(as_of=SEEDED_DAY, failure_notice=False))["output_uri"]
    return {str(SEEDED_DAY): _metrics(out, work)}


CASES: dict[str, Callable[[Path], dict[str, dict]]] = {"demo": run_demo, "seeded": run_seeded}


def path(case: str) -> Path:
    return GOLDEN / f"{case}.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="compare (or --update) the golden metrics.json files")
    ap.add_argument("--update", action="store_true", help="rewrite tests/fixtures/golden/*.json from the current code")
    ap.add_argument("cases", nargs="*", metavar="CASE", help=f"some of {', '.join(CASES)} (default: all)")
    args = ap.parse_args(argv)
    unknown = set(args.cases) - set(CASES)
    if unknown:
        ap.error(f"unknown case {', '.join(sorted(unknown))}: choose from {', '.join(CASES)}")
    failed = 0
    for case in args.cases or list(CASES):
        with tempfile.TemporaryDirectory(prefix=f"golden_{case}_") as tmp:
            got = CASES[case](Path(tmp))
        if args.update:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            path(case).write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
            print(f"{case}: wrote {path(case).relative_to(ROOT)}")
            continue
        diff = differences(json.loads(path(case).read_text()), got)
        failed += bool(diff)
        print(f"{case}: " + ("unchanged" if not diff else f"{len(diff)} differences:\n  " + "\n  ".join(diff[:40])))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
