"""Command line: `python -m monitor run|backfill|demo`.

Exit codes: 0 the run completed (whatever it found); 2 it could not run (bad
config, unreadable storage, bad arguments), with one line saying why; 1 an
unexpected error (the line says to pass --debug for the traceback); for
backfill, 1 when some days failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from monitor.errors import MonitorError
from monitor.redact import redact
from monitor.run.context import Clients, RunOptions

if TYPE_CHECKING:
    from monitor.config import MonitorConfig

__all__ = ["main"]

DEMO_CONFIG = Path(__file__).resolve().parent / "demo" / "car_loan.yaml"  # shipped inside the package


def _date(s: str) -> dt.date:
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-25") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m monitor", description="Nightly drift-and-performance monitor.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="monitor one date")
    r.add_argument("config")
    r.add_argument("--date", type=_date, required=True, help="the monitored day, YYYY-MM-DD")
    r.add_argument("--no-email", action="store_true", help="write the outputs but send no email")
    r.add_argument("--resend", action="store_true", help="send the email even if it was already sent for this date")
    r.add_argument("--no-reevaluate", action="store_true", help="do not recompute the day whose labels just became final")
    r.add_argument("--as-of", type=_date, default=None, help=argparse.SUPPRESS)

    b = sub.add_parser("backfill", help="monitor every day of a range, one run per day")
    b.add_argument("config")
    b.add_argument("--from", dest="start", type=_date, required=True)
    b.add_argument("--to", dest="end", type=_date, required=True)
    b.add_argument("--no-email", action="store_true")
    b.add_argument("--resend", action="store_true")
    b.add_argument("--as-of", type=_date, default=None, help=argparse.SUPPRESS)

    d = sub.add_parser("demo", help="generate demo data in a local store and run the monitor on it")
    d.add_argument("--workdir", default="demo", help="where the demo store goes (default ./demo)")
    d.add_argument("--days", type=int, default=14, help="how many of the last days to monitor (default 14)")
    d.add_argument("--end", type=_date, default=None, help="the last production day (default yesterday)")
    return p


def _progress(i: int, n: int, label: str) -> None:
    width = 24
    done = int(width * i / n) if n else width
    bar = f"[{'#' * done}{'.' * (width - done)}] {i}/{n} {label}"
    if not sys.stderr.isatty():  # logs and CI: one line per step, no carriage returns
        sys.stderr.write(bar + "\n")
        return
    sys.stderr.write(f"\r{bar:<70s}")
    sys.stderr.flush()
    if i == n:
        sys.stderr.write("\n")


def backfill(cfg: MonitorConfig, start: dt.date, end: dt.date, options: RunOptions, clients: Clients, out=sys.stdout) -> int:
    from monitor.run.phases import run

    if end < start:
        raise MonitorError(f"--from {start} is after --to {end}; give the earlier date first")
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    rows = []
    t0 = time.perf_counter()
    for i, day in enumerate(days):
        _progress(i, len(days), f"{cfg.name} {day}")
        try:
            res = run(cfg, day, options, clients)
            rows.append((day.isoformat(), res.status, str(len(res.alerts)), "sent" if res.email.get("sent") else "-", f"{res.seconds:.1f}s", res.output_uri))
        except MonitorError as exc:
            rows.append((day.isoformat(), "FAILED", "-", "-", "-", redact(str(exc))))
        except Exception as exc:  # noqa: BLE001 - one bad day does not stop the others
            rows.append((day.isoformat(), "FAILED", "-", "-", "-", redact(f"unexpected {type(exc).__name__}: {exc}")))
    _progress(len(days), len(days), "done")
    header = ("date", "status", "alerts", "email", "time", "output / error")
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(5)]
    for r in [header, *rows]:
        out.write("  ".join(str(v).ljust(w) for v, w in zip(r[:5], widths)) + "  " + r[5] + "\n")
    failed = sum(1 for r in rows if r[1] == "FAILED")
    out.write(f"{len(days)} day(s) in {time.perf_counter() - t0:.1f}s, {failed} failed\n")
    return 1 if failed else 0


def _demo(args) -> int:
    from monitor.config import load_config
    from monitor.demo.generator import generate

    workdir = Path(args.workdir).resolve()
    end = args.end or (dt.date.today() - dt.timedelta(days=1))
    print(f"generating demo data in {workdir} (30 days ending {end}) ...")
    data = generate(workdir, end)
    os.environ["DEMO_DIR"] = str(workdir)
    cfg = load_config(DEMO_CONFIG)
    start = end - dt.timedelta(days=args.days - 1)
    print(f"monitoring {cfg.name} from {start} to {end} (drift and a cohort failure start {data.day(20)}; "
          f"a data-quality incident on {data.day(27)}) ...")
    code = backfill(cfg, start, end, RunOptions(resend=True, as_of=end + dt.timedelta(days=1)), Clients(smtp=None))
    out = Path(cfg.output.uri) / cfg.name
    print(f"\nreports:  {out}/date=YYYY-MM-DD/report.html   e.g. {out}/date={data.day(27)}/report.html")
    print(f"emails:   {cfg.email.outbox}/*.eml")
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "demo":
            return _demo(args)
        from monitor.config import load_config

        cfg = load_config(args.config)
        options = RunOptions(send_email=not args.no_email, resend=args.resend, as_of=args.as_of)
        clients = Clients.from_env()
        if args.cmd == "run":
            from monitor.run.phases import reevaluate_final, run

            res = run(cfg, args.date, options, clients)
            print(res.summary())
            for a in [a for a in res.alerts if a.get("severity") == "critical"][:5]:
                print(f"  {a['kind']}: {a['message']}")
            print(f"email: {_email_line(res.email)}")
            if not args.no_reevaluate:
                try:
                    again = reevaluate_final(cfg, args.date, options, clients)
                except MonitorError as exc:
                    print(f"warning: could not re-evaluate the day whose labels became final: {redact(exc)}", file=sys.stderr)
                else:
                    if again is not None:
                        print(f"re-evaluated (labels now final): {again.summary()}")
            return 0
        return backfill(cfg, args.start, args.end, options, clients)
    except MonitorError as exc:
        if args.debug:
            raise
        print(f"error: {redact(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001
        if args.debug:
            raise
        print(f"error: unexpected {type(exc).__name__}: {redact(exc)} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def _email_line(email: dict) -> str:
    if email.get("sent") and email.get("partial"):
        refused = "; ".join(f"{a} ({why})" for a, why in (email.get("refused") or {}).items())
        return f"PARTIAL: sent via {email.get('method')} to {', '.join(email.get('to') or [])}; refused: {refused}"
    if email.get("sent"):
        where = email.get("path") or email.get("host") or ""
        return f"sent via {email.get('method')} to {', '.join(email.get('to') or [])} {where}".strip()
    return email.get("reason") or email.get("error") or "not sent"
