#!/usr/bin/env bash
# Roster validation and snapshot benchmark (docs/benchmarks.md, "Roster validation and snapshots").
# Not part of CI: it needs a quiet machine and a few GB of disk.
#
#   bench/validate.sh                      # 5M enrollments through the CLI, then 600k into SQLite and PostgreSQL
#   GUARDIANS=1 bench/validate.sh          # the big set with guardians, demographics and relationships as well
#   STUDENTS=200000 bench/validate.sh      # a smaller district
#   SKIP_SNAPSHOT=1 bench/validate.sh      # validation only
#   HTTP=1 bench/validate.sh               # also upload + validate over HTTP (see http_hook below)
#   HTTP=1 SKIP_CLI=1 SKIP_SNAPSHOT=1 bench/validate.sh   # only upload + validate over HTTP
#
# PostgreSQL: PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/test); a database of its own is created
# and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

STUDENTS=${STUDENTS:-810000}       # about 5 million enrollment rows
SNAPSHOT_STUDENTS=${SNAPSHOT_STUDENTS:-100000}  # about 600k enrollments (the runs benchmark's district)
WORK=${WORK:-target/bench-validate}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}

cargo build --release -q -p rosterflow-server
[ -n "${SKIP_SNAPSHOT:-}" ] || cargo build --release -q -p rosterflow-engine --example snapshot_load
BIN=target/release/rosterflow
mkdir -p "$WORK"

