#!/usr/bin/env bash
# The throughput benchmark of docs/benchmarks.md: rosterflow's seed PATCH (RS256 verification, validation, a
# durable SQLite commit) and GET of a classGroupProvisioningFlow, against a bare axum handler (the
# `bare204` example) that answers the same requests with 204 / a small JSON, measured with wrk in one run.
#
# Targets, in this order in each round (the same request stream for the baseline and rosterflow):
#   baseline-patch           the seed PATCH, one flow's path, against bare204
#   rosterflow-patch         the seed PATCH of one flow: every request writes the same item (the issue's case)
#   rosterflow-patch-spread  the seed PATCH over BENCH_CONNECTIONS flows in turn (one flow set each), which
#                            takes same-item write contention out of the figure
#   rosterflow-get           GET of the one flow
#   baseline-get             GET, the same path, against bare204
#
# Usage: bench/run.sh             (this file's targets)
#        bench/run.sh backends    SQLite, PostgreSQL and pgbench's ceiling side by side (bench/backends.sh)
# Environment (defaults in brackets):
#   BENCH_THREADS [1] BENCH_CONNECTIONS [32] BENCH_DURATION [10s]   wrk -t / -c / -d, the same for every target
#   BENCH_WARMUP [2s]       an unmeasured wrk run before each measured one ("0" skips it)
#   BENCH_ROUNDS [1]        rounds of the five targets, interleaved; the table shows each target's median round
#   BENCH_QUIET_WAIT [60]   seconds to wait, before each run, for other processes to leave the CPUs alone
#   BENCH_MAX_BUSY [10]     % of CPU time taken by others (sampled over 1 s) above which the machine is "busy"
#   BENCH_ENFORCE [0]       1: exit 1 when a goal is missed (otherwise the verdict is only printed)
#   BENCH_KEEP [0]          1: keep the work directory (server logs, wrk outputs, the database)
#   BENCH_LOG [warn]        rosterflow's ROSTERFLOW_LOG: warn leaves out the line every request logs at info
#   BENCH_OUT               also write the markdown table to this file
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly BENCH=$ROOT/bench
readonly TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
readonly THREADS=${BENCH_THREADS:-1}
readonly CONNECTIONS=${BENCH_CONNECTIONS:-32}
readonly DURATION=${BENCH_DURATION:-10s}
readonly WARMUP=${BENCH_WARMUP:-2s}
readonly ROUNDS=${BENCH_ROUNDS:-1}
readonly QUIET_WAIT=${BENCH_QUIET_WAIT:-60}
readonly MAX_BUSY=${BENCH_MAX_BUSY:-10}
readonly ENFORCE=${BENCH_ENFORCE:-0}
readonly LOG_FILTER=${BENCH_LOG:-warn}
HZ=$(getconf CLK_TCK)
readonly HZ
readonly SCOPES="IndustryData-OutboundFlow.ReadWrite.All"
# The goals of the issue: the seed PATCH at >= 1/3 of the bare handler's req/s with p99 <= 5 ms; the GET of a
# flow at least as fast (>= 1/3 of the bare GET, p99 <= 5 ms).
readonly MIN_RATIO=0.3333
readonly MAX_P99_US=5000
readonly TARGETS=(baseline-patch rosterflow-patch rosterflow-patch-spread rosterflow-get baseline-get)

WORK=""     # the temporary directory: data dir, logs, wrk outputs, results
PIDS=()     # the servers this script started
TOKEN=""    # the bearer token every request carries
BARE=""     # http://HOST:PORT of bare204
RF=""       # http://HOST:PORT of rosterflow

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# stop_servers: ends the servers this script started (and forgets them: measure reads each one's CPU time).
stop_servers() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

cleanup() {
    stop_servers
    if [[ -n $WORK && ${BENCH_KEEP:-0} != 1 ]]; then
        rm -rf "$WORK"
    elif [[ -n $WORK ]]; then
        log "work directory kept: $WORK"
    fi
}

