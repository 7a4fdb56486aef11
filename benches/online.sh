#!/usr/bin/env bash
# The online table in BENCHMARKS.md: for each kind of change `app migrate diff` generates, the
# longest a concurrent writer waits while the plan runs on a table of ROWS rows (default
# 1,000,000).
#   bash benches/online.sh            (needs a PostgreSQL: DATABASE_URL, else 127.0.0.1:5432;
#                                      pgbench on PATH)
#
# A base database holds `t` (ROWS rows) and `r` (a small table t references). For each change,
# a copy of it is made, the target schema is built in a second, empty database, and the plan
# between them is printed by `app migrate diff`. Two pgbench clients then update and insert
# rows of `t` for SECONDS seconds while, after one second, psql applies the plan (one statement
# at a time, as the plan is meant to run). pgbench's per-transaction log gives the longest
# single write; the plan's own duration and the hazard kinds it declares are printed beside.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
server=${base%/*}
rows=${ROWS:-1000000}
seconds=${SECONDS_PER_CHANGE:-12}
app=${APP:-target/release/app}
work=$(mktemp -d /tmp/pgm-online.XXXXXX)
trap 'rm -rf "$work"; for d in pgm_online_base pgm_online_from pgm_online_to; do psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" 2>/dev/null || true; done' EXIT

log() { printf '==> %s\n' "$*" >&2; }
[ -x "$app" ] || { log "building $app"; cargo build --release --bin app >/dev/null; }

schema="CREATE TYPE state AS ENUM ('new', 'done');
CREATE TABLE r (id int PRIMARY KEY);
CREATE TABLE t (id bigserial PRIMARY KEY, a int, b text, r_id int, s state NOT NULL DEFAULT 'new', code text);"

log "base database with $rows rows"
psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS pgm_online_base WITH (FORCE)" -c "CREATE DATABASE pgm_online_base"
psql -X -q -v ON_ERROR_STOP=1 -d "$server/pgm_online_base" <<SQL
$schema
INSERT INTO r SELECT generate_series(1, 100);
INSERT INTO t (a, b, r_id, code)
  SELECT i % 1000, md5(i::text), i % 100 + 1, 'c' || i FROM generate_series(1, $rows) i;
VACUUM ANALYZE t;
SQL

cat > "$work/write.sql" <<'SQL'
\set id random(1, 1000000)
UPDATE t SET a = a + 1 WHERE id = :id;
INSERT INTO t (a, b, r_id) VALUES (1, 'x', 1);
SQL

# name | the target's change, on top of the base schema
changes=(
  "add a nullable column|ALTER TABLE t ADD COLUMN c int;"
  "add a column with a constant default|ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;"
  "add a column with a volatile default|ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();"
  "add an index|CREATE INDEX t_a ON t (a);"
  "add a unique constraint|ALTER TABLE t ADD CONSTRAINT t_code UNIQUE (code);"
  "add a foreign key|ALTER TABLE t ADD CONSTRAINT t_r FOREIGN KEY (r_id) REFERENCES r (id);"
  "add a check|ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a >= 0);"
  "set not null|ALTER TABLE t ALTER COLUMN a SET NOT NULL;"
  "int to bigint|ALTER TABLE t ALTER COLUMN a TYPE bigint;"
  "drop a column|ALTER TABLE t DROP COLUMN b;"
)

printf '| change | statements | hazards | plan ms | longest write ms | writes |\n|---|---|---|---|---|---|\n'
for entry in "${changes[@]}"; do
  name=${entry%%|*}; change=${entry#*|}
  psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS pgm_online_from WITH (FORCE)" \
    -c "CREATE DATABASE pgm_online_from TEMPLATE pgm_online_base" \
    -c "DROP DATABASE IF EXISTS pgm_online_to WITH (FORCE)" -c "CREATE DATABASE pgm_online_to"
  psql -X -q -v ON_ERROR_STOP=1 -d "$server/pgm_online_to" -c "$schema" -c "$change" >/dev/null
  DATABASE_URL=$base RUST_LOG=error "$app" migrate diff --from "$server/pgm_online_from" \
    --to "$server/pgm_online_to" --format json > "$work/plan.json"
  python3 - "$work/plan.json" "$work/plan.sql" > "$work/meta" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))["changes"]
with open(sys.argv[2], "w") as out:
    for c in plan:
        if not c["sql"].startswith("--"):
            out.write(c["sql"] + ";\n")
kinds = sorted({k for c in plan for k in c.get("hazards", [])})
print(len(plan), ",".join(kinds) or "none")
PY
  read -r statements hazards < "$work/meta"
  rm -f "$work"/pgbench_log*
  (cd "$work" && pgbench -n -c 2 -j 2 -T "$seconds" -l -f write.sql "$server/pgm_online_from" >/dev/null 2>&1) &
  bench=$!
  sleep 1
  start=$(date +%s%N)
  psql -X -q -v ON_ERROR_STOP=1 -d "$server/pgm_online_from" -f "$work/plan.sql" >/dev/null
  plan_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  wait "$bench" || true
  # pgbench -l: client, transaction, latency in microseconds, ...
  read -r longest writes < <(cat "$work"/pgbench_log* | awk '{ if ($3 > m) m = $3; n++ } END { printf "%.0f %d\n", m / 1000, n }')
  printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$statements" "$hazards" "$plan_ms" "$longest" "$writes"
done
