#!/usr/bin/env bash
# The whole test suite: Rust tests on SQLite and on PostgreSQL, then the official Microsoft Graph Python SDK
# conformance suite against the real binary (SQLite and PostgreSQL).
#
#   scripts/test.sh                # everything
#   PG_ADMIN_URL=postgres://user@host:5432/db scripts/test.sh
#
# PostgreSQL: PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/test) must allow CREATE DATABASE;
# each run creates databases of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
# Every PostgreSQL database this run creates (the Rust tests' and the SDK suite's) starts with this prefix, and
# is dropped when the run ends, passed or failed.
export ROSTERFLOW_TEST_DB_PREFIX="rosterflow_run$$_"

step() { printf '\n==> %s\n' "$*"; }

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  step "starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  echo "PostgreSQL is not reachable at 127.0.0.1:5432" >&2
  exit 1
}

drop_databases() {
  command -v psql >/dev/null || return 0
  local db
  for db in $(psql "$PG_ADMIN_URL" -Atc \
    "SELECT datname FROM pg_database WHERE starts_with(datname, '$ROSTERFLOW_TEST_DB_PREFIX')" 2>/dev/null); do
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap drop_databases EXIT

# A fresh database for one suite run; prints its URL.
fresh_database() {
  local name="${ROSTERFLOW_TEST_DB_PREFIX}$1"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
  echo "${PG_ADMIN_URL%/*}/$name"
}

step "cargo test (SQLite)"
cargo test --workspace --locked

ensure_postgres
step "cargo test (PostgreSQL)"
ROSTERFLOW_TEST_DATABASE_URL="$PG_ADMIN_URL" cargo test --locked --workspace --tests

export ROSTERFLOW_BIN="$PWD/target/debug/rosterflow"
step "Azurite (Azure Storage emulator) and AzCopy for the upload tests"
bash tests/azurite/install.sh
step "Microsoft Graph Python SDK conformance (SQLite)"
bash tests/sdk/run.sh -q
step "Microsoft Graph Python SDK conformance (PostgreSQL; replicas sharing files in Azurite)"
ROSTERFLOW_DATABASE_URL="$(fresh_database sdk)" ROSTERFLOW_SHARED_DATABASE_URL="$(fresh_database shared)" \
  bash tests/sdk/run.sh -q
