#!/usr/bin/env bash
# The schema-diff speed figure in BENCHMARKS.md: `app migrate diff` between two databases of
# 300 tables each, beside migra on the same pair, in one run.
#   bash benches/diff.sh            (needs a PostgreSQL: DATABASE_URL, else 127.0.0.1:5432;
#                                    migra on PATH or MIGRA=/path/to/migra, else app alone)
#
# Each table has a bigserial key, six columns of several types, a foreign key to the table
# before it, a check, an index and a comment; 30 views and 30 functions sit on top. The second
# database differs on every tenth table (a column added, a type widened, an index dropped, a
# new check) and has five tables more. Each command runs RUNS times (default 7), alternating,
# and the median wall time is reported with the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
server=${base%/*}
runs=${RUNS:-7}
migra=${MIGRA:-$(command -v migra || true)}
a=pgm_bench_diff_a b=pgm_bench_diff_b

log() { printf '==> %s\n' "$*" >&2; }

cargo build --release --bin app >/dev/null
app=target/release/app

make_db() { # name changed?
  psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
  psql -X -q -v ON_ERROR_STOP=1 -d "$server/$1" -c "CREATE TYPE state AS ENUM ('new', 'active', 'closed')"
  psql -X -q -v ON_ERROR_STOP=1 -d "$server/$1" <<SQL
DO \$\$
DECLARE
  changed boolean := $2;
  extra int := CASE WHEN $2 THEN 5 ELSE 0 END;
BEGIN
  FOR i IN 1..300 + extra LOOP
    EXECUTE format('CREATE TABLE t%s (id bigserial PRIMARY KEY, name varchar(80) NOT NULL, '
      'amount %s, created_at timestamptz NOT NULL DEFAULT now(), status state NOT NULL DEFAULT %L, '
      'note text, parent_id bigint %s %s)',
      i, CASE WHEN changed AND i % 10 = 0 THEN 'numeric(14,2)' ELSE 'numeric(12,2)' END, 'new',
      CASE WHEN i > 1 THEN format('REFERENCES t%s (id)', i - 1) ELSE '' END,
      CASE WHEN changed AND i % 10 = 1 THEN ', archived boolean NOT NULL DEFAULT false' ELSE '' END);
    EXECUTE format('ALTER TABLE t%s ADD CONSTRAINT t%s_amount_positive CHECK (amount >= 0)', i, i);
    IF changed AND i % 10 = 2 THEN
      EXECUTE format('ALTER TABLE t%s ADD CONSTRAINT t%s_name_nonempty CHECK (name <> %L)', i, i, '');
    END IF;
    IF NOT (changed AND i % 10 = 3) THEN
      EXECUTE format('CREATE INDEX t%s_created_at ON t%s (created_at)', i, i);
    END IF;
    EXECUTE format('COMMENT ON TABLE t%s IS %L', i, 'table ' || i);
  END LOOP;
  FOR i IN 1..30 LOOP
    EXECUTE format('CREATE VIEW v%s AS SELECT id, name, amount FROM t%s WHERE status = %L', i, i * 10, 'active');
    EXECUTE format('CREATE FUNCTION f%s(x bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS %L', i,
                   format('SELECT x + %s', i));
  END LOOP;
END
\$\$;
SQL
}

log "building $a (300 tables) and $b (305, every tenth changed)"
make_db "$a" false
make_db "$b" true

run_app() { RUST_LOG=error DATABASE_URL="$base" "$app" migrate diff --from "$server/$a" --to "$server/$b" >/dev/null; }
# SQLAlchemy knows the scheme as postgresql:// only.
migra_server=postgresql://${server#*://}
run_migra() { "$migra" --unsafe "$migra_server/$a" "$migra_server/$b" >/dev/null || [ $? -eq 2 ]; }
ms() { date +%s%N | cut -c1-13; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# Warm both (connections, catalogs in the server's cache), then alternate.
run_app; [ -n "$migra" ] && run_migra
app_times=() migra_times=()
for _ in $(seq "$runs"); do
  t=$(ms); run_app; app_times+=($(( $(ms) - t )))
  if [ -n "$migra" ]; then t=$(ms); run_migra; migra_times+=($(( $(ms) - t ))); fi
done
app_ms=$(printf '%s\n' "${app_times[@]}" | median)
echo "app migrate diff, 300 vs 305 tables: median ${app_ms} ms of $runs (${app_times[*]})"
if [ -n "$migra" ]; then
  migra_ms=$(printf '%s\n' "${migra_times[@]}" | median)
  echo "migra --unsafe, same pair:           median ${migra_ms} ms of $runs (${migra_times[*]})"
  awk -v a="$app_ms" -v m="$migra_ms" 'BEGIN { printf "ratio app/migra: %.3f\n", a / m }'
else
  echo "migra not found (pip install migra, or MIGRA=/path): app alone"
fi
# The plan must turn a into b: applied to a copy of a, the diff back to b is empty.
psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS ${a}_applied" -c "CREATE DATABASE ${a}_applied TEMPLATE $a" 2>/dev/null
RUST_LOG=error DATABASE_URL="$base" "$app" migrate diff --from "$server/$a" --to "$server/$b" \
  | psql -X -q -v ON_ERROR_STOP=1 -d "$server/${a}_applied" >/dev/null
left=$(RUST_LOG=error DATABASE_URL="$base" "$app" migrate diff --from "$server/${a}_applied" --to "$server/$b")
case "$left" in "" | "-- no differences"*) echo "the plan reaches $b exactly" ;; *) echo "left after the plan:"; echo "$left"; exit 1 ;; esac
psql -X -q -d "$base" -c "DROP DATABASE ${a}_applied"
# KEEP=1 leaves the pair for profiling.
[ "${KEEP:-0}" = 1 ] || psql -X -q -d "$base" -c "DROP DATABASE $a" -c "DROP DATABASE $b"
