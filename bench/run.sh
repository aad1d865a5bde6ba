#!/usr/bin/env bash
# Load benchmark of kasir on SQLite and PostgreSQL (README: Benchmarks).
#
#   bash bench/run.sh           # full run: release build, 100,000-order history,
#                               # 10 s per endpoint; writes bench/results.md
#   bash bench/run.sh --smoke   # CI: debug build, small history, 2 s per
#                               # endpoint; same checks, results in target/
#
# Environment: BENCH_BACKENDS ("sqlite postgres"), BENCH_DURATION (seconds),
# KASIR_BIN (a built kasir to use instead of building), BENCH_OUT (where the
# Markdown goes), POSTGRES_URL, PERF_FLOOR_DIR (the bare stack, default
# ../shared/perf-floor), BENCH_FLOOR (1: also in a smoke run; 0: never).
#
# The full run first loads the floor app (actix-web + one diesel query +
# one askama page, release) the same way, and reports kasir's throughput
# as a ratio to it: a figure that holds on any machine.
# Fails when an invariant does not hold after the webhook run, or when an
# endpoint answers errors. Speed targets are reported, not enforced.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

MODE=full
[ "${1:-}" = "--smoke" ] && MODE=smoke
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
THREADS=2
CONNECTIONS=64
STAFF_CONNECTIONS=1
if [ "$MODE" = full ]; then
  DURATION=${BENCH_DURATION:-10}
  SEED=(--courses 1000 --users 10000 --orders 100000 --pending 40000 --carts 2000)
  LOGINS=2000
  PROFILE=release
  OUT=${BENCH_OUT:-bench/results.md}
else
  DURATION=${BENCH_DURATION:-2}
  SEED=(--courses 60 --users 500 --orders 3000 --pending 3000 --carts 50)
  LOGINS=50
  PROFILE=debug
  OUT=${BENCH_OUT:-$CARGO_TARGET_DIR/bench-smoke.md}
fi

command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
if [ -z "${KASIR_BIN:-}" ]; then
  step "building kasir ($PROFILE)"
  if [ "$PROFILE" = release ]; then cargo build --release --locked --quiet --features bench; else cargo build --locked --quiet --features bench; fi
  KASIR_BIN=$CARGO_TARGET_DIR/$PROFILE/kasir
fi

FLOOR_DIR=${PERF_FLOOR_DIR:-$ROOT/../shared/perf-floor}
FLOOR=${BENCH_FLOOR:-$([ "$MODE" = full ] && echo 1 || echo 0)}
if [ "$FLOOR" = 1 ] && [ ! -f "$FLOOR_DIR/Cargo.toml" ]; then
  echo "no floor app at $FLOOR_DIR (PERF_FLOOR_DIR): ratios are not reported" >&2
  FLOOR=0
fi
if [ "$FLOOR" = 1 ]; then
  step "building the floor app (release)"
  FLOOR_TARGET=${FLOOR_TARGET_DIR:-$HOME/.cache/kasir-floor}
  CARGO_TARGET_DIR=$FLOOR_TARGET cargo build --release --locked --quiet --manifest-path "$FLOOR_DIR/Cargo.toml"
  FLOOR_BIN=$FLOOR_TARGET/release/baseline
fi

WORK=$(mktemp -d -t kasir-bench.XXXXXX)
RESULTS=$WORK/results.jsonl
SERVER_PID=
PG_DB=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$PG_DB" ] && psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/serve.sh
. bench/serve.sh
serve_env

record() { echo "$1" >>"$RESULTS"; }

peak_rss_kib() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }
# Lets the next endpoint's peak RSS be its own (needs owning the process).
reset_peak_rss() { echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || true; }

# load BACKEND ENDPOINT CONNECTIONS URL LUA [VAR=value ...]
load() {
  local backend=$1 endpoint=$2 connections=$3 url=$4 script=$5
  shift 5
  reset_peak_rss
  local out threads=$((connections < THREADS ? connections : THREADS))
  out=$(env BENCH_THREADS=$threads "$@" wrk -t"$threads" -c"$connections" -d"${DURATION}s" \
    --timeout 10s -s "bench/lua/$script" "$url")
  local line
  line=$(grep '^BENCH_RESULT ' <<<"$out" | sed 's/^BENCH_RESULT //') ||
    { echo "wrk printed no result for $endpoint:" >&2; echo "$out" >&2; return 1; }
  record "$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(backend=sys.argv[2], endpoint=sys.argv[3], connections=int(sys.argv[4]), rss_kib=int(sys.argv[5])); print(json.dumps(r))' \
    "$line" "$backend" "$endpoint" "$connections" "$(peak_rss_kib)")"
  printf '  %-22s %s\n' "$endpoint" "$line"
}

if [ "$FLOOR" = 1 ]; then
  step "floor: the bare stack, loaded like kasir's catalog"
  FLOOR_PORT=$(free_port)
  "$FLOOR_BIN" "$WORK/floor.db" "127.0.0.1:$FLOOR_PORT" >"$WORK/floor.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 500); do curl -fs -o /dev/null "http://127.0.0.1:$FLOOR_PORT/" && break; sleep 0.01; done
  load floor "GET /" $CONNECTIONS "http://127.0.0.1:$FLOOR_PORT/" session.lua
  stop_server
fi

