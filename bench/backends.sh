#!/usr/bin/env bash
# SQLite, PostgreSQL and PostgreSQL's own ceiling side by side, in one run (docs/benchmarks.md, "PostgreSQL").
# Run as `bench/run.sh backends` (or directly). Every request carries an RS256 token; writes are durable on
# both backends (SQLite synchronous=FULL, PostgreSQL synchronous_commit as the server has it: on).
#
# Targets, in this order in each round (BACKEND is sqlite, pg: one replica, pg2: two replicas on one database,
# each loaded by a wrk of its own with the paths a load balancer hashing the path would send it, see `route`):
#   BACKEND-patch-random  the seed PATCH to one of BENCH_FLOWS flows at random
#   BACKEND-patch-one     the seed PATCH, every request to the same flow
#   BACKEND-get           GET of one flow
#   BACKEND-page          GET /OutboundProvisioningFlowSets?$top=50 (a page of the BENCH_FLOWS flow sets)
#   pgbench-random        pgbench -M prepared: BEGIN; SELECT ... FOR UPDATE; UPDATE ...; COMMIT on a random row
#                         of BENCH_FLOWS (the row as wide as a flow's document, rewritten each time)
#   pgbench-one           the same on one row
#   pgbench-get           pgbench -M prepared: SELECT of a random row
#
# PostgreSQL's CPU per request is given twice: every `postgres` process's (the server's whole cost, background
# writers included, but also any other database's work meanwhile) and, in the last column, only the live
# backends of the benchmark's own database (what the reads cost, even while other tests share the server).
#
# Usage: bench/run.sh backends
# Environment (defaults in brackets), besides run.sh's BENCH_DURATION, BENCH_WARMUP, BENCH_ROUNDS,
# BENCH_QUIET_WAIT, BENCH_MAX_BUSY, BENCH_KEEP, BENCH_LOG, BENCH_OUT:
#   BENCH_CONNECTIONS [16]   wrk -c and pgbench -c
#   BENCH_FLOWS [200]        flows (each in a flow set of its own) per backend
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/test]   an administrative database; the benchmark creates
#                            its own database beside it and drops it at the end
#   BENCH_BACKENDS_ENFORCE [0]  1: exit 1 when a goal of issue 14 is missed
#   BENCH_GROUPS ["patch-random patch-one get page"]  which groups of targets to measure (the verdict then
#                            reports the others as missed)
#   BENCH_DB_PREFIX [rf_bench]  the name of the database it creates, before its process id
#   BENCH_BIN                a rosterflow binary to measure instead of building the worktree's (a before/after)
#   BENCH_PG2_ROUTING [hash]  how requests reach the two replicas: hash (by path, as a deployment should) or any
#                            (every path to both)
set -euo pipefail

export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-16}
# shellcheck source=bench/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/run.sh"

