"""docker-compose.yml validates and every service has what it needs (no Docker engine required).

The file is resolved by `docker-compose config` (Debian's docker-compose package) when it is
installed: anchors merged, ${VAR:-default} filled, schema checked. Without it, by
yaml.safe_load plus the same interpolation, and the structural checks below run either way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.paths import ROOT as REPO

COMPOSE = REPO / "docker-compose.yml"

AIRFLOW_SERVICES = {
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
    "airflow-worker", "airflow-triggerer", "airflow-init",
}
EXPECTED = AIRFLOW_SERVICES | {"postgres", "redis", "minio", "minio-init", "mailpit"}
# The only credentials the file may carry: well-known local-development defaults, which its
# header documents as such (and which the environment / an .env file overrides).
LOCAL_DEV_DEFAULTS = {"", "airflow", "minioadmin", "local-dev-jwt-secret-change-me"}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|ACCESS_KEY", re.I)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def _interpolate(node):
    """Compose's ${VAR:-default} with an empty environment ($$ stays a literal $)."""
    if isinstance(node, dict):
        return {k: _interpolate(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v) for v in node]
    if isinstance(node, str):
        return _VAR.sub(lambda m: m.group(2) or "", node.replace("$$", "\0")).replace("\0", "$")
    return node


def _clean_env() -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


@pytest.fixture(scope="module")
def compose() -> dict:
    binary = shutil.which("docker-compose")
    if binary:
        out = subprocess.run([binary, "-f", str(COMPOSE), "config"], cwd=REPO, env=_clean_env(),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"docker-compose config rejected docker-compose.yml:\n{out.stderr}"
        data = yaml.safe_load(out.stdout)
    else:  # structural check only; CI installs docker-compose (.ci/run) and takes the branch above
        data = _interpolate(yaml.safe_load(COMPOSE.read_text()))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def _env(svc: dict) -> dict:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _deps(svc: dict) -> list[str]:
    deps = svc.get("depends_on") or []
    return list(deps) if isinstance(deps, (list, dict)) else []


def _container_ports(svc: dict) -> set[int]:
    out = set()
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.add(int(p["target"]))
        else:
            out.add(int(str(p).split(":")[-1].split("/")[0]))
    return out


def test_layout_follows_airflow_official_compose(compose):
    services = compose["services"]
    assert EXPECTED <= set(services), f"missing services: {sorted(EXPECTED - set(services))}"
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"service {name} has neither image nor build"
    assert services["airflow-worker"]["command"] in ("celery worker", ["celery", "worker"])
    assert 8080 in _container_ports(services["airflow-apiserver"])
    assert {1025, 8025} <= _container_ports(services["mailpit"])
    assert {9000, 9001} <= _container_ports(services["minio"])


def test_depends_on_targets_exist(compose):
    services = compose["services"]
    for name, svc in services.items():
        for dep in _deps(svc):
            assert dep in services, f"{name} depends on {dep!r}, which is not a service"
    # the data is seeded before the scheduler runs anything, and the DB is migrated first
    assert "minio-init" in _deps(services["airflow-scheduler"])
    assert "airflow-init" in _deps(services["airflow-worker"])
    assert "minio" in _deps(services["minio-init"])


def test_airflow_services_share_one_celery_setup(compose):
    services = compose["services"]
    envs = {n: _env(services[n]) for n in AIRFLOW_SERVICES}
    secrets = {e.get("AIRFLOW__API_AUTH__JWT_SECRET") for e in envs.values()}
    assert len(secrets) == 1 and secrets != {None} and secrets != {""}, f"JWT secrets differ or are unset: {secrets}"
    for name, env in envs.items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert api.hostname == "airflow-apiserver" and api.port == 8080 and api.path == "/execution/", name
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname in services, name
        assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname in services, name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name


def test_connections_from_env_in_json_form(compose):
    from monitor.io.storage import aws_settings_from_env
    from monitor.notify.smtp import parse_smtp_connection

    services = compose["services"]
    minio = _env(services["minio"])
    for name in AIRFLOW_SERVICES | {"minio-init"}:
        env = _env(services[name])
        aws = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
        assert aws["conn_type"] == "aws"
        assert urlsplit(aws["extra"]["endpoint_url"]).hostname == "minio"
        assert (aws["login"], aws["password"]) == (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"])
        kw = aws_settings_from_env({"AIRFLOW_CONN_AWS_DEFAULT": env["AIRFLOW_CONN_AWS_DEFAULT"]})
        assert kw["endpoint_url"] == "http://minio:9000" and kw["aws_access_key_id"] == minio["MINIO_ROOT_USER"]

        smtp = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])
        assert smtp["conn_type"] == "smtp" and smtp["host"] == "mailpit" and int(smtp["port"]) == 1025
        assert smtp["extra"]["disable_ssl"] is True and smtp["extra"]["disable_tls"] is True
        settings = parse_smtp_connection(env["AIRFLOW_CONN_SMTP_DEFAULT"])
        assert (settings.host, settings.port, settings.use_ssl, settings.starttls) == ("mailpit", 1025, False, False)