for backend in $BACKENDS; do
  step "$backend"
  : >"$WORK/server.log"
  if [ "$backend" = sqlite ]; then
    export DATABASE_URL=sqlite://$WORK/bench.db
  else
    postgres_up
    PG_DB=kasir_bench_$$
    psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
    psql "$POSTGRES_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
    export DATABASE_URL=${POSTGRES_URL/\/postgres\?/\/$PG_DB?}
  fi

  start_server "$KASIR_BIN"
  cold_ms=$STARTUP_MS
  stop_server
  seed_started=$(date +%s%N)
  "$KASIR_BIN" bench seed "${SEED[@]}"
  seed_ms=$((($(date +%s%N) - seed_started) / 1000000))
  if [ "$backend" = postgres ]; then
    # A shop with this history has had autovacuum over it long ago; a
    # freshly bulk-loaded one has no statistics, and autovacuum would pick
    # the tables up in the middle of a measurement (plans changing, its
    # I/O and CPU in the figures).
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE" >/dev/null
  fi
  start_server "$KASIR_BIN"
  warm_ms=$STARTUP_MS
  record "{\"backend\":\"$backend\",\"endpoint\":\"startup\",\"cold_start_ms\":$cold_ms,\"seed_ms\":$seed_ms,\"warm_start_ms\":$warm_ms,\"rss_kib\":$(peak_rss_kib)}"
  echo "  cold start ${cold_ms} ms (migrations + demo catalog), seed ${seed_ms} ms, restart ${warm_ms} ms"

  seq 0 $((LOGINS - 1)) | sed 's/.*/bench-user-&@example.com/' |
    python3 bench/login.py "$BASE" bench-password >"$WORK/students.tsv"
  python3 bench/login.py "$BASE" bench-password bench-staff@example.com >"$WORK/staff.tsv"

  load "$backend" "GET /" $CONNECTIONS "$BASE/" session.lua
  load "$backend" "GET /courses/:slug" $CONNECTIONS "$BASE/courses/bench-course-7" session.lua
  load "$backend" "GET /cart" $CONNECTIONS "$BASE/cart" session.lua BENCH_SESSIONS="$WORK/students.tsv"
  load "$backend" "GET /cart/count" $CONNECTIONS "$BASE/cart/count" session.lua BENCH_SESSIONS="$WORK/students.tsv"
  load "$backend" "POST /checkout" $CONNECTIONS "$BASE/checkout" session.lua \
    BENCH_SESSIONS="$WORK/students.tsv" BENCH_METHOD=POST

  pending=$(sed -n 's/.*--pending \([0-9]*\).*/\1/p' <<<"${SEED[*]}")
  "$KASIR_BIN" bench webhook-events --count "$pending" --duplicate-percent 20 --out "$WORK/events.tsv"
  # Each engine checks its own acknowledgements only.
  rm -rf "$WORK/acked" "$WORK/acked-normal" && mkdir -p "$WORK/acked"
  load "$backend" "POST /webhooks/stripe" $CONNECTIONS "$BASE/webhooks/stripe" webhook.lua \
    BENCH_EVENTS="$WORK/events.tsv" BENCH_ACKED_DIR="$WORK/acked"
  if [ "$backend" = sqlite ]; then
    # What durability costs: the same load on the next pending orders with
    # synchronous = NORMAL (WAL), which can lose the last commits on a power
    # loss; kasir runs FULL (README: Production notes).
    stop_server
    export KASIR_BENCH_SQLITE_SYNCHRONOUS=NORMAL
    start_server "$KASIR_BIN"
    "$KASIR_BIN" bench webhook-events --count "$pending" --duplicate-percent 20 --out "$WORK/events.tsv"
    mkdir -p "$WORK/acked-normal"
    load "$backend" "POST /webhooks/stripe (synchronous=NORMAL)" $CONNECTIONS "$BASE/webhooks/stripe" webhook.lua \
      BENCH_EVENTS="$WORK/events.tsv" BENCH_ACKED_DIR="$WORK/acked-normal"
    stop_server
    unset KASIR_BENCH_SQLITE_SYNCHRONOUS
    start_server "$KASIR_BIN"
  fi
  step "$backend: invariants after the webhook run"
  "$KASIR_BIN" bench check --acked "$WORK"/acked*/acked-*.txt | tee "$WORK/check.txt"
  record "$(python3 -c 'import json,sys; print(json.dumps({"backend": sys.argv[1], "endpoint": "invariants", "facts": open(sys.argv[2]).read().splitlines()}))' "$backend" "$WORK/check.txt")"

  month_ago=$(date -u -d '30 days ago' +%F)
  load "$backend" "GET /staff/orders (30 days, paid)" $STAFF_CONNECTIONS \
    "$BASE/staff/orders?status=paid&from=$month_ago" session.lua BENCH_SESSIONS="$WORK/staff.tsv"
  load "$backend" "GET /staff/reports (all)" $STAFF_CONNECTIONS "$BASE/staff/reports" session.lua \
    BENCH_SESSIONS="$WORK/staff.tsv"
  stop_server
  if [ "$backend" = postgres ]; then
    psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
    PG_DB=
  fi
done

python3 bench/report.py "$RESULTS" "$OUT" "$MODE" "$PROFILE" "$DURATION" "${SEED[*]}"
echo "results: $OUT"
