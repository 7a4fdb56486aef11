#!/usr/bin/env bash
# The fleet figures in BENCHMARKS.md: `app migrate up --targets FILE --parallel 8` against a
# shell loop of `app migrate up` over the same fresh databases (the way Flyway is run over a
# fleet), paired in one run, for 60 and 200 databases; the peak of migrating connections on the
# server during the fleet run; and a fleet-wide `check` of 200 databases at head.
#   bash benches/fleet.sh            (needs PostgreSQL's binaries: initdb, pg_ctl, psql)
#
# Runs on a private cluster of its own (fsync off unless DURABLE=1, max_connections 300) on
# port PORT (default 55433), removed at the end. Each size runs RUNS times (default 3), loop and fleet alternating,
# every run on databases created fresh for it (then a CHECKPOINT); the medians are reported
# with their ratio. The peak of connections comes from one more, untimed, fleet run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
port=${PORT:-55433}
sizes=${SIZES:-60 200}
parallel=${PARALLEL:-8}

log() { printf '==> %s\n' "$*" >&2; }
ms() { date +%s%N | cut -c1-13; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

cargo build --release --locked --bin app >/dev/null
app=$PWD/target/release/app

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || bindir=$(dirname "$(command -v initdb)")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
dir=$(mktemp -d /tmp/app-fleet-bench.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres "$dir"
log "private cluster in $dir on port $port"
as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
# DURABLE=1: a server as production runs it (fsync, synchronous commit), where every commit
# waits for its WAL flush, which a fleet overlaps and a loop cannot.
if [ "${DURABLE:-0}" = 1 ]; then speed=""; else speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
  "-p $port -k $dir -c listen_addresses=127.0.0.1 $speed -c max_connections=300" \
  start >/dev/null
trap 'as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
server=postgres://postgres@127.0.0.1:$port
psql_admin() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d "$server/postgres" "$@"; }

fresh() { # count: drops and creates bench_0 … bench_{count-1}, writes $dir/targets
  local count=$1 i
  : >"$dir/targets"
  for i in $(seq 0 $((count - 1))); do
    echo "DROP DATABASE IF EXISTS bench_$i; CREATE DATABASE bench_$i;"
    echo "$server/bench_$i" >>"$dir/targets"
  done | psql_admin >/dev/null
  # Settle what CREATE DATABASE left to the checkpointer, so that it runs in neither timing.
  psql_admin -c CHECKPOINT >/dev/null
  sleep 1
}

run_loop() {
  while read -r url; do
    RUST_LOG=error DATABASE_URL=$url "$app" migrate up >/dev/null
  done <"$dir/targets"
}
run_fleet() { RUST_LOG=error "$app" migrate up --targets "$dir/targets" --parallel "$parallel" >/dev/null; }

# Peak migrating connections: one psql polls pg_stat_activity every 5 ms while the fleet runs.
sample_start() {
  yes "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'app migrate%'; SELECT pg_sleep(0.005);" \
    | psql -X -At -d "$server/postgres" 2>/dev/null | grep --line-buffered -v '^$' >"$dir/samples" &
  sampler=$!
}
sample_stop() { kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sort -n "$dir/samples" | tail -1; }

for n in $sizes; do
  loop_times=() fleet_times=()
  for r in $(seq "$runs"); do
    fresh "$n"; t=$(ms); run_loop; loop_times+=($(( $(ms) - t )))
    fresh "$n"; t=$(ms); run_fleet; fleet_times+=($(( $(ms) - t )))
    log "$n databases, run $r: loop ${loop_times[-1]} ms, fleet ${fleet_times[-1]} ms"
  done
  # The peak in a run of its own: the sampler's polling would slow a timed one.
  fresh "$n"; sample_start; run_fleet; peak=$(sample_stop)
  loop_ms=$(printf '%s\n' "${loop_times[@]}" | median)
  fleet_ms=$(printf '%s\n' "${fleet_times[@]}" | median)
  echo "$n fresh databases: shell loop median ${loop_ms} ms (${loop_times[*]}), --parallel $parallel median ${fleet_ms} ms (${fleet_times[*]})"
  awk -v f="$fleet_ms" -v l="$loop_ms" -v n="$n" 'BEGIN { printf "  ratio fleet/loop at %d: %.3f\n", n, f / l }'
  echo "  peak migrating connections on the server: $peak (bound: $((parallel + 1)))"
done

# A fleet-wide check of databases at head (the last size's, just migrated).
check_times=()
for _ in 1 2 3 4 5; do
  t=$(ms); RUST_LOG=error "$app" migrate check --targets "$dir/targets" >/dev/null; check_times+=($(( $(ms) - t )))
done
count=$(wc -l <"$dir/targets")
echo "check --targets over $count databases at head: median $(printf '%s\n' "${check_times[@]}" | median) ms (${check_times[*]})"
