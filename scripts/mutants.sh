#!/usr/bin/env bash
# Mutation testing of the money code with cargo-mutants: each mutant (a
# flipped comparison, a deleted statement, a function that returns a
# default) is built and the tests that cover it are run; a mutant no test
# notices is a bug the suite would let through. Not part of CI: a full run
# takes hours on two cores, so it shards.
#
#   bash scripts/mutants.sh                 # every group, every mutant
#   bash scripts/mutants.sh --shard 2/8     # the second eighth of each group
#   MUTANTS_GROUPS=pure bash scripts/mutants.sh   # one group (pure | db)
#   bash scripts/mutants.sh --list          # what would be mutated, per group
#   MUTANTS_GROUPS=db MUTANTS_FILES=src/services/order_lifecycle/notes.rs \
#   MUTANTS_TEST_FILTER="notes:: invoices::" bash scripts/mutants.sh
#                                           # part of a group, with the tests
#                                           # named (the report says so)
#   bash scripts/mutants.sh --iterate       # only what the last run missed or
#                                           # did not reach (after new tests)
#   bash scripts/mutants.sh --report        # rewrite tests/mutants.md from the
#                                           # last (or an interrupted) run
#
# Groups, each with the tests that cover it:
#   pure  pricing (no database): the unit tests (`--lib`), ~1 min a mutant
#   db    promo, checkout, the order lifecycle (placing, fulfilment,
#         refunds, disputes, notes, tax), the journal, refund requests,
#         revenue, webhook verification and reading: the unit tests and the
#         integration suite (`--test api`) on SQLite and PostgreSQL, ~6 min
#         a mutant: shard it over machines or nights
#
# Results (caught / missed / unviable / timeout, and every missed mutant)
# go to tests/mutants.md, written by this script; cargo-mutants' own
# output to $MUTANTS_OUT (default target/mutants/<group>).
set -euo pipefail
# Read whole before it runs (one block): a run takes hours, and editing the
# script meanwhile must not change what the running one does.
{
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

CARGO_MUTANTS_VERSION=27.1.0
# Builds of mutants in their own target directory, so they never
# invalidate the suite's; seeded from it, so dependencies are not built again.
suite_target=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TARGET_DIR=${MUTANTS_TARGET_DIR:-$suite_target-mutants}
export CARGO_TERM_COLOR=never
# Pinned seeds: a mutant caught in one run is caught in the next.
export KASIR_PROPTEST_SEED=${KASIR_PROPTEST_SEED:-20261130}
export KASIR_CRASH_SEED=${KASIR_CRASH_SEED:-20261130}
OUT=${MUTANTS_OUT:-$ROOT/target/mutants}
REPORT=$ROOT/tests/mutants.md

pure_files=(
  src/services/pricing.rs
)
db_files=(
  src/services/promo.rs
  src/services/checkout.rs
  src/services/order_lifecycle/place.rs
  src/services/order_lifecycle/payment.rs
  src/services/order_lifecycle/refund.rs
  src/services/order_lifecycle/unapplied.rs
  src/services/order_lifecycle/dispute.rs
  src/services/order_lifecycle/notes.rs
  src/services/order_lifecycle/tax.rs
  src/services/order_lifecycle/access.rs
  src/services/journal/mod.rs
  src/services/journal/seal.rs
  src/services/journal/verify.rs
  src/services/journal/legacy.rs
  src/services/refunds.rs
  src/services/back_office/revenue.rs
  src/payments/webhook.rs
)

shard=()
iterate=()
list=0
report_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --shard) shard=(--shard "$2"); shift 2 ;;
    --list) list=1; shift ;;
    --report) report_only=1; shift ;;
    --iterate) iterate=(--iterate); shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [ "$report_only" = 0 ] && [ "$list" = 0 ] && [ ! -d "$CARGO_TARGET_DIR/debug" ] && [ -d "$suite_target/debug" ]; then
  step "seeding $CARGO_TARGET_DIR from $suite_target"
  mkdir -p "$CARGO_TARGET_DIR"
  cp -a "$suite_target/debug" "$CARGO_TARGET_DIR/"
fi
if [ "$report_only" = 0 ] && ! cargo mutants --version 2>/dev/null | grep -q "$CARGO_MUTANTS_VERSION"; then
  step "installing cargo-mutants $CARGO_MUTANTS_VERSION"
  cargo install --locked --quiet cargo-mutants --version "$CARGO_MUTANTS_VERSION"
fi

