"""The production topology without Docker, on 127.0.0.1: a CeleryExecutor backfill end to end.

    .venv/bin/python scripts/e2e_celery.py [--days 7] [--monitors 3] [--timeout 1500] [--keep]

Starts, each on a free port and in its own process group:
  PostgreSQL (Debian `postgresql`: initdb into a temp dir; run as user `postgres` when root),
  Redis (Debian `redis-server`), moto's S3 server, an aiosmtpd server writing a Maildir,
  and Airflow with the CeleryExecutor: `airflow db migrate`, api-server, scheduler,
  dag-processor and two `airflow celery worker`s (hostnames e2e-worker-1 / e2e-worker-2,
  the same `default` queue, concurrency 2).
Then it uploads the demo data to S3 (docker/seed_s3.py, the same code the compose stack's
init service runs), writes N monitor configs (docker/monitors/car_loan_s3.yaml under N
names), unpauses their DAGs, runs `airflow backfill create` over the last D days for each,
and checks: N*D dag runs succeeded, N*D metrics.json in S3, N*D emails received, and task
instances ran on both workers. It prints how long the backfills took, the last lines of
every component's log on failure, and always stops what it started and removes its temp dir.

Exit code 0 when every check passed. --summary FILE writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
CONFIG_TEMPLATE = REPO / "docker" / "monitors" / "car_loan_s3.yaml"
BUCKET = "e2e-monitoring"
DAG_PREFIX = "drift_monitor__"
WORKERS = ("e2e-worker-1", "e2e-worker-2")


class E2EError(Exception):
    """A check failed or a component did not come up."""


# --------------------------------------------------------------------------- prerequisites


def find_pg_bin() -> Optional[Path]:
    """The directory holding initdb/postgres: PATH first, else Debian's /usr/lib/postgresql/<ver>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _version_key(p.parent.parent.name))
    return versions[-1].parent if versions else None


def _version_key(name: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in name.split("."))


def missing_packages() -> list[str]:
    """The Debian packages this script needs that are not installed (empty when ready)."""
    missing = []
    if find_pg_bin() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- processes


class Stack:
    """The processes this run started: each in its own process group, logged to <tmp>/logs/<name>.log."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.logs = tmp / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[tuple[str, subprocess.Popen, int]] = []  # name, process, stop signal

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self, name: str, cmd: list[str], env: dict, *, stop_signal: int = signal.SIGTERM, cwd: Optional[Path] = None) -> subprocess.Popen:
        fh = open(self.log(name), "ab")
        try:
            p = subprocess.Popen(
                [str(c) for c in cmd], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=str(cwd or self.tmp), start_new_session=True,
            )
        finally:
            fh.close()
        self.procs.append((name, p, stop_signal))
        return p

    def run(self, name: str, cmd: list[str], env: dict, timeout: float = 600, cwd: Optional[Path] = None) -> None:
        """A one-shot command, logged like the servers; raises E2EError when it fails."""
        with open(self.log(name), "ab") as fh:
            try:
                rc = subprocess.run([str(c) for c in cmd], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=str(cwd or self.tmp), timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                raise E2EError(f"{name}: `{' '.join(map(str, cmd[:4]))} ...` did not finish in {timeout:.0f} s") from None
        if rc != 0:
            raise E2EError(f"{name}: `{' '.join(map(str, cmd[:4]))} ...` exited with {rc} (log: {self.log(name)})")

    def check_alive(self) -> None:
        for name, p, _ in self.procs:
            if p.poll() is not None:
                raise E2EError(f"{name} exited early with code {p.returncode} (log: {self.log(name)})")

    def stop(self) -> None:
        """Stop every process group, newest first: its stop signal, then SIGKILL after 20 s."""
        for _name, p, sig in reversed(self.procs):
            if p.poll() is None:
                _killpg(p.pid, sig)
        deadline = time.monotonic() + 20
        for name, p, _ in reversed(self.procs):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _killpg(p.pid, signal.SIGKILL)  # the group may outlive its leader (task processes, pool children)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print(f"[e2e] warning: {name} (pid {p.pid}) did not exit after SIGKILL", file=sys.stderr)

    def tail(self, lines: int = 40) -> str:
        out = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()
            out.append(f"----- {log.name} (last {min(lines, len(text))} of {len(text)} lines)")
            out.extend(text[-lines:])
        return "\n".join(out)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_for(what: str, check, stack: Stack, timeout: float, interval: float = 0.5):
    """Poll `check()` until it returns a truthy value; fail when a component dies or time runs out."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            value = check()
            if value:
                return value
        except E2EError:
            raise
        except Exception as exc:  # noqa: BLE001 - "not yet" is any error until the deadline
            last_exc = exc
        time.sleep(interval)
    raise E2EError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


