#!/usr/bin/env bash
# Mutation testing of the money code with cargo-mutants: each mutant (a
# flipped comparison, a deleted statement, a function that returns a
# default) is built and the tests that cover it are run; a mutant no test
# notices is a bug the suite would let through. Not part of CI: a full run
# takes hours on two cores, so it runs part by part, and shards.
#
#   bash scripts/mutants.sh                 # every part, every mutant
#   bash scripts/mutants.sh promo payment   # those parts (or a group: pure, db)
#   bash scripts/mutants.sh --shard 2/4 db  # the second quarter of each db part
#   bash scripts/mutants.sh --list          # what would be mutated, per part
#   bash scripts/mutants.sh --resume checkout
#                                           # only the mutants checkout's record
#                                           # has no outcome for (an interrupted
#                                           # run, code changed since)
#   bash scripts/mutants.sh --iterate --whole promo
#                                           # only what promo's runs missed or
#                                           # did not reach, against the whole
#                                           # suite on both engines
#   bash scripts/mutants.sh --report        # rewrite tests/mutants.md
#   bash scripts/mutants.sh --both-engines --iterate revenue
#                                           # the part's modules on PostgreSQL
#                                           # too (for what only PostgreSQL
#                                           # runs), not the whole suite
#   bash scripts/mutants.sh --skip-baseline --iterate --whole checkout
#                                           # without the unmutated run first
#                                           # (only when the suite just passed
#                                           # on this very tree)
#
# Each part is some files and the tests that cover them most directly
# (below): the unit tests (`--lib`), and for the db group the integration
# suite's modules that exercise those files, on SQLite: 20 to 40 s a
# mutant on two cores. What that misses is then tried against the whole
# integration suite on SQLite and PostgreSQL (`--iterate --whole`, about
# two and a half minutes a mutant): a mutant counts as missed only when
# the whole suite misses it.
#
# Results are kept per part in tests/mutants/<part>/ (caught, missed,
# timeout, unviable: one mutant a line; runs.txt: when, at which commit,
# with which tests), committed, so runs made on different days and
# machines add up: a new run of a part replaces the outcome of each mutant
# it tested, and mutants that no longer exist (the code changed) are
# dropped. The report, tests/mutants.md, is written from them;
# cargo-mutants' own output goes to $MUTANTS_OUT (default
# target/mutants/<part>).
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
RECORDS=$ROOT/tests/mutants
REPORT=$ROOT/tests/mutants.md

# name | group | files | integration tests (module filters) that cover them
parts=(
  "pricing|pure|src/services/pricing.rs|"
  "promo|db|src/services/promo.rs|checkout:: staff:: edges::"
  "checkout|db|src/services/checkout.rs src/services/order_lifecycle/place.rs|checkout:: cart:: edges:: stripe:: hardening:: races::two_requests_starting_one_payment races::a_checkout_while_a_bank_debit"
  "payment|db|src/services/order_lifecycle/payment.rs src/services/order_lifecycle/unapplied.rs src/models/order_paid.rs|webhooks:: stripe_events:: edges::"
  "refund|db|src/services/order_lifecycle/refund.rs src/services/refunds.rs|back_office:: stripe_events:: refund_events:: webhooks::"
  "dispute|db|src/services/order_lifecycle/dispute.rs src/services/order_lifecycle/notes.rs src/services/order_lifecycle/tax.rs|stripe_events:: refund_events:: notes:: tax::"
  "access|db|src/services/order_lifecycle/access.rs|lms:: student:: webhooks:: stripe_events:: refund_events::"
  "journal|db|src/services/journal/mod.rs src/services/journal/legacy.rs|journal:: schema:: hardening::"
  "seals|db|src/services/journal/seal.rs src/services/journal/verify.rs|journal:: schema:: races::the_reports"
  "revenue|db|src/services/back_office/revenue.rs|back_office:: journal::"
  "orders|db|src/services/back_office/order_search.rs|back_office::"
  "webhook|db|src/payments/webhook.rs src/db/write.rs|webhooks:: stripe:: edges::the_signature db::write:: payments::webhook::"
)
field() { cut -d'|' -f"$2" <<<"$1"; }

shard=()
iterate=()
resume=0
whole=0
baseline=()
engines=(--skip postgres)
list=0
report_only=0
chosen=()
while [ $# -gt 0 ]; do
  case $1 in
    --shard) shard=(--shard "$2"); shift 2 ;;
    --list) list=1; shift ;;
    --report) report_only=1; shift ;;
    --iterate) iterate=(--iterate); shift ;;
    --resume) iterate=(--iterate); resume=1; shift ;;
    --whole) whole=1; shift ;;
    --skip-baseline) baseline=(--baseline skip); shift ;;
    --both-engines) engines=(); shift ;;
    -*) echo "unknown argument: $1" >&2; exit 2 ;;
    *) chosen+=("$1"); shift ;;
  esac
