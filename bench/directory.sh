#!/usr/bin/env bash
# The directory benchmark (docs/benchmarks.md, "The directory"): with 100k users, 21k classes and 600k
# memberships loaded through the store's bulk API, against the release binary, on SQLite then PostgreSQL:
#
#   members      GET /beta/education/classes/{id}/members over 2,000 classes in turn (wrk)
#   filter-upn   GET /beta/users?$filter=userPrincipalName eq '...' over 2,000 users in turn (wrk)
#   filter-ext   GET /beta/education/classes?$filter=externalId eq '...' over 2,000 classes in turn (wrk)
#   paging       every user with $top=999, following @odata.nextLink, one client (directory_bench page)
#   batch        100k new users through POST /beta/$batch, 20 POST /users a batch, BENCH_IN_FLIGHT batches at
#                once (directory_bench batch: bodies prepared before the clock starts; every answer checked)
#
# Goals (issue 12): members and the filters <= 2 ms p99 at >= 5,000 req/s; paging <= 1 s; batch <= 10 s.
#
# Usage: bench/directory.sh
# Environment (defaults in brackets), besides run.sh's BENCH_THREADS, BENCH_CONNECTIONS [32], BENCH_DURATION,
# BENCH_WARMUP, BENCH_KEEP, BENCH_LOG:
#   BENCH_BACKENDS ["sqlite postgres"]   which backends to measure
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/test]   a PostgreSQL admin database; the benchmark creates
#                                        a database of its own next to it and drops it afterwards
#   BENCH_IN_FLIGHT [8]                  batches in flight while loading through $batch
#   BENCH_QUIET_WAIT [10]                as run.sh's, shorter by default: the loaded server waits meanwhile
set -euo pipefail

: "${BENCH_QUIET_WAIT:=10}"
export BENCH_QUIET_WAIT
# shellcheck source=bench/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/run.sh"

readonly BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
readonly PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
readonly IN_FLIGHT=${BENCH_IN_FLIGHT:-8}
readonly DIR_TARGETS=(members filter-upn filter-ext)
PG_DB=""

drop_db() {
    [[ -n $PG_DB ]] || return 0
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true
    PG_DB=""
}

dir_cleanup() {
    cleanup
    drop_db
}

# run_backend NAME: load, serve, measure, stop.
run_backend() {
    local backend=$1 data=$WORK/$1 url args=() line
    mkdir -p "$data"
    if [[ $backend == postgres ]]; then
        PG_DB=rf_bench_directory_$$
        psql -q "$PG_ADMIN" -c "CREATE DATABASE $PG_DB" >/dev/null
        url=${PG_ADMIN%/*}/$PG_DB
        args=(--database-url "$url")
    else
        url=$data/rosterflow.sqlite3
    fi
    log "$backend: loading 100k users, 21k classes, 600k memberships"
    line=$("$TARGET_DIR/release/examples/directory_bench" load "$url" bench "$data")
    log "$backend: $line"
    echo "$backend load $line" >>"$WORK/timings"

    start_server "rosterflow-$backend" env ROSTERFLOW_LOG="$LOG_FILTER" \
        "$TARGET_DIR/release/rosterflow" serve --listen 127.0.0.1:0 --data-dir "$data" "${args[@]}"
    RF=http://$(server_address "rosterflow-$backend")
    TOKEN=$("$TARGET_DIR/release/rosterflow" token --data-dir "$data" --tenant bench \
        --roles "EduRoster.Read.All Member.Read.Hidden User.Read.All")
    # The requests answer what they should before they are timed.
    local n
    n=$(api GET "$RF$(head -n1 "$data/members.paths")" | grep -o '"primaryRole"' | wc -l)
    ((n >= 25)) || die "a class has $n members"
    api GET "$RF$(head -n1 "$data/upn.paths")" | grep -q '"userPrincipalName":"s0@bench.example"' ||
        die "the UPN filter found nothing"
    api GET "$RF$(head -n1 "$data/ext.paths")" | grep -q '"externalId":"C0"' || die "the externalId filter found nothing"

    measure "$backend-members" 1 GET "$RF" "$data/members.paths"
    measure "$backend-filter-upn" 1 GET "$RF" "$data/upn.paths"
    measure "$backend-filter-ext" 1 GET "$RF" "$data/ext.paths"

    log "$backend: paging every user with \$top=999 (load $(cut -d' ' -f1 /proc/loadavg))"
    "$TARGET_DIR/release/examples/directory_bench" page "$RF" "$TOKEN" >/dev/null # warm-up
    line=$("$TARGET_DIR/release/examples/directory_bench" page "$RF" "$TOKEN")
    log "$backend: $line"
    echo "$backend paging $line (load $(cut -d' ' -f1 /proc/loadavg))" >>"$WORK/timings"

    local batch_token
    batch_token=$("$TARGET_DIR/release/rosterflow" token --data-dir "$data" --tenant bench-batch \
        --roles "User.ReadWrite.All")
    log "$backend: 100k users through \$batch, $IN_FLIGHT batches in flight (load $(cut -d' ' -f1 /proc/loadavg))"
    line=$("$TARGET_DIR/release/examples/directory_bench" batch "$RF" "$batch_token" 100000 "$IN_FLIGHT")
    log "$backend: $line"
    echo "$backend batch $line (load $(cut -d' ' -f1 /proc/loadavg))" >>"$WORK/timings"

    stop_servers
    drop_db
}

dir_report() {
    local b t
    echo "| target | req/s | p50 (ms) | p99 (ms) | max (ms) | non-2xx | server CPU/req (µs) | others' CPU | load |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for b in $BACKENDS; do
        for t in "${DIR_TARGETS[@]}"; do
            median "$b-$t" | awk '{ printf "| %s | %d | %.2f | %.2f | %.2f | %d | %d | %d%% | %s |\n",
                                    $1, $4, $5 / 1000, $6 / 1000, $7 / 1000, $8, $10, $11, $12 }'
        done
    done
    echo
    sed 's/^/    /' "$WORK/timings"
    echo
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (after a ${WARMUP} warm-up); $(nproc) CPUs;" \
        "Linux $(uname -r); $(date -u +%Y-%m-%dT%H:%MZ); $(git -C "$ROOT" describe --always --dirty 2>/dev/null);" \
        "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
}

directory_main() {
    ensure_wrk
    log "cargo build --release --bin rosterflow --example directory_bench"
    (cd "$ROOT" && cargo build --release --quiet -p rosterflow-server --bin rosterflow --example directory_bench)
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rosterflow-bench.XXXXXX")
    trap dir_cleanup EXIT
    : >"$WORK/timings"
    local b
    for b in $BACKENDS; do
        run_backend "$b"
    done
    echo
    dir_report | tee "${BENCH_OUT:-/dev/null}"
}

directory_main "$@"
