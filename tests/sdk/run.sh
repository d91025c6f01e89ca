#!/usr/bin/env bash
# Conformance suite: the official Microsoft Graph Python beta SDK against a rosterflow binary.
#
#   tests/sdk/run.sh [pytest args...]        e.g. tests/sdk/run.sh -k flow_set -x
#
# ROSTERFLOW_BIN           binary to test (default: newest of target/{release,debug}/rosterflow;
#                          built with `cargo build --release` when neither exists)
# ROSTERFLOW_DATABASE_URL  passed to `rosterflow serve --database-url` when set
# ROSTERFLOW_SDK_PHASE=1   skip test_configuration_api.py (phase 2 entity sets)
# PYTHON                   interpreter used to create the venv (default: python3, needs >= 3.9)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv-sdk"
requirements="$here/requirements.txt"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating $venv" >&2
  "${PYTHON:-python3}" -m venv "$venv"
fi

# Install only when requirements.txt changed since the last successful install.
stamp="$venv/.requirements.sha256"
wanted="$("$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$requirements")"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
  echo "installing $requirements into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$wanted" >"$stamp"
fi

if [[ -z "${ROSTERFLOW_BIN:-}" ]]; then
  ROSTERFLOW_BIN="$(ls -t "$root/target/release/rosterflow" "$root/target/debug/rosterflow" 2>/dev/null | head -n1 || true)"
  if [[ -z "$ROSTERFLOW_BIN" ]]; then
    echo "no rosterflow binary found: building it (cargo build --release)" >&2
    cargo build --release --manifest-path "$root/Cargo.toml" --bin rosterflow
    ROSTERFLOW_BIN="$root/target/release/rosterflow"
  fi
fi
export ROSTERFLOW_BIN
echo "testing $ROSTERFLOW_BIN" >&2

# Run the whole suite unless the arguments already name test files or node ids.
targets=("$here")
for arg in "$@"; do
  if [[ "$arg" != -* && -e "${arg%%::*}" ]]; then targets=(); break; fi
done
exec "$venv/bin/python" -m pytest -c "$here/pytest.ini" --rootdir "$here" ${targets[@]+"${targets[@]}"} "$@"
