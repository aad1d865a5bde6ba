#!/usr/bin/env bash
# A/B of two kasir builds on the same data (bench/results.md, issue 17).
#
#   bash bench/ab.sh BEFORE_BIN AFTER_BIN
#
# Seeds one database per engine with BEFORE_BIN, then runs interleaved
# rounds (before, after, before, after, ...) on fresh copies of it: the
# webhook deliveries of the seeded pending orders (20 % duplicates) and,
# when asked, pages with logged-in students. `kasir bench check` runs after
# every webhook round; a round that breaks an invariant fails the script.
# One line per round: binary, endpoint, req/s, p50, p99, peak RSS.
#
# Environment: AB_BACKENDS ("sqlite postgres"), AB_ROUNDS (3), AB_DURATION
# (seconds, 8), AB_PAGES ("" or e.g. "/cart /cart/count /"), AB_SEED (the
# `bench seed` arguments), POSTGRES_URL.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

[ $# -eq 2 ] || { echo "usage: bash bench/ab.sh BEFORE_BIN AFTER_BIN" >&2; exit 2; }
BINS=("$(realpath "$1")" "$(realpath "$2")")
NAMES=(before after)
BACKENDS=${AB_BACKENDS:-sqlite postgres}
ROUNDS=${AB_ROUNDS:-3}
DURATION=${AB_DURATION:-8}
PAGES=${AB_PAGES:-}
read -r -a SEED <<<"${AB_SEED:---courses 1000 --users 10000 --orders 20000 --pending 40000 --carts 2000}"
PENDING=$(sed -n 's/.*--pending \([0-9]*\).*/\1/p' <<<"${SEED[*]}")
USERS=$(sed -n 's/.*--users \([0-9]*\).*/\1/p' <<<"${SEED[*]}")
LOGINS=$((USERS < 2000 ? USERS : 2000))

WORK=$(mktemp -d -t kasir-ab.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  if [ -n "${POSTGRES_URL:-}" ]; then
    for db in kasir_ab_seed kasir_ab_run; do
      psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/serve.sh
. bench/serve.sh
serve_env

# load NAME BACKEND ENDPOINT URL LUA [VAR=value ...]
load() {
  local name=$1 backend=$2 endpoint=$3 url=$4 script=$5
  shift 5
  echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || true
  local out line
  out=$(env BENCH_THREADS=2 "$@" wrk -t2 -c64 -d"${DURATION}s" --timeout 10s -s "bench/lua/$script" "$url")
  line=$(grep '^BENCH_RESULT ' <<<"$out" | sed 's/^BENCH_RESULT //')
  python3 - "$line" "$name" "$backend" "$endpoint" \
    "$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status")" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
rate = r["requests"] / (r["duration_us"] / 1e6)
errors = r["socket_errors"] + r["http_errors"]
print(f"{sys.argv[3]:8} {sys.argv[2]:6} {sys.argv[4]:18} {rate:9,.0f}/s  p50 {r['p50_us']/1000:6.1f} ms"
      f"  p99 {r['p99_us']/1000:7.1f} ms  errors {errors}  RSS {int(sys.argv[5])/1024:5.1f} MB", flush=True)
EOF
}

# fresh_copy BACKEND: DATABASE_URL points at a new copy of the seeded data.
fresh_copy() {
  if [ "$1" = sqlite ]; then
    rm -f "$WORK"/run.db*
    cp "$WORK/seed.db" "$WORK/run.db"
    export DATABASE_URL=sqlite://$WORK/run.db
  else
    psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS kasir_ab_run WITH (FORCE)" >/dev/null
    psql "$POSTGRES_URL" -qc "CREATE DATABASE kasir_ab_run TEMPLATE kasir_ab_seed" >/dev/null
    export DATABASE_URL=${POSTGRES_URL/\/postgres\?/\/kasir_ab_run?}
  fi
}

for backend in $BACKENDS; do
  step "$backend: seeding with $1 (${SEED[*]})"
  if [ "$backend" = sqlite ]; then
    export DATABASE_URL=sqlite://$WORK/seed.db
  else
    postgres_up
    psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS kasir_ab_seed WITH (FORCE)" >/dev/null
    psql "$POSTGRES_URL" -qc "CREATE DATABASE kasir_ab_seed" >/dev/null
    export DATABASE_URL=${POSTGRES_URL/\/postgres\?/\/kasir_ab_seed?}
  fi
  start_server "${BINS[0]}"
  stop_server
  "${BINS[0]}" bench seed "${SEED[@]}" >/dev/null
  if [ "$backend" = postgres ]; then
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE" >/dev/null
  else
    python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()' "$WORK/seed.db"
    rm -f "$WORK"/seed.db-wal "$WORK"/seed.db-shm
  fi

  for round in $(seq 1 "$ROUNDS"); do
    for i in 0 1; do
      fresh_copy "$backend"
      start_server "${BINS[$i]}"
      if [ -n "$PAGES" ]; then
        seq 0 $((LOGINS - 1)) | sed 's/.*/bench-user-&@example.com/' |
          python3 bench/login.py "$BASE" bench-password >"$WORK/students.tsv"
        for page in $PAGES; do
          load "${NAMES[$i]}" "$backend" "GET $page" "$BASE$page" session.lua BENCH_SESSIONS="$WORK/students.tsv"
        done
      fi
      "${BINS[$i]}" bench webhook-events --count "$PENDING" --duplicate-percent 20 --out "$WORK/events.tsv" >/dev/null
      rm -rf "$WORK/acked" && mkdir -p "$WORK/acked"
      load "${NAMES[$i]}" "$backend" "POST /webhooks" "$BASE/webhooks/stripe" webhook.lua \
        BENCH_EVENTS="$WORK/events.tsv" BENCH_ACKED_DIR="$WORK/acked"
      "${BINS[$i]}" bench check --acked "$WORK"/acked/acked-*.txt >"$WORK/check.txt" ||
        { cat "$WORK/check.txt" >&2; echo "round $round of ${NAMES[$i]} broke an invariant" >&2; exit 1; }
      stop_server
    done
  done
  if [ "$backend" = postgres ]; then
    psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS kasir_ab_run WITH (FORCE)" >/dev/null
    psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS kasir_ab_seed WITH (FORCE)" >/dev/null
  fi
done
