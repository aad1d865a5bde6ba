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

# --- Stripe's counterparts ---------------------------------------------------
# localstripe: a stateful fake Stripe server (it speaks the API of 2017).
# stripe-python: Stripe's official SDK, generated from its OpenAPI spec; the
# tests hold every request kasir sends to its parameter definitions for the
# API release async-stripe pins (tests/stripe/stripe_today.py), and sign test
# events with its signer. Pair it with async-stripe: when Cargo.lock moves to
# another Stripe API release, tests/api/stripe.rs names the one to take here.
LOCALSTRIPE_VERSION=1.15.10
STRIPE_PYTHON_VERSION=16.1.0
pip_version() { python3 -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p' || true; }
pip_install() {
  step "installing $*"
  command -v pip3 >/dev/null || apt_install python3-pip
  python3 -m pip install --quiet --disable-pip-version-check "$@" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
  hash -r
}
[ "$(pip_version localstripe)" = "$LOCALSTRIPE_VERSION" ] || pip_install "localstripe==$LOCALSTRIPE_VERSION"
[ "$(pip_version stripe)" = "$STRIPE_PYTHON_VERSION" ] || pip_install "stripe==$STRIPE_PYTHON_VERSION"
# aiosmtpd: a real SMTP server, which the mail tests send to
# (tests/mail/smtp_server.py).
AIOSMTPD_VERSION=1.4.6
[ "$(pip_version aiosmtpd)" = "$AIOSMTPD_VERSION" ] || pip_install "aiosmtpd==$AIOSMTPD_VERSION"

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