# The issue's set: 5 million enrollment rows "and the users, classes and orgs they reference" (with the sessions,
# courses and roles those need), so by default without guardians, demographics and relationships, which no
# enrollment references; GUARDIANS=1 measures the whole district (9.7 M rows) instead.
district() { # STUDENTS [--no-guardians] → its folder, generated once
    local dir="$WORK/district-$1${2:+-without-guardians}"
    if [ ! -f "$dir/enrollments.csv" ]; then
        "$BIN" generate --students "$1" --seed 1 ${2:-} "$dir" >&2
    fi
    echo "$dir"
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
big=$(district "$STUDENTS" $([ -n "${GUARDIANS:-}" ] || echo --no-guardians))
enrollments=$(($(wc -l < "$big/enrollments.csv") - 1))
bytes=$(du -cb "$big"/*.csv | tail -1 | cut -f1)
echo "== validate: $enrollments enrollment rows, $((bytes / 1048576)) MiB of CSV in $big"
if [ -z "${SKIP_CLI:-}" ]; then
    sync
    /usr/bin/time -v "$BIN" validate --quiet --timings "$big" > "$WORK/report.txt" 2> "$WORK/time.txt" || true
    head -3 "$WORK/report.txt" | sed 's/^/   /'
    grep ' rows/s$' "$WORK/time.txt" | sed 's/^/   /'
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$WORK/time.txt")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$WORK/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    rows=$(grep -o '^[0-9]* rows in' "$WORK/time.txt" | cut -d' ' -f1)
    awk -v w="$wall" -v c="$cpu" -v e="$enrollments" -v r="$rows" -v rss="$rss" 'BEGIN {
        printf "   whole run: wall %.2f s, CPU %.2f s (%.0f %% of a core); %.2f M enrollment rows/s wall over the whole set; %.2f M rows/s wall, %.2f M rows/s per CPU second over %d rows; peak RSS %.0f MiB\n",
        w, c, 100 * c / w, e / w / 1e6, r / w / 1e6, r / c / 1e6, r, rss / 1024 }'
    echo "   (enrollments.csv alone: the line above it; on a busy machine the process gets a fraction of a core, so"
    echo "    CPU seconds, not wall time, say what the code does)"
fi

if [ -z "${SKIP_SNAPSHOT:-}" ]; then
    small=$(district "$SNAPSHOT_STUDENTS")
    echo "== snapshot loads, SQLite ($small)"
    db="$WORK/snapshot-$$.sqlite3"
    /usr/bin/time -f "   peak RSS %M KiB" target/release/examples/snapshot_load "$small" "$db" 2>&1 | sed 's/^/   /'
    rm -f "$db" "$db"-wal "$db"-shm "${db%.sqlite3}.lock"
    name="rosterflow_bench_$$"
    if psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $name" 2>/dev/null; then
        echo "== snapshot loads, PostgreSQL"
        /usr/bin/time -f "   peak RSS %M KiB" target/release/examples/snapshot_load "$small" "${PG_ADMIN_URL%/*}/$name" 2>&1 | sed 's/^/   /'
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE $name"
    else
        echo "== PostgreSQL not reachable at $PG_ADMIN_URL: skipped"
    fi
fi

# Upload + validate over HTTP: a release `rosterflow serve` (SQLite) on loopback, a data lake connector, the
# district's files uploaded through the session URL by the Data Lake protocol of Microsoft's samples (PUT
# ?resource=file, one PATCH ?action=append streaming the file, PATCH ?action=flush), then POST validate and the
# operation's Location polled until it ends. No inbound flow is bound (FLOW=1 binds one): the figure compares
# with the CLI's, and snapshot loads are measured above.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

http_hook() {
    local dir=$1 data port=${PORT:-18093}
    data=$(mktemp -d "$WORK/serve.XXXXXX")
    "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" > "$data/serve.log" 2>&1 &
    local pid=$!
    trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' RETURN
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 0.1; done
    local token base="http://127.0.0.1:$port/beta/external/industryData"
    token=$("$BIN" token --data-dir "$data" --tenant bench --roles \
        "IndustryData-DataConnector.ReadWrite.All IndustryData-InboundFlow.ReadWrite.All IndustryData-SourceSystem.ReadWrite.All IndustryData-TimePeriod.ReadWrite.All IndustryData.ReadBasic.All")
    local auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
    local source connector session url
    source=$(curl -sf "${auth[@]}" -X POST "$base/sourceSystems" -d '{"displayName":"Bench SIS","userMatchingSettings":[]}' | json_field id)
    connector=$(curl -sf "${auth[@]}" -X POST "$base/dataConnectors" -d "{\"@odata.type\":\"#microsoft.graph.industryData.azureDataLakeConnector\",\"displayName\":\"Bench\",\"fileFormat\":{\"code\":\"schoolDataSyncV2Rev1\"},\"sourceSystem@odata.bind\":\"$base/sourceSystems/$source\"}" | json_field id)
    if [ -n "${FLOW:-}" ]; then
        local year
        year=$(curl -sf "${auth[@]}" -X POST "$base/years" -d '{"displayName":"2025","startDate":"2025-07-01","endDate":"2026-06-30","year":{"code":"2025"}}' | json_field id)
        curl -sf "${auth[@]}" -X POST "$base/inboundFlows" -d "{\"@odata.type\":\"#microsoft.graph.industryData.inboundFileFlow\",\"displayName\":\"Bench\",\"dataDomain\":\"educationRostering\",\"effectiveDateTime\":\"2025-07-01T00:00:00Z\",\"dataConnector@odata.bind\":\"$base/dataConnectors/$connector\",\"year@odata.bind\":\"$base/years/$year\"}" > /dev/null
    fi
    session=$(curl -sf "${auth[@]}" "$base/dataConnectors/$connector/microsoft.graph.industryData.azureDataLakeConnector/getUploadSession")
    url=$(json_field sessionUrl <<< "$session")
    local t0; t0=$(date +%s.%N)
    for f in "$dir"/*.csv; do
        local name size u; name=$(basename "$f"); size=$(stat -c %s "$f")
        u="${url%%\?*}/$name?${url#*\?}"
        curl -sf -X PUT "$u&resource=file" > /dev/null
        curl -sf -X PATCH -T "$f" "$u&action=append&position=0" > /dev/null
        curl -sf -X PATCH "$u&action=flush&position=$size" > /dev/null
    done
    local t1; t1=$(date +%s.%N)
    local cpu0; cpu0=$(cpu_seconds "$pid")
    local op; op=$(curl -sf -D - -o /dev/null "${auth[@]}" -X POST "$base/dataConnectors/$connector/validate" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    local body
    until body=$(curl -sf "${auth[@]}" "$op") && grep -q '"status":"\(succeeded\|failed\)"' <<< "$body"; do sleep 0.2; done
    local t2; t2=$(date +%s.%N)
    local cpu1; cpu1=$(cpu_seconds "$pid")
    local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v bytes="$bytes" -v e="$enrollments" -v rss="$rss" -v cpu="$(awk -v x="$cpu0" -v y="$cpu1" 'BEGIN {print y - x}')" 'BEGIN {
        printf "   upload (Data Lake append, one request per file): %.2f s, %.0f MiB/s\n", b - a, bytes / 1048576 / (b - a)
        printf "   validate (POST to succeeded, polled every 0.2 s): %.2f s wall, %.2f s of server CPU (%.0f %% of a core); %.2f M enrollment rows/s wall; server peak RSS %.0f MiB\n",
            c - b, cpu, 100 * cpu / (c - b), e / (c - b) / 1e6, rss / 1024 }'
    python3 -c 'import json, sys; o = json.loads(sys.argv[1]); print("   operation:", o["status"], "-", o["statusDetail"], "-", len(o["errors"]), "error groups,", len(o["warnings"]), "warning groups")' "$body"
}

if [ -n "${HTTP:-}" ]; then
    echo "== upload + validate over HTTP"
    http_hook "$big"
fi
