#!/usr/bin/env bash
# What `$batch` costs per request (docs/benchmarks.md, "$batch"): the same requests sent one by one and 20 to a
# batch, with the same number of requests in flight, against the release binary, measured with wrk.
#
# Targets, in this order in each round:
#   direct-patch   the seed PATCH over 20 flows in turn, 20 connections (20 requests in flight)
#   batch-patch    one batch of those 20 PATCHes, 1 connection (20 requests in flight), as the Python SDK posts
#                  its batches: one after another
#   direct-create  POST of a flow set (the docs' body), 20 connections
#   batch-create   a batch of 20 such POSTs, 1 connection
#   batch-create-4 the same batch, 4 connections (80 requests in flight)
#
# Usage: bench/batch.sh            (BENCH_DURATION [10s], BENCH_WARMUP [2s], BENCH_ROUNDS [1], BENCH_KEEP, as run.sh)
set -euo pipefail

# shellcheck source=bench/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/run.sh"

readonly BATCH_TARGETS=(direct-patch batch-patch direct-create batch-create batch-create-4)
readonly PER_BATCH=20

# batch_body FILE METHOD URL_FILE BODY_FILE: a batch of one request per line of URL_FILE (paths below /beta).
batch_body() {
    local out=$1 method=$2 urls=$3 body n=0 url
    body=$(tr -d '\n' <"$4")
    {
        printf '{"requests":['
        while read -r url; do
            ((n > 0)) && printf ','
            n=$((n + 1))
            printf '{"id":"%d","method":"%s","url":"%s","headers":{"Content-Type":"application/json"},"body":%s}' \
                "$n" "$method" "${url#/beta}" "$body"
        done <"$urls"
        printf ']}'
    } >"$out"
}

# run_wrk TARGET ROUND CONNECTIONS METHOD PATHS_FILE BODY_FILE: as run.sh's measure, with its own connection count.
run_wrk() {
    local target=$1 round=$2 connections=$3 method=$4 paths=$5 body=$6 line before after
    local vars=(BENCH_METHOD="$method" BENCH_BODY_FILE="$body" BENCH_TOKEN="$TOKEN" BENCH_PATHS_FILE="$paths")
    local wrk=(wrk -t1 -c"$connections" -s "$BENCH/request.lua")
    [[ $WARMUP == 0 ]] || env "${vars[@]}" "${wrk[@]}" -d"$WARMUP" "$RF$(head -n1 "$paths")" >/dev/null
    log "round $round: $target (others busy $(await_quiet)% just before)"
    cpu_snapshot before
    env "${vars[@]}" "${wrk[@]}" -d"$DURATION" --latency "$RF$(head -n1 "$paths")" >"$WORK/wrk.$target.$round.txt"
    cpu_snapshot after
    line=$(grep '^BENCH ' "$WORK/wrk.$target.$round.txt") || die "no summary from wrk"
    awk -v t="$target" -v r="$round" -v hz="$HZ" -v before="$before" -v after="$after" -v per="$PER_BATCH" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        split(before, b, " "); split(after, a, " ")
        n = t ~ /^batch/ ? per : 1
        print t, r, v["rps"] * n, v["p50_us"], v["p99_us"], v["non2xx"], v["errors"],
              int(1e6 * (a[3] - b[3]) / hz / (v["requests"] * n) + 0.5)
    }' <<<"$line" >>"$WORK/results"
}

batch_main() {
    ensure_wrk
    log "cargo build --release --bin rosterflow"
    (cd "$ROOT" && cargo build --release --quiet -p rosterflow-server --bin rosterflow)
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rosterflow-bench.XXXXXX")
    trap cleanup EXIT
    start_server rosterflow env ROSTERFLOW_LOG="$LOG_FILTER" \
        "$TARGET_DIR/release/rosterflow" serve --listen 127.0.0.1:0 --data-dir "$WORK/data"
    RF=http://$(server_address rosterflow)
    TOKEN=$("$TARGET_DIR/release/rosterflow" token --data-dir "$WORK/data" --tenant bench --scopes "$SCOPES")

    local sets=/beta/external/industryData/outboundProvisioningFlowSets
    create_flows "$PER_BATCH" >"$WORK/flows.paths"
    batch_body "$WORK/patches.json" PATCH "$WORK/flows.paths" "$BENCH/seed-patch.json"
    for _ in $(seq "$PER_BATCH"); do echo "$sets"; done >"$WORK/sets.paths"
    batch_body "$WORK/creates.json" POST "$WORK/sets.paths" "$BENCH/create-flowset.json"
    echo "$sets" >"$WORK/set.path"
    echo "/beta/\$batch" >"$WORK/batch.path"
    # Every request of each batch must succeed, not only the batch.
    api POST "$RF/beta/\$batch" "$WORK/patches.json" | grep -o '"status":[0-9]*' | sort | uniq -c | grep -qx " *20 \"status\":204" ||
        die "the batch of PATCHes did not answer 204 twenty times"
    api POST "$RF/beta/\$batch" "$WORK/creates.json" | grep -o '"status":[0-9]*' | sort | uniq -c | grep -qx " *20 \"status\":201" ||
        die "the batch of creates did not answer 201 twenty times"

    local round
    for round in $(seq "$ROUNDS"); do
        run_wrk direct-patch "$round" "$PER_BATCH" PATCH "$WORK/flows.paths" "$BENCH/seed-patch.json"
        run_wrk batch-patch "$round" 1 POST "$WORK/batch.path" "$WORK/patches.json"
        run_wrk direct-create "$round" "$PER_BATCH" POST "$WORK/set.path" "$BENCH/create-flowset.json"
        run_wrk batch-create "$round" 1 POST "$WORK/batch.path" "$WORK/creates.json"
        run_wrk batch-create-4 "$round" 4 POST "$WORK/batch.path" "$WORK/creates.json"
    done

    echo
    echo "| target | requests/s | p50 (ms) | p99 (ms) | non-2xx | server CPU/request (µs) |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    local t
    for t in "${BATCH_TARGETS[@]}"; do
        awk -v t="$t" '$1 == t' "$WORK/results" | sort -k3,3n |
            awk '{ row[NR] = $0 } END { print row[int((NR + 1) / 2)] }' |
            awk '{ printf "| %s | %d | %.2f | %.2f | %d | %d |\n", $1, $3, $4 / 1000, $5 / 1000, $6, $8 }'
    done
    echo
    echo "requests/s and CPU count the requests inside batches; p50/p99 are of wrk's requests (a whole batch);" \
        "median of $ROUNDS round(s), wrk -d$DURATION; $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ);" \
        "$(git -C "$ROOT" describe --always --dirty 2>/dev/null)."
}

batch_main "$@"
