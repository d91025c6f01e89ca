#!/usr/bin/env bash
# 100k users through $batch into an empty directory (the `batch` step of bench/directory.sh alone, without its
# 100k-user load first): wall time, the server's CPU and PostgreSQL's (every postgres process) per user, load.
# docs/benchmarks.md, "$batch", "Writes (helper write)". Needs the release build:
#   cargo build --release -p rosterflow-server --bin rosterflow --example directory_bench
# Usage: bench/pg-batch-load.sh            (PostgreSQL: a database created beside BENCH_PG_URL's, dropped after)
#        SQLITE=1 bench/pg-batch-load.sh   (the same on SQLite, as a yardstick for the machine's load)
# USERS [100000], IN_FLIGHT [8] batches in flight.
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release}
ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
DB=rf_batch_$$
URL=${ADMIN%/*}/$DB
USERS=${USERS:-100000}; IN_FLIGHT=${IN_FLIGHT:-8}
HZ=$(getconf CLK_TCK)
ticks() { local t=0; for pid in $(pgrep -x postgres); do read -ra s <<<"$(sed 's/^.*) //' /proc/$pid/stat 2>/dev/null)" || continue; ((${#s[@]}>14)) || continue; t=$((t+s[11]+s[12]+s[13]+s[14])); done; echo $t; }
ptick() { read -ra s <<<"$(sed 's/^.*) //' /proc/$1/stat)"; echo $((s[11]+s[12])); }
WORK=$(mktemp -d)
DBARGS=(--database-url "$URL")
[[ -n ${SQLITE:-} ]] && DBARGS=()
psql -q $ADMIN -c "CREATE DATABASE $DB" >/dev/null
"$BIN/rosterflow" serve --listen 127.0.0.1:0 --data-dir "$WORK" "${DBARGS[@]}" >"$WORK/out" 2>"$WORK/err" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; psql -q $ADMIN -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; rm -rf $WORK' EXIT
for i in $(seq 100); do ADDR=$(awk "/^listening on http:\\/\\// { sub(/^listening on http:\\/\\//, \"\"); print \$1; exit }" "$WORK/out"); [ -n "$ADDR" ] && break; sleep 0.2; done
TOKEN=$("$BIN/rosterflow" token --data-dir "$WORK" --tenant bench-batch --roles "User.ReadWrite.All")
"$BIN/examples/directory_bench" batch "http://$ADDR" "$TOKEN" 2000 "$IN_FLIGHT" >/dev/null # warm-up
l0=$(cut -d' ' -f1 /proc/loadavg); s0=$(ptick $SRV); d0=$(ticks)
line=$("$BIN/examples/directory_bench" batch "http://$ADDR" "$TOKEN" "$USERS" "$IN_FLIGHT")
s1=$(ptick $SRV); d1=$(ticks)
echo "$line; server CPU $(( (s1-s0)*1000000/HZ/USERS )) µs/user, PostgreSQL CPU $(( (d1-d0)*1000000/HZ/USERS )) µs/user; load $l0 -> $(cut -d' ' -f1 /proc/loadavg)"
