#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone (scheduler, dag-processor, triggerer, api-server, LocalExecutor)
# on SQLite, with this repo's dags/ and monitors/, and the demo data generated when missing.
#
# Overridable: AIRFLOW_HOME (default <repo>/airflow_home), AIRFLOW_PORT (8080), AIRFLOW_HOST (127.0.0.1),
# MONITOR_CONFIG_DIR (<repo>/monitors), DEMO_DIR (<repo>/demo), SKIP_DEMO=1 (do not generate demo data),
# AIRFLOW_USER / AIRFLOW_PASSWORD (admin / admin), UNPAUSE=0 (leave the drift_monitor DAGs paused).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
PORT="${AIRFLOW_PORT:-8080}"
HOST="${AIRFLOW_HOST:-127.0.0.1}"
USER_NAME="${AIRFLOW_USER:-admin}"
PASSWORD="${AIRFLOW_PASSWORD:-admin}"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# SQLite with a generous busy timeout: the CLI, scheduler, DAG processor and API server share one file
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db?timeout=60"
# New DAGs start paused; once the API server is up (tasks talk to it) they are unpaused below, so
# the nightly run for yesterday starts by itself. UNPAUSE=0 leaves them paused (tests, backfills only).
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__API__HOST="$HOST"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="http://$HOST:$PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$HOST:$PORT/execution/"
# On a small machine the API server's first answers to a task can take tens of seconds (SQLite, cold
# imports); with the default timeout the task then fails before it starts.
export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="${AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT:-120}"
# A known login: the simple auth manager reads the user's password from this file.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="$USER_NAME:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json"
export MONITOR_CONFIG_DIR="${MONITOR_CONFIG_DIR:-$ROOT/monitors}"
# The demo config's paths are relative to ${DEMO_DIR}; tasks run in other folders, so make it absolute.
export DEMO_DIR="${DEMO_DIR:-$ROOT/demo}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$VENV/bin:$PATH"  # standalone starts its components as `airflow ...`

if [ ! -x "$VENV/bin/airflow" ]; then
  echo "error: $VENV/bin/airflow not found; run 'make venv' first" >&2
  exit 1
fi

mkdir -p "$AIRFLOW_HOME"
printf '{"%s": "%s"}\n' "$USER_NAME" "$PASSWORD" > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"

if [ "${SKIP_DEMO:-0}" != "1" ]; then
  yesterday="$("$PY" -c 'import datetime as d; print(d.date.today() - d.timedelta(days=1))')"
  if [ ! -d "$DEMO_DIR/data/car_loan/predictions/dt=$yesterday" ]; then
    echo "Generating the demo data (30 days ending $yesterday) under $DEMO_DIR ..."
    "$PY" -c "import datetime as d, sys; from monitor.demo.generator import generate; generate(sys.argv[1], d.date.fromisoformat(sys.argv[2]))" \
      "$DEMO_DIR" "$yesterday"
  fi
fi

if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
  echo "error: port $PORT on $HOST is already in use; set AIRFLOW_PORT=<free port>" >&2
  exit 1
fi

cat <<EOF

  Airflow UI:   http://$HOST:$PORT     login: $USER_NAME / $PASSWORD
  AIRFLOW_HOME: $AIRFLOW_HOME (SQLite)
  DAGs:         $ROOT/dags  (one drift_monitor__<name> per config in $MONITOR_CONFIG_DIR)
  Outputs:      $DEMO_DIR/monitoring/   emails (.eml): $DEMO_DIR/outbox/

  Open the UI, pick drift_monitor__car_loan, press Trigger (optionally set "date"), and watch the run.
  Or from another shell:
    AIRFLOW_HOME=$AIRFLOW_HOME $VENV/bin/airflow dags trigger drift_monitor__car_loan -c '{"date": "$( "$PY" -c 'import datetime as d; print(d.date.today() - d.timedelta(days=2))')"}'
  Ready when the log says "Airflow is ready" (first start: about a minute). Ctrl-C stops everything.

EOF

unpause_when_ready() {
  # Wait for the API server (tasks fail with "connection refused" without it), then unpause.
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null \
       && "$VENV/bin/airflow" dags list -o plain 2>/dev/null | grep -q drift_monitor__ \
       && "$VENV/bin/airflow" dags unpause --treat-dag-id-as-regex '^drift_monitor__' --yes >/dev/null 2>&1; then
      echo "standalone | drift_monitor DAGs unpaused"
      return
    fi
    sleep 5
  done
}
if [ "${UNPAUSE:-1}" = "1" ]; then
  unpause_when_ready &
fi

cd "$AIRFLOW_HOME"
# Migrate first, then switch the SQLite file to write-ahead logging (it persists in the file):
# readers (API server, CLI) then no longer block the scheduler's writes ("database is locked").
"$VENV/bin/airflow" db migrate >/dev/null
"$PY" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$AIRFLOW_HOME/airflow.db"
exec "$VENV/bin/airflow" standalone
