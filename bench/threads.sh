#!/usr/bin/env bash
# Per-thread CPU of a running server while a command runs (a load generator, usually): user and system time of
# each of its threads (tokio workers, the SQLite writer, ...), in total and, when the command prints the
# `BENCH requests=N ...` line of bench/request.lua, per request.
#
# Usage: bench/threads.sh PID COMMAND [ARG...]
# e.g.   bench/threads.sh "$(pgrep -f 'rosterflow serve')" env BENCH_METHOD=PATCH BENCH_TOKEN=... \
#            BENCH_BODY_FILE=bench/seed-patch.json wrk -t1 -c32 -d8s -s bench/request.lua http://HOST/PATH
set -euo pipefail
(($# >= 2)) || { sed -n '2,9p' "$0" >&2; exit 2; }
readonly PID=$1
shift
[[ -d /proc/$PID/task ]] || { echo "no process $PID" >&2; exit 2; }

# snapshot: "TID NAME UTIME STIME" (clock ticks) for each thread; the name is the part of stat between ( and ).
snapshot() {
    local task stat
    for task in /proc/"$PID"/task/*; do
        stat=$(<"$task/stat") || continue
        local rest=${stat##*) }
        read -ra f <<<"$rest" # from field 3 on: utime and stime are fields 14 and 15
        printf '%s %s %s %s\n' "${task##*/}" "$(tr ' ' '_' <"$task/comm")" "${f[11]}" "${f[12]}"
    done
}

before=$(snapshot)
out=$("$@")
after=$(snapshot)
printf '%s\n' "$out"
requests=$(grep -o 'requests=[0-9]*' <<<"$out" | head -n1 | cut -d= -f2 || true)
join <(sort <<<"$before") <(sort <<<"$after") | awk -v hz="$(getconf CLK_TCK)" -v n="${requests:-0}" '
    function line(name, u, s) {
        printf "%-20s user %8.0f ms  sys %8.0f ms", name, u, s
        if (n > 0) printf "  (%6.1f + %6.1f us/request)", 1000 * u / n, 1000 * s / n
        print ""
    }
    { u = ($6 - $3) * 1000 / hz; s = ($7 - $4) * 1000 / hz; tu += u; ts += s; line($2, u, s) }
    END { line("all threads", tu, ts) }'