ensure_wrk() {
    command -v wrk >/dev/null && return
    log "installing wrk (Debian package wrk)"
    local sudo=""
    [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo apt-get install -y wrk >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
    command -v wrk >/dev/null || die "wrk could not be installed"
}

build() {
    log "cargo build --release --bin rosterflow --example bare204"
    (cd "$ROOT" && cargo build --release --quiet -p rosterflow-server --bin rosterflow --example bare204)
    [[ -x $TARGET_DIR/release/rosterflow && -x $TARGET_DIR/release/examples/bare204 ]] ||
        die "the binaries are not under $TARGET_DIR/release (set CARGO_TARGET_DIR?)"
}

# start_server NAME COMMAND...: start it in the background, logging to $WORK/NAME.log; its pid joins PIDS.
start_server() {
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
}

# server_address NAME: the host:port that NAME printed as "listening on http://HOST:PORT" (waits up to 30 s).
server_address() {
    local name=$1 addr="" _
    for _ in $(seq 300); do
        addr=$(awk '/^listening on http:\/\// { sub(/^listening on http:\/\//, ""); print $1; exit }' "$WORK/$name.log")
        [[ -n $addr ]] && { echo "$addr"; return; }
        sleep 0.1
    done
    cat "$WORK/$name.log" >&2
    die "$name did not start"
}

# api METHOD URL [BODY_FILE]: one authenticated request; prints the response body, fails unless it is 2xx.
api() {
    local method=$1 url=$2 body=${3:-} out status
    local args=(-sS -o "$WORK/response" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $TOKEN")
    [[ -n $body ]] && args+=(-H "Content-Type: application/json" --data-binary "@$body")
    status=$(curl "${args[@]}" "$url")
    out=$(cat "$WORK/response")
    [[ $status == 2?? ]] || die "$method $url answered $status: $out"
    printf '%s' "$out"
}

# The top-level "id" of a created entity (its first "id" member: nested objects here carry none).
created_id() { grep -o '"id":"[^"]*"' | awk -F'"' 'NR == 1 { print $4 }'; }

# cpu_busy_pct: the share of all CPUs' time spent outside idle and iowait over the next second, in %.
cpu_busy_pct() {
    local a b
    read -ra a </proc/stat
    sleep 1
    read -ra b </proc/stat
    awk -v a="${a[*]:1}" -v b="${b[*]:1}" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); total = 0
        for (i = 1; i <= n; i++) total += y[i] - x[i]
        idle = (y[4] - x[4]) + (y[5] - x[5])
        printf "%.0f", (total > 0 ? 100 * (total - idle) / total : 0) }'
}

# await_quiet: the CPU share others take now, after waiting up to QUIET_WAIT s for it to drop below MAX_BUSY.
await_quiet() {
    local busy waited=0
    busy=$(cpu_busy_pct)
    while ((busy > MAX_BUSY && waited < QUIET_WAIT)); do
        sleep 4
        waited=$((waited + 5))
        busy=$(cpu_busy_pct)
    done
    ((busy <= MAX_BUSY)) || log "warning: other processes use ${busy}% of the CPUs; figures will be low"
    echo "$busy"
}

# cpu_snapshot VAR: sets VAR to "TOTAL BUSY SERVERS WRK", clock ticks so far: all CPUs' time and its part not
# idle (/proc/stat), the servers' CPU time, and the CPU time of this shell's finished children (wrk's, mostly).
cpu_snapshot() {
    local pid servers=0 wrk stat
    for pid in "${PIDS[@]}"; do
        read -ra stat <<<"$(sed 's/^.*) //' "/proc/$pid/stat")" # from field 3 on: utime, stime are fields 14, 15
        servers=$((servers + stat[11] + stat[12]))
    done
    times >"$WORK/times" # not in a subshell: a subshell has no finished children of its own
    wrk=$(awk -v hz="$HZ" 'NR == 2 { gsub(/[ms]/, " "); print int(($1 * 60 + $2 + $3 * 60 + $4) * hz) }' "$WORK/times")
    printf -v "$1" '%s %s %s' "$(awk '/^cpu / { for (i = 2; i <= NF; i++) t += $i; print t, t - $5 - $6 }' /proc/stat)" \
        "$servers" "$wrk"
}