readonly FLOWS=${BENCH_FLOWS:-200}
readonly PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
readonly PG_DB=${BENCH_DB_PREFIX:-rf_bench}_$$
readonly PG_URL=${PG_ADMIN%/*}/$PG_DB
readonly BACKEND_TARGETS=(
    sqlite-patch-random pg-patch-random pg2-patch-random pgbench-random
    sqlite-patch-one pg-patch-one pg2-patch-one pgbench-one
    sqlite-get pg-get pg2-get pgbench-get
    sqlite-page pg-page pg2-page
)

declare -A URL TOKENS # per backend: the server's http://HOST:PORT (pg2: the second replica) and token

# wanted GROUP: whether BENCH_GROUPS names GROUP (patch-random, patch-one, get, page; all by default).
wanted() { [[ " ${BENCH_GROUPS:-patch-random patch-one get page} " == *" $1 "* ]]; }

drop_db() { psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true; }

backends_cleanup() {
    cleanup
    drop_db
}

# db_ticks: CPU clock ticks PostgreSQL's processes used so far: the live ones', and those of ended backends
# (the postmaster's waited-for children: pgbench opens connections per run).
db_ticks() {
    local pid stat total=0 postmaster
    postmaster=$(head -n1 "$(psql -Atq "$PG_ADMIN" -c 'show data_directory')/postmaster.pid" 2>/dev/null || echo)
    for pid in $(pgrep -x postgres || true); do
        read -ra stat <<<"$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null)" || continue
        ((${#stat[@]} > 14)) || continue
        total=$((total + stat[11] + stat[12]))
        [[ $pid == "$postmaster" ]] && total=$((total + stat[13] + stat[14]))
    done
    echo "$total"
}

# db_per_request TARGET ROUND BEFORE AFTER REQUESTS: appends "TARGET ROUND µs" of PostgreSQL CPU per request.
db_per_request() {
    awk -v t="$1" -v r="$2" -v d="$(($4 - $3))" -v n="$5" -v hz="$HZ" \
        'BEGIN { printf "%s %s %d\n", t, r, (n > 0 ? 1e6 * d / hz / n + 0.5 : 0) }' >>"$WORK/db"
}

# db_own_ticks: "PID TICKS" of each live backend of the benchmark's database: its CPU without what other
# databases on the same server use meanwhile (other processes' tests share the server on a busy machine).
db_own_ticks() {
    local pid stat
    for pid in $(psql -Atq "$PG_ADMIN" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$PG_DB'"); do
        read -ra stat <<<"$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null)" || continue
        ((${#stat[@]} > 14)) || continue
        echo "$pid $((stat[11] + stat[12]))"
    done
}

# db_own_per_request TARGET ROUND BEFORE-FILE AFTER-FILE REQUESTS: appends "TARGET ROUND µs" of the benchmark
# database's backends' CPU per request (a backend started meanwhile counts from 0; one that ended is missed,
# so pgbench's, whose connections end with it, are not measured this way).
db_own_per_request() {
    awk -v t="$1" -v r="$2" -v n="$5" -v hz="$HZ" 'FNR == NR { b[$1] = $2; next } { d += $2 - b[$1] }
        END { printf "%s %s %d\n", t, r, (n > 0 ? 1e6 * d / hz / n + 0.5 : 0) }' "$3" "$4" >>"$WORK/dbown"
}

# db_xacts: transactions the benchmark's database committed or rolled back so far: its statements, since each of
# a GET's or a PATCH's is one autocommitted transaction (a coalesced read answers several GETs with one). A
# backend reports its counts when idle, at most once a second: read after a pause, this has them all.
db_xacts() {
    psql -Atq "$PG_ADMIN" -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$PG_DB'"
}

# db_xacts_per_request TARGET ROUND BEFORE AFTER REQUESTS: appends "TARGET ROUND transactions" per request.
db_xacts_per_request() {
    awk -v t="$1" -v r="$2" -v d="$(($4 - $3))" -v n="$5" \
        'BEGIN { printf "%s %s %.2f\n", t, r, (n > 0 ? d / n : 0) }' >>"$WORK/xacts"
}

# on_measure begin|end: run.sh's hook around a measured wrk run (after its warm-up): the database's CPU and
# transactions then, so that the warm-up's are not counted against the measured requests.
on_measure() {
    case $1 in
        begin)
            db_own_ticks >"$WORK/own.before"
            DB_BEFORE=$(db_ticks)
            sleep 1.2 # the warm-up's counts reported
            XACTS_BEFORE=$(db_xacts)
            ;;
        end)
            DB_AFTER=$(db_ticks)
            db_own_ticks >"$WORK/own.after"
            sleep 1.2
            XACTS_AFTER=$(db_xacts)
            ;;
    esac
}

# requests_of FILE: the request count of a wrk output.
requests_of() { grep -o 'requests=[0-9]*' "$1" | head -n1 | cut -d= -f2; }

# wrk_target TARGET ROUND BACKEND METHOD PATHS [BODY] [RANDOM]: one wrk measurement against one server.
wrk_target() {
    local target=$1 round=$2 backend=$3 method=$4 paths=$5 body=${6:-} random=${7:-0} n
    TOKEN=${TOKENS[$backend]}
    BENCH_RANDOM=$random measure "$target" "$round" "$method" "${URL[$backend]}" "$paths" "$body"
    n=$(requests_of "$WORK/wrk.$target.$round.txt")
    db_per_request "$target" "$round" "$DB_BEFORE" "$DB_AFTER" "$n"
    db_own_per_request "$target" "$round" "$WORK/own.before" "$WORK/own.after" "$n"
    db_xacts_per_request "$target" "$round" "$XACTS_BEFORE" "$XACTS_AFTER" "$n"
}

# route PATHS: splits PATHS into PATHS.1 and PATHS.2, the paths each replica serves. BENCH_PG2_ROUTING=hash (the
# default) is how a deployment runs replicas (docs/architecture.md, "Replicas"): the load balancer hashes the
# request path, so an item's requests, writes included, all go to one replica; =any sends every path to both
# (each replica then keeps finding what the other wrote).
route() {
    local paths=$1 line
    : >"$paths.1"
    : >"$paths.2"
    while IFS= read -r line; do
        if [[ ${BENCH_PG2_ROUTING:-hash} == any ]]; then
            echo "$line" >>"$paths.1"
            echo "$line" >>"$paths.2"
        else
            echo "$line" >>"$paths.$(($(cksum <<<"$line" | cut -d' ' -f1) % 2 + 1))"
        fi
    done <"$paths"
}

# pair_target TARGET ROUND METHOD PATHS [BODY] [RANDOM]: the two PostgreSQL replicas at once, each loaded by a
# wrk of its own with the paths `route` gives it and a share of the connections in proportion to them (a
# replica given no path is not loaded); the row adds their rates and takes the worse p99.
pair_target() {
    local target=$1 round=$2 method=$3 paths=$4 body=${5:-} random=${6:-0} i n total jobs=() used=()
    declare -A conns
    route "$paths"
    total=$(($(wc -l <"$paths.1") + $(wc -l <"$paths.2")))
    for i in 1 2; do
        n=$(wc -l <"$paths.$i")
        ((n > 0)) || continue
        conns[$i]=$(((CONNECTIONS * n + total / 2) / total))
        ((conns[$i] > 0)) || conns[$i]=1
        used+=("$i")
    done
    TOKEN=${TOKENS[pg]}
    run_wrk() { # REPLICA WRK-ARGS...: wrk against one replica, with its paths and connections
        local replica=$1
        shift
        BENCH_METHOD="$method" BENCH_BODY_FILE="$body" BENCH_TOKEN="$TOKEN" BENCH_PATHS_FILE="$paths.$replica" \
            BENCH_RANDOM="$random" wrk -t1 -c"${conns[$replica]}" -s "$BENCH/request.lua" "$@" \
            "${URL[pg$replica]}$(head -n1 "$paths.$replica")"
    }
    if [[ $WARMUP != 0 ]]; then
        for i in "${used[@]}"; do
            run_wrk "$i" -d"$WARMUP" >/dev/null &
            jobs+=($!)
        done
        wait "${jobs[@]}" # not a bare wait: the servers are children too
        jobs=()
    fi
    log "round $round: $target (others busy $(await_quiet)% just before; load $(cut -d' ' -f1 /proc/loadavg))"
    on_measure begin
    for i in "${used[@]}"; do
        run_wrk "$i" -d"$DURATION" --latency >"$WORK/wrk.$target.$round.$i.txt" &
        jobs+=($!)
    done
    wait "${jobs[@]}"
    on_measure end
    local outputs=() requests=0
    for i in "${used[@]}"; do
        outputs+=("$WORK/wrk.$target.$round.$i.txt")
        requests=$((requests + $(requests_of "$WORK/wrk.$target.$round.$i.txt")))
    done
    cat "${outputs[@]}" | grep '^BENCH ' | awk -v t="$target" \
        -v r="$round" -v load1="$(cut -d' ' -f1 /proc/loadavg)" '{
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            rps += v["rps"]; req += v["requests"]; bad += v["non2xx"]; err += v["errors"]
            ok += v["requests"] > 0 ? v["rps"] * (v["requests"] - v["non2xx"]) / v["requests"] : 0
            if (v["p50_us"] > p50) p50 = v["p50_us"]; if (v["p99_us"] > p99) p99 = v["p99_us"]
            if (v["max_us"] > max) max = v["max_us"]
        } END { print t, r, rps, int(ok), p50, p99, max, bad, err, 0, 0, load1 }' >>"$WORK/results"
    db_per_request "$target" "$round" "$DB_BEFORE" "$DB_AFTER" "$requests"
    db_own_per_request "$target" "$round" "$WORK/own.before" "$WORK/own.after" "$requests"
    db_xacts_per_request "$target" "$round" "$XACTS_BEFORE" "$XACTS_AFTER" "$requests"
}

# pgbench_target TARGET ROUND SCRIPT: PostgreSQL's own rate for SCRIPT, as a results row (p50/p99 from the
# per-transaction log).
pgbench_target() {
    local target=$1 round=$2 script=$3 before after out=$WORK/pgbench.$1.$2 tps n
    pgbench -n -M prepared -c"$CONNECTIONS" -j1 -T"${WARMUP%s}" -f "$script" "$PG_URL" >/dev/null 2>&1 || true
    log "round $round: $target (others busy $(await_quiet)% just before; load $(cut -d' ' -f1 /proc/loadavg))"
    mkdir -p "$out"
    before=$(db_ticks)
    (cd "$out" && pgbench -n -M prepared -c"$CONNECTIONS" -j1 -T"${DURATION%s}" -l -f "$script" "$PG_URL" \
        >"$out/summary.txt" 2>&1) || die "pgbench failed: $(cat "$out/summary.txt")"
    after=$(db_ticks)
    tps=$(awk '/^tps = / { print int($3); exit }' "$out/summary.txt")
    cat "$out"/pgbench_log.* | awk '{ print $3 }' | sort -n >"$out/latencies"
    n=$(wc -l <"$out/latencies")
    awk -v t="$target" -v r="$round" -v tps="$tps" -v n="$n" -v load1="$(cut -d' ' -f1 /proc/loadavg)" '
        NR == int(n * 0.5) + 1 { p50 = $1 } NR == int(n * 0.99) + 1 { p99 = $1 } { max = $1 }
        END { print t, r, tps, tps, p50, p99, max, 0, 0, 0, 0, load1 }' "$out/latencies" >>"$WORK/results"
    db_per_request "$target" "$round" "$before" "$after" "$n"
    rm -f "$out"/pgbench_log.*
}

# pgbench_setup: a table of FLOWS rows as wide as a flow's stored document, and the three scripts.
pgbench_setup() {
    local width
    width=$(psql -Atq "$PG_URL" -c "SELECT max(length(body)) FROM resource WHERE set_name = 'provisioningFlows'")
    psql -q "$PG_URL" <<SQL >/dev/null
CREATE TABLE bench_row (id int PRIMARY KEY, body text NOT NULL, version bigint NOT NULL);
INSERT INTO bench_row SELECT i, repeat('x', $width), 1 FROM generate_series(1, $FLOWS) i;
SQL
    # The body rewritten as a new value of the same width each time, as a PATCH rewrites its document.
    local update="UPDATE bench_row SET body = repeat(md5(random()::text), $((width / 32 + 1))), version = version + 1 WHERE id = :id;"
    printf '\\set id random(1, %d)\nBEGIN;\nSELECT body FROM bench_row WHERE id = :id FOR UPDATE;\n%s\nCOMMIT;\n' \
        "$FLOWS" "$update" >"$WORK/random.sql"
    printf '\\set id 1\nBEGIN;\nSELECT body FROM bench_row WHERE id = :id FOR UPDATE;\n%s\nCOMMIT;\n' \
        "$update" >"$WORK/one.sql"
    printf '\\set id random(1, %d)\nSELECT body FROM bench_row WHERE id = :id;\n' "$FLOWS" >"$WORK/get.sql"
}

# setup_backend NAME: FLOWS flows on the backend, their paths in $WORK/NAME.{flows,one,page}.paths.
setup_backend() {
    local name=$1
    RF=${URL[$name]}
    TOKEN=${TOKENS[$name]}
    create_flows "$FLOWS" >"$WORK/$name.flows.paths"
    head -n1 "$WORK/$name.flows.paths" >"$WORK/$name.one.paths"
    echo '/beta/external/industryData/OutboundProvisioningFlowSets?$top=50' >"$WORK/$name.page.paths"
    api PATCH "$RF$(cat "$WORK/$name.one.paths")" "$BENCH/seed-patch.json" >/dev/null
    log "$name: $FLOWS flows created"
}

backends_report() {
    local t
    {
        echo "| target | req/s (2xx) | p50 (ms) | p99 (ms) | max (ms) | non-2xx | rosterflow CPU/req (µs) | PostgreSQL CPU/req (µs) | load | its database's backends' CPU/req (µs) | its database's transactions/req |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for t in "${BACKEND_TARGETS[@]}"; do
            local row db own xacts
            row=$(median "$t")
            [[ -n $row ]] || continue
            db=$(awk -v t="$t" -v r="$(cut -d' ' -f2 <<<"$row")" '$1 == t && $2 == r { print $3 }' "$WORK/db")
            own=$(awk -v t="$t" -v r="$(cut -d' ' -f2 <<<"$row")" '$1 == t && $2 == r { print $3 }' "$WORK/dbown" 2>/dev/null)
            xacts=$(awk -v t="$t" -v r="$(cut -d' ' -f2 <<<"$row")" '$1 == t && $2 == r { print $3 }' "$WORK/xacts" 2>/dev/null)
            awk -v db="${db:-0}" -v own="${own:-}" -v xacts="${xacts:-}" '{ printf "| %s | %d | %.2f | %.2f | %.2f | %d | %s | %d | %s | %s | %s |\n",
                $1, $4, $5 / 1000, $6 / 1000, $7 / 1000, $8, ($1 ~ /^(pg2|pgbench)/ ? "" : $10), db, $12,
                ($1 ~ /^(pg|pg2)-/ ? own : ""), ($1 ~ /^(pg|pg2)-/ ? xacts : "") }' <<<"$row"
        done
        echo
        echo "wrk -t1 -c$CONNECTIONS (pg2: a wrk per replica, paths routed by ${BENCH_PG2_ROUTING:-hash}) and pgbench -M prepared" \
            "-c$CONNECTIONS -j1, -d$DURATION after a $WARMUP warm-up; median of $ROUNDS round(s); $FLOWS flows;" \
            "$(nproc) CPUs; PostgreSQL $(psql -Atq "$PG_ADMIN" -c 'show server_version'), synchronous_commit" \
            "$(psql -Atq "$PG_ADMIN" -c 'show synchronous_commit'); $(date -u +%Y-%m-%dT%H:%MZ);" \
            "$(git -C "$ROOT" describe --always --dirty 2>/dev/null)."
    } | tee "${BENCH_OUT:-/dev/null}"
}

# backends_verdict: issue 14's goals; returns 1 when one is missed.
backends_verdict() {
    {
        echo "random $(ratio_median pg-patch-random pgbench-random) $(field pg-patch-random 6)"
        echo "one $(ratio_median pg-patch-one pgbench-one) $(field pg-patch-one 6)"
        echo "get $(field pg-get 4)"
        echo "page-sqlite $(field sqlite-page 4)"
        echo "page-pg $(field pg-page 4)"
        echo "replicas $(ratio_median pg2-patch-random pg-patch-random)"
    } | awk '
        function goal(name, value, want, met) {
            printf "%-52s %-12s (goal %s): %s\n", name, value, want, met ? "met" : "MISSED"
            ok = ok && met
        }
        BEGIN { ok = 1 }
        $1 == "random" { goal("random PATCH, PostgreSQL / pgbench random row", sprintf("%.3f", $2), ">= 0.7", $2 >= 0.7)
                         goal("random PATCH, PostgreSQL p99", sprintf("%.2f ms", $3 / 1000), "<= 10 ms", $3 <= 10000) }
        $1 == "one" { goal("one-flow PATCH, PostgreSQL / pgbench one row", sprintf("%.3f", $2), ">= 0.9", $2 >= 0.9) }
        $1 == "get" { goal("GET one flow, PostgreSQL req/s", $2, ">= 20000", $2 >= 20000) }
        $1 ~ /^page/ { goal("GET $top=50 page, " substr($1, 6) " req/s", $2, ">= 10000", $2 >= 10000) }
        $1 == "replicas" { goal("random PATCH, two replicas / one", sprintf("%.3f", $2), ">= 1", $2 >= 1) }
        END { exit !ok }'
}

backends_main() {
    ensure_wrk
    command -v pgbench >/dev/null || die "pgbench is missing (Debian package postgresql-client)"
    local bin=${BENCH_BIN:-$TARGET_DIR/release/rosterflow}
    if [[ -z ${BENCH_BIN:-} ]]; then
        log "cargo build --release --bin rosterflow"
        (cd "$ROOT" && cargo build --release --quiet -p rosterflow-server --bin rosterflow)
    fi
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rosterflow-backends.XXXXXX")
    trap backends_cleanup EXIT
    psql -q "$PG_ADMIN" -c "CREATE DATABASE $PG_DB" >/dev/null
    start_server sqlite env ROSTERFLOW_LOG="$LOG_FILTER" "$bin" serve --listen 127.0.0.1:0 --data-dir "$WORK/sqlite"
    URL[sqlite]=http://$(server_address sqlite)
    # The replicas share the database and the data directory (the dev token key and the secrets key).
    start_server pg1 env ROSTERFLOW_LOG="$LOG_FILTER" "$bin" serve --listen 127.0.0.1:0 --data-dir "$WORK/pg" \
        --database-url "$PG_URL"
    URL[pg1]=http://$(server_address pg1)
    start_server pg2 env ROSTERFLOW_LOG="$LOG_FILTER" "$bin" serve --listen 127.0.0.1:0 --data-dir "$WORK/pg" \
        --database-url "$PG_URL"
    URL[pg2]=http://$(server_address pg2)
    URL[pg]=${URL[pg1]}
    TOKENS[sqlite]=$("$bin" token --data-dir "$WORK/sqlite" --tenant bench --scopes "$SCOPES")
    TOKENS[pg]=$("$bin" token --data-dir "$WORK/pg" --tenant bench --scopes "$SCOPES")
    setup_backend sqlite
    setup_backend pg
    pgbench_setup
    # Statistics, as autovacuum gathers them on a server that runs it (the default) a minute after the inserts.
    # Without them (this machine's server runs no autovacuum) PostgreSQL costs an index scan by (tenant,
    # set_name) with the id as a filter, 100 rows read for one, like the primary key's probe, and may take it.
    psql -q "$PG_URL" -c "ANALYZE" >/dev/null
    : >"$WORK/db"

    local round b
    for round in $(seq "$ROUNDS"); do
        if wanted patch-random; then
            for b in sqlite pg; do
                wrk_target "$b-patch-random" "$round" "$b" PATCH "$WORK/$b.flows.paths" "$BENCH/seed-patch.json" 1
            done
            pair_target pg2-patch-random "$round" PATCH "$WORK/pg.flows.paths" "$BENCH/seed-patch.json" 1
            pgbench_target pgbench-random "$round" "$WORK/random.sql"
        fi
        if wanted patch-one; then
            for b in sqlite pg; do
                wrk_target "$b-patch-one" "$round" "$b" PATCH "$WORK/$b.one.paths" "$BENCH/seed-patch.json"
            done
            pair_target pg2-patch-one "$round" PATCH "$WORK/pg.one.paths" "$BENCH/seed-patch.json"
            pgbench_target pgbench-one "$round" "$WORK/one.sql"
        fi
        if wanted get; then
            for b in sqlite pg; do
                wrk_target "$b-get" "$round" "$b" GET "$WORK/$b.flows.paths" "" 1
            done
            pair_target pg2-get "$round" GET "$WORK/pg.flows.paths" "" 1
            pgbench_target pgbench-get "$round" "$WORK/get.sql"
        fi
        if wanted page; then
            for b in sqlite pg; do
                wrk_target "$b-page" "$round" "$b" GET "$WORK/$b.page.paths"
            done
            pair_target pg2-page "$round" GET "$WORK/pg.page.paths"
        fi
    done

    echo
    backends_report
    echo
    if backends_verdict; then
        echo "issue 14's goals are met"
    elif [[ ${BENCH_BACKENDS_ENFORCE:-0} == 1 ]]; then
        exit 1
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    backends_main "$@"
fi
