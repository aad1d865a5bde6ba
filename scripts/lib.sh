# Shell helpers shared by scripts/test.sh and bench/run.sh: installing
# Debian packages when they are missing, and a PostgreSQL to talk to.
# Source it: it only defines functions.

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing ${missing[*]}"
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Starts the local PostgreSQL cluster when nothing answers on 127.0.0.1:5432
# and exports POSTGRES_URL (superuser, loopback, no TLS) for it.
postgres_up() {
  [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ] || apt_install postgresql
  export POSTGRES_URL=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
  pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
  if ! pg_up; then
    step "starting PostgreSQL"
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    pg_up || { echo "PostgreSQL did not start" >&2; return 1; }
  fi
  if ! psql "$POSTGRES_URL" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    # A stock Debian cluster wants a password on TCP: give the superuser one.
    step "setting a password for the postgres role (test cluster)"
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    export POSTGRES_URL='postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable'
    psql "$POSTGRES_URL" -qtAc 'SELECT 1' >/dev/null
  fi
}

# The test suite's counterparts from PyPI, at pinned versions:
install_test_counterparts() {
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
}