def test_no_credentials_beyond_documented_local_dev_defaults(compose):
    header = COMPOSE.read_text().split("---", 1)[0]
    assert "LOCAL-DEVELOPMENT DEFAULTS" in header, "the header must say the credentials are local-dev defaults"
    found = []
    for name, svc in compose["services"].items():
        for key, value in _env(svc).items():
            if SECRET_KEY.search(key) and "FILE" not in key:
                found.append((name, key, value))
            if value.startswith("{") and key.startswith("AIRFLOW_CONN_"):
                conn = json.loads(value)
                found.append((name, f"{key}.password", str(conn.get("password") or "")))
            for url in re.findall(r"[a-z+]+://[^\s'\"]+", value):
                parts = urlsplit(url)
                if parts.password is not None:
                    found.append((name, f"{key} (URL)", parts.password))
    assert found, "expected to see the local-dev defaults at least"
    bad = [(n, k, v) for n, k, v in found if v not in LOCAL_DEV_DEFAULTS]
    assert not bad, f"credentials that are not documented local-dev defaults: {bad}"


def test_image_extends_official_airflow_with_requirements():
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    m = re.search(r"^FROM apache/airflow:(\d+\.\d+\.\d+)-python3\.11\s*$", dockerfile, re.M)
    assert m, "docker/Dockerfile must extend apache/airflow:<version>-python3.11"
    pinned = re.search(r"^apache-airflow\[[^\]]*\]==(\S+)", (REPO / "requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == m.group(1), "the image's Airflow must be the version requirements.txt pins"
    assert re.search(r"pip install .*-r \S*requirements\.txt", dockerfile)
    data = yaml.safe_load(COMPOSE.read_text())
    build = data["services"]["airflow-init"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]).resolve() == (REPO / "docker" / "Dockerfile").resolve()
    # runtime only: the test tools are not installed into the image
    assert "requirements-dev" not in dockerfile and "[test]" not in dockerfile
    runtime = (REPO / "requirements.txt").read_text()
    for tool in ("pytest", "moto", "aiosmtpd", "hypothesis", "ruff", "mypy"):
        assert not re.search(rf"^{tool}\b", runtime, re.M), f"{tool} in requirements.txt ends up in the image"


def test_one_image_built_once_and_shared(compose):
    """One `build:` (airflow-init); every other Airflow service and minio-init runs the same image and
    starts after airflow-init, so compose v1 too builds it once instead of once per service."""
    services = compose["services"]
    built = sorted(n for n, svc in services.items() if svc.get("build"))
    assert built == ["airflow-init"], built
    image = services["airflow-init"]["image"]
    for name in (AIRFLOW_SERVICES | {"minio-init"}) - {"airflow-init"}:
        assert services[name].get("image") == image, name
        assert "airflow-init" in _deps(services[name]), f"{name} must start after airflow-init (which builds the image)"


def test_build_context_ignore_file_is_at_the_root():
    """The classic builder and compose v1 read only <context>/.dockerignore (not docker/Dockerfile.dockerignore)."""
    ignore = (REPO / ".dockerignore").read_text().split()
    for heavy in (".venv", ".git", "demo", "artifacts", "airflow_home"):
        assert heavy in ignore, heavy
    assert not (REPO / "docker" / "Dockerfile.dockerignore").exists()


def test_demo_data_is_seeded_at_each_start_when_yesterday_is_missing(compose):
    command = compose["services"]["minio-init"]["command"]
    assert command[-2:] == ["/opt/airflow/project/docker/seed_s3.py", "--if-missing"], command
    assert compose["services"]["minio-init"].get("restart", "no") == "no"


def test_failure_notice_links_point_at_the_ui_and_outputs_are_readable(compose):
    for name in AIRFLOW_SERVICES:
        env = _env(compose["services"][name])
        assert urlsplit(env["AIRFLOW__API__BASE_URL"]).port == 8080, name
        assert env["MONITOR_FILE_MODE"] == "0644", name


def test_compose_monitors_load_and_point_at_s3(monkeypatch):
    from monitor.config import load_config

    data = yaml.safe_load(COMPOSE.read_text())
    mounts = [v for v in data["x-airflow-common"]["volumes"] if v.startswith("./docker/monitors:")]
    assert mounts, "docker/monitors must be mounted into the Airflow containers"
    monkeypatch.setenv("MONITOR_BUCKET", "monitoring")
    configs = sorted((REPO / "docker" / "monitors").glob("*.yaml"))
    assert configs
    for path in configs:
        cfg = load_config(path)
        assert cfg.output.uri.startswith("s3://monitoring/"), path
        assert all(u.startswith("s3://monitoring/") for u in cfg.reference.uris + cfg.production.uris), path
