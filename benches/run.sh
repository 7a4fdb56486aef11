#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md in one run:
#   bash benches/run.sh            (needs a PostgreSQL: DATABASE_URL, else 127.0.0.1:5432)
#
# 1. generates the N=50 and N=300 migration sets (a table, an index, ten rows each);
# 2. builds `app` in release with each set embedded (APP_SQL_DIR), keeping each binary;
# 3. runs `cargo bench --bench test_db` and `cargo bench --bench apply`;
# 4. times an incremental `cargo build` after adding one .sql file against one after no change.
# Results go to stdout and target/bench/results.md; the plot to benches/apply.svg.
# `bash benches/run.sh apply` stops after the apply bench (apply, no-op boot, round trips,
# memory): about 10 minutes instead of 25.
set -euo pipefail
only=${1:-all}
cd "$(dirname "$0")/.."
out=target/bench
mkdir -p "$out"
results="$out/results.md"
: > "$results"

log() { printf '==> %s\n' "$*" >&2; }

cargo build --release --bench apply --bin app >/dev/null
apply_bin=$(ls -t target/release/deps/apply-* | grep -v '\.d$' | head -1)

for n in 50 300; do
  dir="$out/sql$n"
  rm -rf "$dir"
  "$apply_bin" generate "$dir" "$n"
  log "building app with $n generated migrations embedded"
  APP_SQL_DIR="$dir" cargo build --release --bin app >/dev/null
  cp target/release/app "$out/app-$n"
  export "APP_BENCH_APP_$n=$PWD/$out/app-$n" "APP_BENCH_SQL_$n=$PWD/$dir"
done
log "rebuilding app with sql/"
cargo build --release --bin app >/dev/null

if [ "$only" = apply ]; then
  log "cargo bench --bench apply"
  cargo bench --bench apply | tee -a "$results"
  log "results in $results"
  exit 0
fi
log "cargo bench --bench test_db"
cargo bench --bench test_db | tee -a "$results"
log "cargo bench --bench apply"
cargo bench --bench apply | tee -a "$results"

# build.rs itself (dev profile, as compiled for developers) on 1000 generated files, with the
# SQL checks off and on: the scan/render target is 50 ms.
scan_dir="$out/sql1000"
rm -rf "$scan_dir"; "$apply_bin" generate "$scan_dir" 1000
cargo build --bin app >/dev/null 2>&1
build_script=$(ls -t target/debug/build/app-*/build-script-build | head -1)
mkdir -p "$out/build-script-out"
time_build_script() {
  local best=999999 t0 t1 i
  for i in 1 2 3 4 5; do
    t0=$(date +%s%N)
    CARGO_MANIFEST_DIR=$PWD OUT_DIR="$out/build-script-out" APP_SQL_DIR="$PWD/$scan_dir" \
      APP_SQL_LINT="$1" "$build_script" >/dev/null
    t1=$(date +%s%N)
    local ms=$(( (t1 - t0) / 1000000 ))
    [ "$ms" -lt "$best" ] && best=$ms
  done
  echo "$best"
}
{
  echo
  echo "## build.rs on 1000 files (dev profile, best of 5)"
  echo "| checks | ms |"
  echo "|---|---|"
  echo "| scan + render only (APP_SQL_LINT=off) | $(time_build_script off) |"
  echo "| scan + render + squawk parse and lint (default) | $(time_build_script '') |"
} | tee -a "$results"

# Incremental builds: nothing changed, then one .sql file added (dev profile, as developers build).
ms() { date +%s%N | cut -c1-13; }
cargo build --bin app >/dev/null 2>&1
t0=$(ms); cargo build --bin app >/dev/null 2>&1; t1=$(ms)
printf -- '-- no-op\nSELECT 1;\n' > sql/V999999__bench_probe.sql
t2=$(ms); cargo build --bin app >/dev/null 2>&1; t3=$(ms)
rm sql/V999999__bench_probe.sql
cargo build --bin app >/dev/null 2>&1
{
  echo
  echo "## incremental cargo build (dev profile)"
  echo "| change | ms |"
  echo "|---|---|"
  echo "| nothing | $((t1 - t0)) |"
  echo "| one .sql file added | $((t3 - t2)) |"
} | tee -a "$results"
log "results in $results"