# measure TARGET ROUND METHOD SERVER PATHS_FILE [BODY_FILE]: a warm-up, then the measured wrk run; appends a
# results row: target round rps ok_rps p50_us p99_us max_us non2xx errors server_us_per_request others_pct load1.
measure() {
    local target=$1 round=$2 method=$3 server=$4 paths=$5 body=${6:-} busy load1 before after line
    local out=$WORK/wrk.$target.$round.txt url
    url=$server$(head -n1 "$paths")
    local vars=(BENCH_METHOD="$method" BENCH_BODY_FILE="$body" BENCH_TOKEN="$TOKEN" BENCH_PATHS_FILE="$paths"
        BENCH_RANDOM="${BENCH_RANDOM:-0}")
    local wrk=(wrk -t"$THREADS" -c"$CONNECTIONS" -s "$BENCH/request.lua")
    if [[ $WARMUP != 0 ]]; then
        env "${vars[@]}" "${wrk[@]}" -d"$WARMUP" "$url" >/dev/null
    fi
    busy=$(await_quiet)
    load1=$(cut -d' ' -f1 /proc/loadavg)
    log "round $round: $target (others busy ${busy}% just before; load $load1)"
    # A caller's hook (backends.sh: the database's CPU and statements) around the measured run, the warm-up out.
    if declare -F on_measure >/dev/null; then on_measure begin; fi
    cpu_snapshot before
    env "${vars[@]}" "${wrk[@]}" -d"$DURATION" --latency "$url" >"$out"
    cpu_snapshot after
    if declare -F on_measure >/dev/null; then on_measure end; fi
    line=$(grep '^BENCH ' "$out") || die "no summary from wrk: $(cat "$out")"
    awk -v t="$target" -v r="$round" -v hz="$HZ" -v before="$before" -v after="$after" -v load1="$load1" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        split(before, b, " "); split(after, a, " ")
        total = a[1] - b[1]; servers = a[3] - b[3]
        others = (a[2] - b[2]) - servers - (a[4] - b[4])
        others = others > 0 && total > 0 ? 100 * others / total : 0
        ok = v["requests"] > 0 ? v["rps"] * (v["requests"] - v["non2xx"]) / v["requests"] : 0
        print t, r, v["rps"], int(ok), v["p50_us"], v["p99_us"], v["max_us"], v["non2xx"], v["errors"],
              int(1e6 * servers / hz / v["requests"] + 0.5), int(others + 0.5), load1
    }' <<<"$line" >>"$WORK/results"
}

# median TARGET: the results row of TARGET's median round by successful req/s.
median() {
    awk -v t="$1" '$1 == t' "$WORK/results" | sort -k4,4n | awk '{ row[NR] = $0 } END { print row[int((NR + 1) / 2)] }'
}

# field TARGET N: field N of TARGET's median row.
field() { median "$1" | awk -v n="$2" '{ print $n }'; }

report() {
    local t
    {
        echo "| target | req/s | 2xx req/s | p50 (ms) | p99 (ms) | max (ms) | non-2xx | server CPU/req (µs) | others' CPU | load |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for t in "${TARGETS[@]}"; do
            median "$t" | awk '{ printf "| %s | %d | %d | %.2f | %.2f | %.2f | %d | %d | %d%% | %s |\n",
                                 $1, $3, $4, $5 / 1000, $6 / 1000, $7 / 1000, $8, $10, $11, $12 }'
        done
        echo
        # Each round's ratios, so that the spread between rounds is in view, not only the medians.
        paste <(round_ratios rosterflow-patch baseline-patch) <(round_ratios rosterflow-patch-spread baseline-patch) \
            <(round_ratios rosterflow-get baseline-get) |
            awk '{ printf "round %d: patch %.3f, patch-spread %.3f, get %.3f of bare\n", $1, $2, $4, $6 }'
        echo
        echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (after a ${WARMUP} warm-up); median of $ROUNDS round(s);" \
            "$(nproc) CPUs; Linux $(uname -r); $(date -u +%Y-%m-%dT%H:%MZ); $(git -C "$ROOT" describe --always --dirty 2>/dev/null)."
        echo "server CPU/req: the servers' CPU time per request; others' CPU: the share of all CPUs that processes" \
            "other than the servers and wrk took during the run; load: the 1-minute load average before it."
    } | tee "${BENCH_OUT:-/dev/null}"
}

# round_ratios TARGET BASE: "ROUND RATIO", a line per round in round order: TARGET's 2xx req/s divided by BASE's
# in the same round. Each round measures the two a few seconds apart, so the machine's drift between rounds
# cancels out of the ratio.
round_ratios() {
    awk -v t="$1" -v b="$2" '$1 == t { x[$2] = $4 } $1 == b { y[$2] = $4 }
        END { for (r in x) if (y[r] > 0) print r, x[r] / y[r] }' "$WORK/results" | sort -n
}