done
selected=()
for part in "${parts[@]}"; do
  name=$(field "$part" 1); group=$(field "$part" 2)
  if [ ${#chosen[@]} -eq 0 ] || printf '%s\n' "${chosen[@]}" | grep -qx -e "$name" -e "$group"; then
    selected+=("$part")
  fi
done
if [ ${#chosen[@]} -gt 0 ] && [ ${#selected[@]} -eq 0 ]; then
  echo "no part or group named: ${chosen[*]}" >&2; exit 2
fi

if [ "$report_only" = 0 ] && [ "$list" = 0 ] && [ ! -d "$CARGO_TARGET_DIR/debug" ] && [ -d "$suite_target/debug" ]; then
  step "seeding $CARGO_TARGET_DIR from $suite_target"
  mkdir -p "$CARGO_TARGET_DIR"
  cp -a "$suite_target/debug" "$CARGO_TARGET_DIR/"
fi
if [ "$report_only" = 0 ] && ! cargo mutants --version 2>/dev/null | grep -q "$CARGO_MUTANTS_VERSION"; then
  step "installing cargo-mutants $CARGO_MUTANTS_VERSION"
  cargo install --locked --quiet cargo-mutants --version "$CARGO_MUTANTS_VERSION"
fi

# run <part>: one cargo-mutants run over the part's files, then its record.
db_ready=0
run() {
  local name group files filters
  name=$(field "$1" 1); group=$(field "$1" 2)
  read -ra files <<<"$(field "$1" 3)"
  read -ra filters <<<"$(field "$1" 4)"
  local args=(--features bench --timeout 600 --build-timeout 1200 --jobs 1 --no-shuffle
              --output "$OUT/$name" "${shard[@]}" "${iterate[@]}" "${baseline[@]}")
  for f in "${files[@]}"; do args+=(--file "$f"); done
  if [ "$list" -eq 1 ]; then
    step "$name: $(cargo mutants --list "${args[@]}" | wc -l) mutants"
    cargo mutants --list "${args[@]}"
    return
  fi
  local tests=(--lib)
  if [ "$group" = db ] && [ "$whole" = 1 ]; then
    tests+=(--test api)
  elif [ "$group" = db ]; then
    # The filters apply to the unit tests too: theirs are under services::
    # and domain::, names no integration test has.
    tests+=(--test api -- services:: domain:: "${filters[@]}" "${engines[@]}")
  fi
  if [ "$group" = db ]; then
    if [ "$db_ready" = 0 ]; then
      postgres_up
      export KASIR_TEST_POSTGRES_URL=$POSTGRES_URL
      install_test_counterparts
      db_ready=1
    fi
  fi
  step "mutating $name (${files[*]})"
  mkdir -p "$OUT/$name"
  if [ ${#iterate[@]} -gt 0 ]; then
    # cargo-mutants' --iterate skips what its last output lists as caught
    # or unviable; that output is seeded from the committed record, so a
    # run goes on from every earlier one, on any machine. --resume also
    # skips what was missed (it only fills in the untested).
    local skip=(caught timeout unviable)
    [ "$resume" = 1 ] && skip+=(missed)
    rm -rf "$OUT/$name/mutants.out" "$OUT/$name/mutants.out.old"
    mkdir -p "$OUT/$name/mutants.out"
    for k in "${skip[@]}"; do
      cat "$RECORDS/$name/$k.txt" 2>/dev/null || true
    done >"$OUT/$name/mutants.out/previously_caught.txt"
  fi
  # What is mutated is the tree as it is now (cargo-mutants copies it).
  local commit
  commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (and changes not yet committed)')"
  # Exit 2: mutants missed, 3: some timed out; the record says which.
  # Anything else (the tests failing without a mutant, a bad option) stops.
  local status=0
  cargo mutants "${args[@]}" -- "${tests[@]}" || status=$?
  case $status in
    0 | 2 | 3) ;;
    *) echo "cargo mutants failed (exit $status)" >&2; exit "$status" ;;
  esac
  # The record: this run's outcomes over the earlier ones, for the
  # mutants the code still has.
  mkdir -p "$RECORDS/$name"
  # Every mutant the code has now: listed without --iterate or --shard,
  # which would leave out the ones not tested this time.
  local every=(--features bench)
  for f in "${files[@]}"; do every+=(--file "$f"); done
  cargo mutants --list "${every[@]}" >"$OUT/$name/current.txt"
  python3 - "$OUT/$name/mutants.out" "$RECORDS/$name" "$OUT/$name/current.txt" <<'PY'
import os, sys
out, record, current = sys.argv[1:]
kinds = ["caught", "missed", "timeout", "unviable"]
def read(path):
    return [l.rstrip("\n") for l in open(path)] if os.path.exists(path) else []
outcome = {m: k for k in kinds for m in read(os.path.join(record, k + ".txt"))}
outcome.update({m: k for k in kinds for m in read(os.path.join(out, k + ".txt"))})
still = set(read(current))
for k in kinds:
    with open(os.path.join(record, k + ".txt"), "w") as f:
        f.writelines(m + "\n" for m in sorted(m for m, o in outcome.items() if o == k and m in still))
PY
  {
    echo "files: ${files[*]}"
    echo "found: $(grep -c . "$OUT/$name/current.txt" || true)"
  } >"$RECORDS/$name/part.txt"
  printf '%s at %s: cargo-mutants %s%s%s, %s tested: cargo test %s\n' \
    "$(date -u +%Y-%m-%d)" "$commit" "$CARGO_MUTANTS_VERSION" "${shard[*]:+ ${shard[*]}}" "$([ "$resume" = 1 ] && echo ' --resume' || echo "${iterate[*]:+ --iterate}")" \
    "$(cat "$OUT/$name/mutants.out/"{caught,missed,timeout,unviable}.txt 2>/dev/null | grep -c . || true)" \
    "${tests[*]}" >>"$RECORDS/$name/runs.txt"
}

for part in "${selected[@]}"; do
  [ "$report_only" = 1 ] && break
  run "$part"
done
[ "$list" -eq 1 ] && exit 0

# The report, from every part's record.
python3 - "$RECORDS" "$REPORT" "$CARGO_MUTANTS_VERSION" "${parts[@]}" <<'PY'
import os, sys, datetime
records, report, version, *parts = sys.argv[1:]
def read(path):
    return [l.rstrip("\n") for l in open(path)] if os.path.exists(path) else []
rows, missed, totals = [], [], {}
for part in parts:
    name, group = part.split("|")[:2]
    d = os.path.join(records, name)
    run = dict(l.split(": ", 1) for l in read(os.path.join(d, "part.txt")))
    runs = read(os.path.join(d, "runs.txt"))
    if runs:
        run["last"] = runs[-1].split(":", 1)[0]
    c, m, t, u = (len(read(os.path.join(d, k + ".txt"))) for k in ("caught", "missed", "timeout", "unviable"))
    found = int(run.get("found", 0))
    viable = c + m + t
    pct = f"{(c + t) * 100 / viable:.1f} %" if viable else "-"
    untested = found - viable - u
    rows.append(f"| {name} | {group} | {found or '-'} | {c} | {m} | {t} | {u} | {untested if run else '-'} | {pct} | {run.get('last', 'never run')} |")
    g = totals.setdefault(group, [0, 0, 0, 0, 0])
    for i, v in enumerate((found, c, m, t, u)):
        g[i] += v
    missed.append((name, run, runs, read(os.path.join(d, "missed.txt"))))
with open(report + ".new", "w") as f:
    w = lambda s="": f.write(s + "\n")
    w("# Mutation testing of the money code")
    w()
    w(f"Written by `scripts/mutants.sh` on {datetime.date.today()} (cargo-mutants {version}) from the")
    w("records in `tests/mutants/`: each part's latest outcome for every mutant its code still has.")
    w("Caught: a test failed. Missed: every test passed with the bug in. Unviable: the mutant")
    w("does not compile. Timeout: the tests hung (counted as caught). Untested: found but not")
    w("yet run (a shard, an interrupted run, or code changed since).")
    w()
    w("| part | group | found | caught | missed | timeout | unviable | untested | caught of viable | last run |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        w(r)
    for group, (found, c, m, t, u) in totals.items():
        viable = c + m + t
        pct = f"{(c + t) * 100 / viable:.1f} %" if viable else "-"
        w(f"| **{group}** | | {found} | {c} | {m} | {t} | {u} | {found - viable - u} | **{pct}** | |")
    w()
    w("What each part mutates, and its runs (the later outcome of a mutant replaces the earlier):")
    for name, run, runs, _ in missed:
        if run:
            w()
            w(f"- **{name}**: {run.get('files', '')}")
            for r in runs:
                when, how = r.split(": ", 1)
                w(f"  - {when}: {how.replace('cargo test ', '`cargo test ', 1)}`")
    w()
    w("## Missed mutants")
    for name, run, runs, ms in missed:
        if not ms:
            continue
        w()
        w(f"### {name}")
        w()
        for m in ms:
            w(f"- {m}")
    notes = os.path.join(os.path.dirname(report), "mutants-notes.md")
    if os.path.exists(notes):
        w()
        f.write(open(notes).read())
os.replace(report + ".new", report)
PY
step "report: $REPORT"
exit
}
