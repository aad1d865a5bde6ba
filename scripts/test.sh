#!/usr/bin/env bash
# Runs every check and test kasir has, on SQLite and PostgreSQL, and the
# browser tests in headless Chromium. Installs and starts what it needs on a
# fresh Debian machine (PostgreSQL, Chromium, Node.js, npm modules).
#
#   bash scripts/test.sh            # everything
#   SKIP_LINT=1 bash scripts/test.sh  # tests only
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# --- system packages --------------------------------------------------------
# libpq-dev: diesel's PostgreSQL driver. The rest only when the command is
# missing, so a Node.js or PostgreSQL installed another way is left alone.
apt_install libpq-dev pkg-config
[ -x /usr/bin/chromium ] || apt_install chromium
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm

# --- PostgreSQL -------------------------------------------------------------
# Loopback: no TLS (see tests/api/helpers.rs).
[ -n "${KASIR_TEST_POSTGRES_URL:-}" ] && export POSTGRES_URL=$KASIR_TEST_POSTGRES_URL
postgres_up
export KASIR_TEST_POSTGRES_URL=$POSTGRES_URL
# Databases left behind by an interrupted run.
psql "$KASIR_TEST_POSTGRES_URL" -qtAc "SELECT datname FROM pg_database WHERE datname LIKE 'kasir_test_%'" |
  while read -r db; do [ -n "$db" ] && psql "$KASIR_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done

# --- Stripe's and mail's counterparts ---------------------------------------
# localstripe, stripe-python and aiosmtpd (see scripts/lib.sh).
install_test_counterparts

# --- Rust -------------------------------------------------------------------
if [ -z "${SKIP_LINT:-}" ]; then
  step "cargo fmt --check"
  cargo fmt --all -- --check
  step "cargo clippy"
  cargo clippy --all-targets --all-features --locked -- -D warnings
fi

step "cargo test (unit tests, and the integration suite on SQLite and PostgreSQL)"
# `bench`: the binary the tests build also serves the benchmark's hidden
# commands (the browser tests and the bench smoke run use it).
cargo test --locked --features bench

# --- Browser ----------------------------------------------------------------
step "browser tests (headless Chromium)"
# `cargo test` built the binary (integration tests run it); building it on
# its own would unify features differently and recompile half the tree.
export KASIR_BIN="$CARGO_TARGET_DIR/debug/kasir"
(cd tests/browser && npm ci --no-audit --no-fund --silent)
node --test --test-concurrency=1 tests/browser/
echo "screenshots: $CARGO_TARGET_DIR/screenshots/"

# --- Benchmark smoke run ----------------------------------------------------
# A few seconds per endpoint on both engines with the debug build, so the
# benchmark cannot rot; it fails when an invariant breaks after its webhook
# burst or an endpoint answers errors. The full run is `bash bench/run.sh`.
step "benchmark smoke run (bench/run.sh --smoke)"
bash bench/run.sh --smoke
