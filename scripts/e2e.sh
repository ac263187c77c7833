#!/usr/bin/env bash
# The browser end-to-end test (`make e2e`): Debian's chromium, driven by
# playwright-core, against the real server on a free loopback port with the
# shipped models and e2e/models. Idempotent: installs chromium only when it is missing
# (never downloads a browser build), `npm ci` in e2e/, builds the binary.
# A second server, with an API key and --cors-origins, serves security.test.mjs.
# Screenshots and the server's log go to e2e/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
GO="${GO:-go}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
artifacts="$root/e2e/artifacts"

die() { echo "e2e: $*" >&2; exit 1; }

if [ ! -x "$CHROMIUM" ]; then
  echo "e2e: installing Debian's chromium" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; } \
    || die "could not install chromium: run 'apt-get update && apt-get install -y chromium' as root"
  [ -x "$CHROMIUM" ] || die "$CHROMIUM missing after installing chromium"
fi
command -v node >/dev/null || die "node not found: install Node.js 20+ and npm (apt-get install nodejs npm)"

(cd e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in e2e/"
scripts/setup-ort.sh >/dev/null
"$GO" build -o bin/onnxserve ./cmd/onnxserve

rm -rf "$artifacts"
mkdir -p "$artifacts"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port="$(free_port)"
url="http://127.0.0.1:$port"
log="$artifacts/server.log"
# A second server with an API key, and CORS for the page the security test
# serves on page_port (issue 12).
secure_port="$(free_port)"
page_port="$(free_port)"
secure_url="http://127.0.0.1:$secure_port"
secure_log="$artifacts/server-secure.log"
key="e2e-$RANDOM$RANDOM"

# The repository served: the shipped models and the e2e-only ones
# (e2e/models: large, whose API docs must stay small and fast).
repo="$(mktemp -d)"
cp -r models/. e2e/models/. "$repo/"

bin/onnxserve serve --addr "127.0.0.1:$port" --grpc-addr "" --models "$repo" --shutdown-grace 5s >"$log" 2>&1 &
pid=$!
ONNXSERVE_API_KEY="$key" bin/onnxserve serve --addr "127.0.0.1:$secure_port" --grpc-addr "" --models ./models --shutdown-grace 5s \
  --cors-origins "http://127.0.0.1:$page_port" >"$secure_log" 2>&1 &
secure_pid=$!
stop() {
  kill -TERM "$pid" "$secure_pid" 2>/dev/null || true
  wait "$pid" "$secure_pid" 2>/dev/null || true
  rm -rf "$repo"
}
trap stop EXIT
trap 'exit 130' INT TERM

# Wait for /readyz (every model loaded): up to 60 s.
wait_ready() { # pid url log
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$1" 2>/dev/null || { cat "$3" >&2; die "the server exited before it was ready (log above)"; }
    if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))' "$2/readyz"; then
      return 0
    fi
    sleep 0.2
  done
  cat "$3" >&2
  die "the server was not ready within 60 s (log above)"
}
wait_ready "$pid" "$url" "$log"
wait_ready "$secure_pid" "$secure_url" "$secure_log"

cd e2e
ONNXSERVE_URL="$url" CHROMIUM="$CHROMIUM" node --test --test-concurrency=1 ui.test.mjs
ONNXSERVE_SECURE_URL="$secure_url" ONNXSERVE_KEY="$key" ONNXSERVE_PAGE_PORT="$page_port" CHROMIUM="$CHROMIUM" \
  node --test --test-concurrency=1 security.test.mjs
