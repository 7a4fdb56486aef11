#!/usr/bin/env bash
# A rolling update on this machine, for BENCHMARKS.md: release N serves a steady read and write
# load on a table of ROWS rows (default 1,000,000) while release N+1 boots with `--migrate`,
# carrying an expand step (a new column) and a contract step (a column N reads and writes,
# dropped, marked `-- contract`).
#   bash benches/rolling.sh       (needs a PostgreSQL: DATABASE_URL, else 127.0.0.1:5432;
#                                  pgbench and curl on PATH; builds release N+1 once)
#
# Release N's replicas are two pgbench clients on the same tables (RATE transactions/s each,
# default 100: 200/s in all), connected as release N's replicas name themselves
# (`app head=2 (…)`). Three runs, each on a fresh copy of the loaded database:
#   rollout   N+1 boots while N serves: the expand is applied, the contract held back, and
#             N+1 is ready; N's replicas stop, and the contract follows (`migrate up`).
#   rollback  the same boot, then N+1 is stopped and N's binary reverts what N+1 applied
#             (`migrate down head`, from the undo recorded with it) while N still serves.
#   unguarded N+1's migrations applied with `migrate up --contract` while N serves: what the
#             guard prevents.
# For each: N's transactions, the clients aborted by an error (pgbench stops a client at its
# first failed statement), the time N+1 took to answer /readyz 200, and the versions after.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
server=${base%/*}
rows=${ROWS:-1000000}
seconds=${SECONDS_PER_RUN:-20}
rate=${RATE:-100}
port=${PORT:-18431}
work=$(mktemp -d /tmp/pgm-rolling.XXXXXX)
dbs=(pgm_rolling_base pgm_rolling)
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  for d in "${dbs[@]}"; do
    psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '==> %s\n' "$*" >&2; }

log "release N: this checkout's sql/"
cargo build --release --bin app >/dev/null 2>&1
cp target/release/app "$work/app-n"
log "release N+1: the same, an expand step and a contract step"
mkdir "$work/sql"
cp sql/*.sql "$work/sql/"
printf 'ALTER TABLE users ADD COLUMN display_name text;\n' > "$work/sql/V3__add_display_name.sql"
printf 'ALTER TABLE users DROP COLUMN display_name;\n' > "$work/sql/U3__add_display_name.sql"
printf -- '-- contract: release N reads and writes users.hashed_password\n-- lint: allow ban-drop-column -- release N+1 no longer reads it\nALTER TABLE users DROP COLUMN hashed_password;\n' \
  > "$work/sql/V4__drop_hashed_password.sql"
printf 'ALTER TABLE users ADD COLUMN hashed_password varchar(255);\n' > "$work/sql/U4__drop_hashed_password.sql"
APP_SQL_DIR="$work/sql" cargo build --release --bin app >/dev/null 2>&1
cp target/release/app "$work/app-n1"
# target/release/app is this checkout's again.
cargo build --release --bin app >/dev/null 2>&1

log "release N's database with $rows users"
psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS pgm_rolling_base WITH (FORCE)" -c "CREATE DATABASE pgm_rolling_base"
RUST_LOG=error DATABASE_URL="$server/pgm_rolling_base" "$work/app-n" migrate up >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$server/pgm_rolling_base" <<SQL
INSERT INTO users (username, email, hashed_password)
  SELECT 'u' || i, 'u' || i || '@example.com', md5(i::text) FROM generate_series(1, $rows) i;
VACUUM ANALYZE users;
SQL
cat > "$work/n.sql" <<SQL
\set id random(1, $rows)
SELECT username, email, hashed_password FROM users WHERE id = :id;
UPDATE users SET hashed_password = md5(random()::text), updated_at = now() WHERE id = :id;
SQL

fresh() {
  psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS pgm_rolling WITH (FORCE)" \
    -c "CREATE DATABASE pgm_rolling TEMPLATE pgm_rolling_base"
}
# Release N's traffic in the background; its output in $work/pgbench-$1.
traffic() {
  PGAPPNAME="app head=2 (pgbench)" pgbench -n -c 2 -j 2 -R $((rate * 2)) -T "$seconds" \
    -f "$work/n.sql" "$server/pgm_rolling" > "$work/pgbench-$1" 2>&1 &
  traffic_pid=$!
}
boot_n1() {
  local started=$(date +%s%N)
  RUST_LOG=warn DATABASE_URL="$server/pgm_rolling" "$work/app-n1" --migrate --listen "127.0.0.1:$port" \
    2> "$work/n1-$1.log" &
  server_pid=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/readyz")" = 200 ]; do
    kill -0 "$server_pid" 2>/dev/null || { log "N+1 exited: $(tail -3 "$work/n1-$1.log")"; exit 1; }
    [ $(( ($(date +%s%N) - started) / 1000000000 )) -lt 120 ] || { log "N+1 never became ready"; exit 1; }
    sleep 0.05
  done
  ready_ms=$(( ($(date +%s%N) - started) / 1000000 ))
}
stop_n1() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }
versions() { psql -X -At -d "$server/pgm_rolling" -c "SELECT string_agg('V' || version, ',' ORDER BY version) FROM refinery_schema_history"; }
report() {
  local processed aborted
  processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench-$1")
  aborted=$(grep -c 'aborted in command' "$work/pgbench-$1" || true)
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "${processed:-0}" "$aborted" "$2" "$3" "$4"
}

printf '| run | N transactions | N clients aborted | N+1 ready (ms) | versions after | held back at boot |\n|---|---|---|---|---|---|\n'

fresh
traffic rollout
sleep 2
boot_n1 rollout
held=$(grep -c 'holding back V4__drop_hashed_password' "$work/n1-rollout.log" || true)
wait "$traffic_pid" || true
stop_n1
during=$(versions)
RUST_LOG=error DATABASE_URL="$server/pgm_rolling" "$work/app-n1" migrate up >/dev/null
report rollout "$ready_ms" "$during, then $(versions) once N is gone" "$held"

fresh
traffic rollback
sleep 2
boot_n1 rollback
held=$(grep -c 'holding back V4__drop_hashed_password' "$work/n1-rollback.log" || true)
stop_n1
RUST_LOG=error DATABASE_URL="$server/pgm_rolling" "$work/app-n" migrate down head >/dev/null
wait "$traffic_pid" || true
report rollback "$ready_ms" "$(versions) (N's down head)" "$held"

fresh
traffic unguarded
sleep 2
RUST_LOG=error DATABASE_URL="$server/pgm_rolling" "$work/app-n1" migrate up --contract >/dev/null
wait "$traffic_pid" || true
report unguarded "-" "$(versions)" "-"