# --------------------------------------------------------------------------- components


def start_postgres(stack: Stack, pg_bin: Path, port: int) -> str:
    """initdb + postgres in the foreground; returns the SQLAlchemy URL of database `airflow`."""
    data = stack.tmp / "pgdata"
    data.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the `postgres` user (or nobody)
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            user = pwd.getpwnam("nobody")
        os.chmod(stack.tmp, 0o755)
        os.chown(data, user.pw_uid, user.pw_gid)
        os.chown(stack.logs, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", user.pw_name, "--"]
    stack.run("postgres-initdb", prefix + [pg_bin / "initdb", "-D", data, "-U", "airflow", "--auth=trust",
                                           "-E", "UTF8", "--no-locale", "--no-sync"], os.environ.copy(), timeout=120)
    stack.start("postgres", prefix + [
        pg_bin / "postgres", "-D", data, "-p", str(port), "-c", "listen_addresses=127.0.0.1",
        "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off", "-c", "max_connections=300",
    ], os.environ.copy(), stop_signal=signal.SIGINT)  # SIGINT: postgres' "fast" shutdown

    import psycopg2

    def create_db():
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres", connect_timeout=3)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE airflow")
        conn.close()
        return True

    wait_for("PostgreSQL", create_db, stack, timeout=60)
    return f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"


def start_redis(stack: Stack, port: int) -> str:
    d = stack.tmp / "redis"
    d.mkdir()
    stack.start("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--daemonize", "no", "--dir", d], os.environ.copy())
    wait_for("Redis", lambda: port_open(port), stack, timeout=30)
    return f"redis://127.0.0.1:{port}/0"


def start_moto(stack: Stack, port: int) -> str:
    stack.start("moto-s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], _clean_env())
    wait_for("moto S3 server", lambda: port_open(port), stack, timeout=60)
    return f"http://127.0.0.1:{port}"


def start_smtp(stack: Stack, port: int) -> Path:
    maildir = stack.tmp / "maildir"
    stack.start("smtp", [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                         "-c", "aiosmtpd.handlers.Mailbox", maildir], _clean_env())
    wait_for("aiosmtpd", lambda: port_open(port), stack, timeout=30)
    return maildir


def _clean_env() -> dict:
    """The caller's environment minus anything that would point Airflow or boto3 elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "MONITOR_", "_AIRFLOW"))}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


HOSTNAME_HOOK = '''\
"""Airflow [core] hostname_callable for the e2e: two Celery workers on one machine report distinct hostnames."""
import os
import socket


def worker_hostname():
    return os.environ.get("E2E_WORKER_NAME") or socket.getfqdn()
'''


# apache-airflow-providers-celery 3.26.0 does `from celery.backends.database import retry`, which
# celery 5.7.0 removed (its DatabaseBackend now retries by itself): with the two pinned together the
# CeleryExecutor cannot even be imported. The fix is pinning celery<5.7 (5.6.3 works); until then
# the e2e puts this shim on the Airflow processes' path. It does nothing when `retry` exists.
CELERY_COMPAT = '''\
"""e2e-only: restore celery.backends.database.retry (removed in celery 5.7) for the celery provider."""
try:
    import celery.backends.database as _db
    if not hasattr(_db, "retry"):
        _db.retry = lambda fun: fun  # the 5.7 backend already retries its own DB errors
except Exception:  # noqa: BLE001 - never break interpreter start-up
    pass
'''


def celery_needs_compat() -> bool:
    """True when the installed celery lacks what the installed celery provider imports."""
    out = subprocess.run([sys.executable, "-c", "import celery.backends.database as d; print(hasattr(d, 'retry'))"],
                         capture_output=True, text=True, env=_clean_env() | {"PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    return out.stdout.strip() == "False"


def airflow_env(tmp: Path, *, sql: str, broker: str, api_port: int, s3_endpoint: str, smtp_port: int, dags: Path) -> dict:
    from cryptography.fernet import Fernet

    hooks = tmp / "pyhooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "e2e_hostname.py").write_text(HOSTNAME_HOOK)
    if celery_needs_compat():
        import celery

        print(f"[e2e] WARNING: celery {celery.__version__} has no celery.backends.database.retry, which "
              "apache-airflow-providers-celery imports (the CeleryExecutor fails to load). Applying an e2e-only "
              "shim (sitecustomize); the real fix is pinning celery==5.6.3 in constraints.txt.", flush=True)
        (hooks / "sitecustomize.py").write_text(CELERY_COMPAT)
    env = _clean_env()
    env.update({
        "AIRFLOW_HOME": str(tmp / "airflow_home"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql,
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sql.replace("+psycopg2", ""),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "e2e_hostname.worker_hostname",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # local throwaway API: no login
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        }),
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port,
            "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 30, "retry_limit": 3},
        }),
        "MONITOR_CONFIG_DIR": str(tmp / "monitors"),
        "MONITOR_BUCKET": BUCKET,
        "MONITOR_OUTBOX": str(tmp / "outbox"),
        "PYTHONPATH": os.pathsep.join([str(hooks), str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
    })
    return env


def write_configs(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    template = CONFIG_TEMPLATE.read_text()
    if "\nname: car_loan_s3\n" not in template:
        raise E2EError(f"{CONFIG_TEMPLATE}: expected a `name: car_loan_s3` line to rename")
    for n in names:
        (folder / f"{n}.yaml").write_text(template.replace("\nname: car_loan_s3\n", f"\nname: {n}\n"))


# --------------------------------------------------------------------------- checks


class MetaDB:
    """Read-only queries on the Airflow metadata DB (the same facts the UI shows)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow", dbname="airflow", connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()


def dated_outputs(endpoint: str, names: list[str]) -> dict[str, set[str]]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    out: dict[str, set[str]] = {n: set() for n in names}
    for n in names:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"results/{n}/"):
            for o in page.get("Contents", []) or []:
                key = o["Key"]
                if key.endswith("/metrics.json") and "/date=" in key:
                    date = key.rsplit("/date=", 1)[1].split("/", 1)[0]
                    body = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
                    if body.get("date") != date or body.get("monitor") != n:
                        raise E2EError(f"s3://{BUCKET}/{key}: holds monitor={body.get('monitor')} date={body.get('date')}")
                    out[n].add(date)
    return out


