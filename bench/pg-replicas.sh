#!/usr/bin/env bash
# One vs two rosterflow replicas on one PostgreSQL database, the seed PATCH to one of 200 flows at random
# (wrk, 16 connections in all): req/s, PostgreSQL transactions per PATCH (pg_stat_database), CPU per PATCH of
# this database's own backends (not every postgres process, unlike bench/backends.sh) and of the replicas.
# docs/benchmarks.md, "PostgreSQL", "Writes (helper write)". Needs the release build of rosterflow.
# Runs, twice: one replica; two replicas writing all flows at random; two replicas writing disjoint halves of
# the flows (no replica ever finds the other's write: what routing an item's writes to one replica gives).
# Usage: bench/pg-replicas.sh   (D [6] seconds a run)
set -uo pipefail
B=$(cd "$(dirname "$0")" && pwd); BIN=${BIN:-$B/../target/release}
ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}; DB=rf_replicas_$$; URL=${ADMIN%/*}/$DB
WORK=$(mktemp -d); HZ=$(getconf CLK_TCK); D=${D:-6}
psql -q $ADMIN -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" 2>/dev/null
start() { "$BIN/rosterflow" serve --listen 127.0.0.1:0 --data-dir "$WORK/d" --database-url "$URL" >"$WORK/$1" 2>&1 & echo $!; }
addr() { for i in $(seq 150); do a=$(awk '/^listening on http:\/\// { sub(/^listening on http:\/\//, ""); print $1; exit }' "$WORK/$1"); [ -n "$a" ] && { echo $a; return; }; sleep 0.2; done; }
P1=$(start s1); A1=$(addr s1); P2=$(start s2); A2=$(addr s2)
trap 'kill $P1 $P2; wait $P1 $P2 2>/dev/null; psql -q $ADMIN -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; rm -rf $WORK' EXIT
TOKEN=$("$BIN/rosterflow" token --data-dir "$WORK/d" --tenant bench --scopes IndustryData-OutboundFlow.ReadWrite.All)
api() { curl -sS -o "$WORK/resp" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" ${3:+-H "Content-Type: application/json" --data-binary "@$3"} "$2" >/dev/null; grep -o '"id":"[^"]*"' $WORK/resp | head -1 | cut -d'"' -f4; }
S=/beta/external/industryData/OutboundProvisioningFlowSets
for i in $(seq 200); do set=$(api POST "http://$A1$S" $B/create-flowset.json); f=$(api POST "http://$A1$S/$set/provisioningFlows" $B/create-flow.json); echo "$S/$set/provisioningFlows/$f"; done >$WORK/paths
dbcpu() { local t=0; for pid in $(psql -Atq $ADMIN -c "select pid from pg_stat_activity where datname='$DB'"); do read -ra s <<<"$(sed 's/^.*) //' /proc/$pid/stat 2>/dev/null)" || continue; t=$((t+s[11]+s[12])); done; echo $t; }
xacts() { psql -Atq $ADMIN -c "select xact_commit + xact_rollback from pg_stat_database where datname='$DB'"; }
pcpu() { read -ra s <<<"$(sed 's/^.*) //' /proc/$1/stat)"; echo $((s[11]+s[12])); }
run() { # NAME URL...
  local name=$1; shift; local n=$# c=$((16 / $#)) i
  i=0; for u in "$@"; do i=$((i+1)); pf=$WORK/paths; [ -n "${SPLIT:-}" ] && pf=$WORK/paths$i; BENCH_METHOD=PATCH BENCH_BODY_FILE=$B/seed-patch.json BENCH_TOKEN=$TOKEN BENCH_PATHS_FILE=$pf BENCH_RANDOM=1 wrk -t1 -c$c -d1s -s $B/request.lua "$u$(head -1 $WORK/paths)" >/dev/null & done; wait %?wrk 2>/dev/null; sleep 1.2
  local c0 x0 r0 s0; c0=$(dbcpu); x0=$(xacts); r0=$(( $(pcpu $P1) + $(pcpu $P2) )); i=0
  for u in "$@"; do i=$((i+1)); pf=$WORK/paths; [ -n "${SPLIT:-}" ] && pf=$WORK/paths$i; BENCH_METHOD=PATCH BENCH_BODY_FILE=$B/seed-patch.json BENCH_TOKEN=$TOKEN BENCH_PATHS_FILE=$pf BENCH_RANDOM=1 wrk -t1 -c$c -d${D}s --latency -s $B/request.lua "$u$(head -1 $WORK/paths)" >$WORK/w$i & done
  wait $(jobs -p | grep -v -e $P1 -e $P2) 2>/dev/null
  local c1 x1 r1; c1=$(dbcpu); x1=$(xacts); r1=$(( $(pcpu $P1) + $(pcpu $P2) ))
  local req=0 bad=0; for f in $WORK/w*; do r=$(grep -o 'requests=[0-9]*' $f | cut -d= -f2); b=$(grep -o 'non2xx=[0-9]*' $f | cut -d= -f2); req=$((req+r)); bad=$((bad+${b:-0})); done
  echo "$name: $((req / D)) req/s ($bad non-2xx), $(awk -v x=$((x1-x0)) -v n=$req 'BEGIN{printf "%.2f", x/n}') transactions/PATCH, PG backends $(( (c1-c0)*1000000/HZ/req )) µs/PATCH, rosterflow $(( (r1-r0)*1000000/HZ/req )) µs/PATCH, load $(cut -d' ' -f1 /proc/loadavg)"
  rm -f $WORK/w*
}
head -100 $WORK/paths >$WORK/paths1; tail -100 $WORK/paths >$WORK/paths2
run one-replica "http://$A1"
run two-replicas "http://$A1" "http://$A2"
SPLIT=1 run two-replicas-disjoint-flows "http://$A1" "http://$A2"
run one-replica "http://$A1"
SPLIT=1 run two-replicas-disjoint-flows "http://$A1" "http://$A2"
