#!/usr/bin/env bash
# The gRPC end-to-end test: e2e/grpc.test.mjs, a Node client (@grpc/grpc-js,
# the .proto loaded at run time, none of the server's Go code) against the
# real binary on free loopback ports. The server serves a scratch copy of
# the repository handlers/servertest.TestRepo builds (the shipped models and
# every runtime test model), with explicit model control so that the test
# may unload and load models, and a 1 MiB message limit so that it can
# reach it cheaply. The server's log is printed when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
GO="${GO:-go}"

die() { echo "e2e-grpc: $*" >&2; exit 1; }

command -v node >/dev/null || die "node not found: install Node.js 20+ and npm (apt-get install nodejs npm)"

scripts/setup-ort.sh >/dev/null
"$GO" build -o bin/onnxserve ./cmd/onnxserve
(cd e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in e2e/"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/onnxserve-e2e-grpc.XXXXXX")"
repo="$scratch/models"
log="$scratch/server.log"
pid=""
ok=""
stop() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ -z "$ok" ] && [ -s "$log" ]; then
    echo "e2e-grpc: the server's log:" >&2
    cat "$log" >&2
  fi
  rm -rf "$scratch"
}
trap stop EXIT
trap 'exit 130' INT TERM

# The repository servertest.TestRepo builds, as copies (the test unloads and
# reloads them, and writes halfid beside them): model.onnx and config.yaml of
# each shipped model, iris in its version directory, and each runtime test
# model (runtime/testdata/<name>.onnx) as <name>/model.onnx with no config.yaml.
for m in digits tabular; do
  mkdir -p "$repo/$m"
  cp "models/$m/model.onnx" "models/$m/config.yaml" "$repo/$m/"
done
mkdir -p "$repo/iris/1"
cp models/iris/1/model.onnx "$repo/iris/1/"
cp models/iris/config.yaml "$repo/iris/"
for f in runtime/testdata/*.onnx; do
  m="$(basename "$f" .onnx)"
  [ -f "runtime/testdata/$m.expected.json" ] || die "$f has no $m.expected.json for the test to compare with"
  mkdir -p "$repo/$m"
  cp "$f" "$repo/$m/model.onnx"
done

# Two distinct free ports: both listeners are open at once when picked.
read -r http grpc < <(node -e '
  const net = require("net");
  const a = net.createServer().listen(0, "127.0.0.1", () => {
    const b = net.createServer().listen(0, "127.0.0.1", () => {
      console.log(a.address().port, b.address().port);
      a.close(); b.close();
    });
  });')
[ -n "$http" ] && [ -n "$grpc" ] || die "could not pick two free ports"

bin/onnxserve serve --addr "127.0.0.1:$http" --grpc-addr "127.0.0.1:$grpc" --models "$repo" \
  --shutdown-grace 5s --model-control explicit --load-model '*' --max-body-bytes 1048576 >"$log" 2>&1 &
pid=$!

# Wait until the gRPC listener answers ServerReady with ready true (every
# model loaded): up to 30 s. Asking gRPC, not /healthz, is what shows that
# the port the test uses is served.
probe='
  const grpc = require("@grpc/grpc-js"), loader = require("@grpc/proto-loader");
  const pkg = grpc.loadPackageDefinition(loader.loadSync(process.argv[1], { keepCase: true }));
  const c = new pkg.inference.GRPCInferenceService(process.argv[2], grpc.credentials.createInsecure());
  c.ServerReady({}, { deadline: Date.now() + 1000 }, (err, res) => process.exit(!err && res.ready ? 0 : 1));'
proto="$root/handlers/grpc/inferencepb/grpc_predict_v2.proto"
ready=""
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
  kill -0 "$pid" 2>/dev/null || die "the server exited before it was ready"
  if (cd e2e && node -e "$probe" "$proto" "127.0.0.1:$grpc" 2>/dev/null); then
    ready=1
    break
  fi
  sleep 0.2
done
[ -n "$ready" ] || die "the server was not ready on gRPC 127.0.0.1:$grpc within 30 s"

cd e2e
GRPC_ADDR="127.0.0.1:$grpc" REPO_DIR="$repo" node --test --test-concurrency=1 grpc.test.mjs
ok=1