def received_emails(maildir: Path) -> list[tuple[str, str, str]]:
    """(X-Monitor, X-Monitor-Date, Subject) of every message the SMTP server received."""
    import mailbox

    if not maildir.exists():
        return []
    box = mailbox.Maildir(str(maildir), create=False)
    return [(str(m.get("X-Monitor", "")), str(m.get("X-Monitor-Date", "")), str(m.get("Subject", ""))) for m in box]


def task_logs_of_failures(db: MetaDB, logs_root: Path, dag_ids: list[str], lines: int = 40) -> str:
    rows = db.query(
        "SELECT dag_id, run_id, task_id, state FROM task_instance WHERE dag_id = ANY(%s) "
        "AND state IN ('failed', 'up_for_retry', 'upstream_failed') ORDER BY dag_id, run_id, task_id LIMIT 4", (dag_ids,))
    out = []
    for dag_id, run_id, task_id, state in rows:
        out.append(f"----- task {dag_id} {run_id} {task_id}: {state}")
        for f in sorted(logs_root.glob(f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/*.log"))[-1:]:
            text = f.read_text(errors="replace").splitlines()
            errors = [ln for ln in text if '"level":"error"' in ln or "Traceback" in ln]
            out.extend(ln[:2000] for ln in (errors or text)[-lines:])
    return "\n".join(out)


# --------------------------------------------------------------------------- the run


def run_e2e(args: argparse.Namespace) -> dict:
    missing = missing_packages()
    if missing:
        raise E2EError(f"missing Debian package(s): {', '.join(missing)} (apt-get install -y {' '.join(missing)})")
    dags = Path(args.dags_folder).resolve()
    if not any(dags.glob("*.py")):
        raise E2EError(f"{dags}: no DAG files; the e2e needs dags/drift_monitor.py")
    names = [f"e2e_{chr(ord('a') + i)}" for i in range(args.monitors)]
    dag_ids = [DAG_PREFIX + n for n in names]
    end = args.end or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    start = end - dt.timedelta(days=args.days - 1)
    expected_dates = {(start + dt.timedelta(days=i)).isoformat() for i in range(args.days)}
    expected = len(names) * args.days
    summary: dict = {"monitors": names, "from": start.isoformat(), "to": end.isoformat(), "expected": expected}

    tmp = Path(tempfile.mkdtemp(prefix="e2e_celery_"))
    stack = Stack(tmp)
    ok = False
    t_all = time.monotonic()
    try:
        pg_port, redis_port, s3_port, smtp_port, api_port = (free_port() for _ in range(5))
        sql = start_postgres(stack, find_pg_bin(), pg_port)
        broker = start_redis(stack, redis_port)
        s3_endpoint = start_moto(stack, s3_port)
        maildir = start_smtp(stack, smtp_port)
        env = airflow_env(tmp, sql=sql, broker=broker, api_port=api_port, s3_endpoint=s3_endpoint, smtp_port=smtp_port, dags=dags)
        print(f"[e2e] servers up in {time.monotonic() - t_all:.1f} s: postgres :{pg_port}, redis :{redis_port}, "
              f"moto S3 :{s3_port}, smtp :{smtp_port}; tmp {tmp}", flush=True)

        t = time.monotonic()
        stack.run("seed-s3", [sys.executable, REPO / "docker" / "seed_s3.py", "--bucket", BUCKET, "--end", end.isoformat()], env, timeout=300)
        write_configs(Path(env["MONITOR_CONFIG_DIR"]), names)
        print(f"[e2e] seeded s3://{BUCKET}/ with demo data ending {end} in {time.monotonic() - t:.1f} s", flush=True)

        airflow = VENV_BIN / "airflow"
        t = time.monotonic()
        stack.run("airflow-db-migrate", [airflow, "db", "migrate"], env, timeout=900)
        print(f"[e2e] airflow db migrate: {time.monotonic() - t:.1f} s", flush=True)

        stack.start("api-server", [airflow, "api-server", "-H", "127.0.0.1", "-p", str(api_port), "-w", "1"], env)
        stack.start("scheduler", [airflow, "scheduler"], env)
        stack.start("dag-processor", [airflow, "dag-processor"], env)
        for w in WORKERS:
            stack.start(w, [airflow, "celery", "worker", "--celery-hostname", f"{w}@%h", "--queues", "default",
                            "--concurrency", "2", "--skip-serve-logs"], {**env, "E2E_WORKER_NAME": w})

        db = MetaDB(pg_port)
        t = time.monotonic()
        wait_for(f"the api-server on :{api_port}", lambda: _http_ok(f"http://127.0.0.1:{api_port}/api/v2/version"), stack, timeout=300, interval=2)
        wait_for(f"DAGs {dag_ids} to be parsed", lambda: len(db.query(
            "SELECT dag_id FROM dag WHERE dag_id = ANY(%s) AND NOT is_stale", (dag_ids,))) == len(dag_ids), stack, timeout=300, interval=2)
        wait_for("both Celery workers to be ready", lambda: all(
            " ready." in stack.log(w).read_text(errors="replace") for w in WORKERS), stack, timeout=300, interval=2)
        print(f"[e2e] airflow up (api-server, scheduler, dag-processor, {len(WORKERS)} workers) in {time.monotonic() - t:.1f} s", flush=True)

        stack.run("airflow-cli", [airflow, "dags", "unpause", "--treat-dag-id-as-regex", "-y", f"^{DAG_PREFIX}e2e_"], env, timeout=300)
        t_backfill = time.monotonic()
        for d in dag_ids:
            # --max-active-runs 1: a backfill ignores the DAG's max_active_runs (its own default is 10),
            # and each day's trends and "new vs ongoing" alerts read the days before it.
            stack.run("airflow-cli", [airflow, "backfill", "create", "--dag-id", d, "--max-active-runs", "1",
                                      "--from-date", start.isoformat(), "--to-date", end.isoformat()], env, timeout=300)
        print(f"[e2e] backfills created for {len(dag_ids)} DAGs x {args.days} days, {start} .. {end}", flush=True)

        def runs() -> list[tuple]:
            return db.query(
                "SELECT dag_id, logical_date, state FROM dag_run WHERE dag_id = ANY(%s) "
                "AND logical_date >= %s AND logical_date < %s",
                (dag_ids, dt.datetime.combine(start, dt.time(), dt.UTC),
                 dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)))

        last_print = [time.monotonic()]

        def all_done() -> bool:
            # In this closed setup a retry means a bug, not a flaky network: stop at the first one
            # (the DAG's retry_delay would otherwise hide it for minutes).
            bad = db.query("SELECT dag_id, run_id, task_id, state FROM task_instance WHERE dag_id = ANY(%s) "
                           "AND state IN ('failed', 'up_for_retry', 'upstream_failed') LIMIT 5", (dag_ids,))
            if bad:
                raise E2EError(f"tasks failed: {bad}\n" + task_logs_of_failures(db, Path(env["AIRFLOW_HOME"]) / "logs", dag_ids))
            rows = runs()
            done = [r for r in rows if r[2] in ("success", "failed")]
            if time.monotonic() - last_print[0] > 30:
                last_print[0] = time.monotonic()
                print(f"[e2e]   {len(done)}/{expected} runs finished after {time.monotonic() - t_backfill:.0f} s", flush=True)
            return len(rows) == expected and len(done) == expected

        wait_for(f"{expected} backfill runs to finish", all_done, stack, timeout=args.timeout, interval=3)
        backfill_s = time.monotonic() - t_backfill
        summary["backfill_seconds"] = round(backfill_s, 1)
        print(f"[e2e] backfills: {expected} runs ({len(dag_ids)} monitors x {args.days} days) finished in {backfill_s:.1f} s "
              f"({backfill_s / expected:.1f} s per run, 2 workers x concurrency 2)", flush=True)

        # ---- checks
        states = runs()
        failed = [(d, str(ld.date()), s) for d, ld, s in states if s != "success"]
        summary["runs"] = {"total": len(states), "success": len(states) - len(failed)}
        if failed:
            raise E2EError(f"{len(failed)} dag runs did not succeed: {failed[:6]}\n"
                           + task_logs_of_failures(db, Path(env["AIRFLOW_HOME"]) / "logs", dag_ids))

        outputs = dated_outputs(s3_endpoint, names)
        n_out = sum(len(v & expected_dates) for v in outputs.values())
        summary["outputs"] = n_out
        if n_out != expected:
            raise E2EError(f"expected {expected} dated metrics.json in s3://{BUCKET}/results/, found {n_out}: "
                           + json.dumps({k: sorted(v) for k, v in outputs.items()}))

        mails = wait_for(f"{expected} emails", lambda: (lambda m: m if len(m) >= expected else None)(received_emails(maildir)),
                         stack, timeout=30)
        pairs = {(m, d) for m, d, _ in mails}
        want = {(n, d) for n in names for d in expected_dates}
        summary["emails"] = len(mails)
        if len(mails) != expected or pairs != want:
            raise E2EError(f"expected {expected} emails, one per monitor and date; got {len(mails)}: "
                           f"missing {sorted(want - pairs)[:6]}, unexpected {sorted(pairs - want)[:6]}")

        hosts = dict(db.query("SELECT hostname, count(*) FROM task_instance WHERE dag_id = ANY(%s) GROUP BY hostname", (dag_ids,)))
        summary["tasks_by_worker"] = hosts
        if not all(hosts.get(w) for w in WORKERS):
            raise E2EError(f"tasks did not run on both workers: {hosts}")
        print(f"[e2e] OK: {n_out} dated outputs in S3, {len(mails)} emails, task instances per worker {hosts}", flush=True)
        ok = True
        return summary
    except BaseException:
        print("[e2e] FAILED; last lines of each component's log:", file=sys.stderr, flush=True)
        try:
            print(stack.tail(args.tail), file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001
            print(f"(could not read the logs: {exc})", file=sys.stderr)
        raise
    finally:
        stack.stop()
        summary["total_seconds"] = round(time.monotonic() - t_all, 1)
        if args.keep:
            print(f"[e2e] kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"[e2e] {'passed' if ok else 'failed'} in {summary['total_seconds']} s; everything started was stopped", flush=True)


def _http_ok(url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - 127.0.0.1 only
        return r.status == 200


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7, help="backfill length per monitor (default 7)")
    ap.add_argument("--monitors", type=int, default=3, help="how many monitor configs (default 3)")
    ap.add_argument("--end", type=dt.date.fromisoformat, default=None, help="last backfilled day (default: yesterday, UTC)")
    ap.add_argument("--timeout", type=float, default=1500, help="seconds to wait for the backfills (default 1500)")
    ap.add_argument("--dags-folder", default=str(REPO / "dags"))
    ap.add_argument("--summary", help="write the figures as JSON to this file")
    ap.add_argument("--tail", type=int, default=40, help="log lines per component printed on failure")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data) for inspection")
    args = ap.parse_args(argv)

    # pytest's timeout or a CI cancel sends SIGTERM: turn it into an exception so cleanup runs
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt("SIGTERM")))
    try:
        summary = run_e2e(args)
    except E2EError as exc:
        print(f"[e2e] error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[e2e] interrupted", file=sys.stderr)
        return 130
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
