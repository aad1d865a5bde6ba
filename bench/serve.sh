# Running `kasir serve` for a load: shared by bench/run.sh and bench/ab.sh.
# Source it after WORK (a scratch directory) is set: it only defines
# functions.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Exports what `kasir serve` reads for a benchmark on a free port (BASE is
# its URL): fresh keys, the sandbox provider, warnings only.
serve_env() {
  PORT=$(free_port)
  BASE=http://127.0.0.1:$PORT
  export BIND_ADDR=127.0.0.1:$PORT PUBLIC_URL=$BASE RUST_LOG=${RUST_LOG:-warn} SEED_DEMO_ON_EMPTY=true
  SECRET_KEY=$(head -c 64 /dev/urandom | base64 -w0)
  JOURNAL_KEY=$(head -c 64 /dev/urandom | base64 -w0)
  export SECRET_KEY JOURNAL_KEY
  unset STRIPE_SECRET_KEY STRIPE_PUBLISHABLE_KEY STRIPE_WEBHOOK_SECRET
}

# start_server BIN: starts `BIN serve` (SERVER_PID); STARTUP_MS is how
# long until /healthz answered.
start_server() {
  local started
  started=$(date +%s%N)
  "$1" serve >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 3000); do
    if curl -fs -o /dev/null "$BASE/healthz"; then
      STARTUP_MS=$((($(date +%s%N) - started) / 1000000))
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.01
  done
  echo "kasir did not start; its log:" >&2
  tail -n 30 "$WORK/server.log" >&2
  return 1
}

stop_server() {
  kill "$SERVER_PID" && wait "$SERVER_PID" || true
  SERVER_PID=
}