# ratio_median TARGET BASE: the median of the rounds' ratios (a ratio of the two targets' separate medians could
# pair a slow round of one with a fast round of the other).
ratio_median() {
    round_ratios "$1" "$2" | sort -k2,2g |
        awk '{ v[NR] = $2 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# verdict: each goal of the issue (the one-flow seed PATCH and the GET) and whether it is met, then the same
# figures for the spread PATCH, a stricter check of our own that no verdict depends on; returns 1 when a goal is
# missed. Throughput counts 2xx answers only; the ratio is the median of the rounds' ratios, p99 and error
# answers those of the target's median round.
verdict() {
    local t base args=()
    for t in rosterflow-patch rosterflow-get rosterflow-patch-spread; do
        base=baseline-patch
        [[ $t == *get ]] && base=baseline-get
        args+=("$t" "$(ratio_median "$t" "$base")" "$(field "$t" 6)" "$(field "$t" 8)")
    done
    printf '%s %s %s %s\n' "${args[@]}" | awk -v ratio="$MIN_RATIO" -v maxp99="$MAX_P99_US" '
        function goal(name, value, want, met) {
            printf "%-42s %-10s (%s %s): %s\n", name, value, kind, want, met ? "met" : "MISSED"
            return met
        }
        $1 == "rosterflow-patch-spread" { print "stricter, not the issue'"'"'s goal: every request writes another flow"; kind = "check" }
        {
            met = goal($1 " 2xx req/s / bare", sprintf("%.3f", $2), ">= " ratio, $2 >= ratio)
            met = goal($1 " p99", sprintf("%.2f ms", $3 / 1000), "<= " maxp99 / 1000 " ms", $3 <= maxp99) && met
            met = goal($1 " non-2xx answers", $4, "0", $4 == 0) && met
            if (kind == "goal") ok = ok && met
        }
        BEGIN { ok = 1; kind = "goal" }
        END { exit !ok }'
}

# create_flows N: N flow sets with one classGroupProvisioningFlow each; prints the flows' paths.
create_flows() {
    local sets=/beta/external/industryData/OutboundProvisioningFlowSets set flow _
    for _ in $(seq "$1"); do
        set=$(api POST "$RF$sets" "$BENCH/create-flowset.json" | created_id)
        flow=$(api POST "$RF$sets/$set/provisioningFlows" "$BENCH/create-flow.json" | created_id)
        [[ -n $set && -n $flow ]] || die "could not create a flow set and flow"
        echo "$sets/$set/provisioningFlows/$flow"
    done
}

main() {
    ensure_wrk
    build
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rosterflow-bench.XXXXXX")
    trap cleanup EXIT
    log "data directory $WORK/data on $(df -T "$WORK" | awk 'NR == 2 { print $2 " (" $1 ")" }')"

    start_server bare204 "$TARGET_DIR/release/examples/bare204" 127.0.0.1:0
    start_server rosterflow env ROSTERFLOW_LOG="$LOG_FILTER" \
        "$TARGET_DIR/release/rosterflow" serve --listen 127.0.0.1:0 --data-dir "$WORK/data"
    BARE=http://$(server_address bare204)
    RF=http://$(server_address rosterflow)
    TOKEN=$("$TARGET_DIR/release/rosterflow" token --data-dir "$WORK/data" --tenant bench --scopes "$SCOPES")

    create_flows "$CONNECTIONS" >"$WORK/spread.paths"
    head -n1 "$WORK/spread.paths" >"$WORK/one.paths"
    local one seed=$BENCH/seed-patch.json
    one=$(cat "$WORK/one.paths")
    api PATCH "$RF$one" "$seed" >/dev/null
    api GET "$RF$one" | grep -q '"code":"substitute"' || die "the seed PATCH did not land"
    log "$CONNECTIONS flows created; the one flow: $one"

    local round
    for round in $(seq "$ROUNDS"); do
        measure baseline-patch "$round" PATCH "$BARE" "$WORK/one.paths" "$seed"
        measure rosterflow-patch "$round" PATCH "$RF" "$WORK/one.paths" "$seed"
        measure rosterflow-patch-spread "$round" PATCH "$RF" "$WORK/spread.paths" "$seed"
        measure rosterflow-get "$round" GET "$RF" "$WORK/one.paths"
        measure baseline-get "$round" GET "$BARE" "$WORK/one.paths"
    done

    echo
    report
    echo
    if verdict; then
        echo "the issue's goals are met"
    elif [[ $ENFORCE == 1 ]]; then
        echo "the issue's goals are missed (BENCH_ENFORCE=1)"
        exit 1
    else
        echo "the issue's goals are missed (set BENCH_ENFORCE=1 to fail on this)"
    fi
}

# Sourced (bench/batch.sh uses the functions above), it runs nothing.
if [[ ${BASH_SOURCE[0]} == "$0" && ${1:-} == backends ]]; then
    exec bash "$BENCH/backends.sh" # SQLite, PostgreSQL and pgbench side by side (issue 14)
elif [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
