#!/usr/bin/env bash
# Runs benchmark (docs/benchmarks.md, "Runs"): the issue's district (100k students, 5k teachers, ~21k classes,
# ~600k enrollments) loaded as a tenant's snapshot, then, through the `rosterflow` CLI, the first full run, a
# run over the unchanged snapshot, a preview and a run after 1 % of enrollments changed; wall time and peak RSS
# of each, on SQLite and (when reachable) PostgreSQL.
#
#   bench/runs.sh                      # both backends
#   STUDENTS=20000 bench/runs.sh       # a smaller district
#   SKIP_PG=1 bench/runs.sh            # SQLite only
#
# PostgreSQL: PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/test); a database of its own is created
# and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

STUDENTS=${STUDENTS:-100000}
WORK=${WORK:-target/bench-runs}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}

cargo build --release -q -p rosterflow-server
cargo build --release -q -p rosterflow-engine --example runs_setup
BIN=target/release/rosterflow
SETUP=target/release/examples/runs_setup
mkdir -p "$WORK"
district="$WORK/district-$STUDENTS"
[ -f "$district/enrollments.csv" ] || "$BIN" generate --students "$STUDENTS" --seed 1 "$district" >&2
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== district: $(($(wc -l < "$district/users.csv") - 1)) users, $(($(wc -l < "$district/classes.csv") - 1)) classes, $(($(wc -l < "$district/enrollments.csv") - 1)) enrollments"

timed() { # LABEL CMD... → one line: wall, CPU, peak RSS
    local label=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt" || { cat "$WORK/err.txt"; exit 1; }
    read -r wall user sys rss < "$WORK/time.txt"
    printf "   %-34s wall %6.2f s  CPU %6.2f s  peak RSS %5.0f MiB   %s\n" "$label" "$wall" "$(echo "$user + $sys" | bc)" \
        "$(echo "$rss / 1024" | bc)" "$(tail -1 "$WORK/out.txt")"
}

backend() { # NAME DATA_DIR [DATABASE_URL]
    local name=$1 data=$2 url=${3:-}
    local db=${url:-$data/rosterflow.sqlite3}
    local args=(--data-dir "$data" --tenant bench)
    [ -n "$url" ] && args+=(--database-url "$url")
    echo "== $name"
    timed "load the snapshot" "$SETUP" "$district" "$db" bench
    timed "first full run" "$BIN" run "${args[@]}"
    timed "run, unchanged snapshot" "$BIN" run "${args[@]}"
    timed "load with 1 % of enrollments gone" "$SETUP" "$district" "$db" bench --drop-percent 1
    timed "preview (rosterflow plan)" "$BIN" plan "${args[@]}"
    sed 's/^/      /' "$WORK/out.txt" | cut -c1-200
    timed "run, 1 % changed" "$BIN" run "${args[@]}"
}

data=$(mktemp -d "$WORK/sqlite-XXXX")
backend SQLite "$data"
rm -rf "$data"

if [ -z "${SKIP_PG:-}" ]; then
    name="rosterflow_bench_runs_$$"
    if psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $name" 2>/dev/null; then
        data=$(mktemp -d "$WORK/pg-XXXX")
        backend PostgreSQL "$data" "${PG_ADMIN_URL%/*}/$name"
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE $name"
        rm -rf "$data"
    else
        echo "== PostgreSQL not reachable at $PG_ADMIN_URL: skipped"
    fi
fi