# run <group> <test args...>: one cargo-mutants run over the group's files.
run() {
  local group=$1; shift
  local -n group_files=${group}_files
  local files=("${group_files[@]}")
  # shellcheck disable=SC2206 # a list of paths, split on spaces
  [ -n "${MUTANTS_FILES:-}" ] && files=($MUTANTS_FILES)
  local args=(--features bench --timeout 600 --build-timeout 1200 --jobs 1 --no-shuffle
              --output "$OUT/$group" "${shard[@]}" "${iterate[@]}")
  for f in "${files[@]}"; do args+=(--file "$f"); done
  if [ "$list" -eq 1 ]; then
    step "$group: $(cargo mutants --list "${args[@]}" | wc -l) mutants"
    cargo mutants --list "${args[@]}"
    return
  fi
  step "mutating the $group group (${#files[@]} files)"
  mkdir -p "$OUT/$group"
  # Exit 2: mutants missed, 3: some timed out; the report says which.
  # Anything else (the tests failing without a mutant, a bad option) stops.
  local status=0
  local filters=()
  # shellcheck disable=SC2206 # test name filters, split on spaces
  [ -n "${MUTANTS_TEST_FILTER:-}" ] && filters=(-- $MUTANTS_TEST_FILTER)
  echo "cargo test $* ${filters[*]}" >"$OUT/$group/tests.txt"
  cargo mutants "${args[@]}" -- "$@" "${filters[@]}" || status=$?
  case $status in
    0 | 2 | 3) ;;
    *) echo "cargo mutants failed (exit $status)" >&2; exit "$status" ;;
  esac
}

groups=${MUTANTS_GROUPS:-pure db}
for group in $groups; do
  [ "$report_only" = 1 ] && break
  case $group in
    pure) run pure --lib ;;
    db)
      postgres_up
      export KASIR_TEST_POSTGRES_URL=$POSTGRES_URL
      install_test_counterparts
      run db --lib --test api
      ;;
    *) echo "unknown group: $group" >&2; exit 2 ;;
  esac
done
[ "$list" -eq 1 ] && exit 0

# The report: counts per group, then every mutant no test caught.
count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }
{
  echo "# Mutation testing of the money code"
  echo
  echo "Written by \`scripts/mutants.sh\` on $(date -u +%Y-%m-%d) (cargo-mutants $CARGO_MUTANTS_VERSION${shard[*]:+, ${shard[*]}})."
  echo "A group's run that was interrupted counts only the mutants it got to (tested of found)."
  echo "Caught: a test failed. Missed: every test passed with the bug in. Unviable: the mutant"
  echo "does not compile. Timeout: the tests hung (counted as caught by cargo-mutants)."
  echo
  echo "| group | tested of found | caught | missed | timeout | unviable | caught of viable | caught or unviable in earlier runs (--iterate) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for group in $groups; do
    dir=$OUT/$group/mutants.out
    c=$(count "$dir/caught.txt"); m=$(count "$dir/missed.txt")
    # An --iterate run skips what earlier runs caught (or could not build).
    earlier=$(count "$dir/previously_caught.txt")
    t=$(count "$dir/timeout.txt"); u=$(count "$dir/unviable.txt")
    viable=$((c + m + t))
    found=$([ -f "$dir/mutants.json" ] && python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$dir/mutants.json" || echo "?")
    pct=$([ "$viable" -gt 0 ] && echo "$(( (c + t) * 1000 / viable / 10 )).$(( (c + t) * 1000 / viable % 10 )) %" || echo "-")
    echo "| $group | $((viable + u)) of $found | $c | $m | $t | $u | $pct | $earlier |"
  done
  echo
  echo "What each group mutated, and the tests it ran:"
  echo
  for group in $groups; do
    dir=$OUT/$group
    [ -f "$dir/mutants.out/mutants.json" ] || continue
    files=$(python3 -c 'import json,sys; print(", ".join(sorted({m["file"] for m in json.load(open(sys.argv[1]))})))' "$dir/mutants.out/mutants.json")
    echo "- $group: $files; \`$(cat "$dir/tests.txt" 2>/dev/null || echo "cargo test")\`"
  done
  echo
  echo "## Missed mutants"
  for group in $groups; do
    dir=$OUT/$group/mutants.out
    echo
    echo "### $group"
    echo
    if [ -s "$dir/missed.txt" ]; then
      sed 's/^/- /' "$dir/missed.txt"
    else
      echo "None."
    fi
  done
  # What was done about misses, and what is still to run: written by hand.
  if [ -f "$ROOT/tests/mutants-notes.md" ]; then
    echo
    cat "$ROOT/tests/mutants-notes.md"
  fi
} > "$REPORT.new"
mv "$REPORT.new" "$REPORT"
step "report: $REPORT"
exit
}
