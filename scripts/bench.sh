#!/usr/bin/env bash
# The benchmark of docs/benchmarks.md: onnxserve against a FastAPI +
# uvicorn server built the usual way and a std-lib Go HTTP floor, each in
# turn pinned to core 0 and loaded by wrk pinned to core 1, on the same
# models (../shared/bench/make_models.py) and the same request bodies
# (floats as Python's json writes them). Writes docs/benchmarks.md and
# docs/img/bench.png. About 7 minutes.
#
#   scripts/bench.sh           prepare, measure, write the report
#   scripts/bench.sh prepare   only build the models, bodies and binaries
#                              (what `go test -bench` in runtime/ and
#                              handlers/ reads)
#
# DURATION (10s) and WARMUP (2s) set each wrk run. Needs Debian's wrk,
# python3-fastapi, -uvicorn, -uvloop, -httptools, -sklearn, -onnx; installs
# them with apt-get when missing and run as root.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$root/.cache/bench" # git-ignored
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNS=32
SERVER_CPU=0
LOAD_CPU=1
PORT=18080
PY=/usr/bin/python3 # Debian's, with the Debian packages below
make_models="$root/../shared/bench/make_models.py"

say() { echo "bench: $*" >&2; }
die() {
  say "$*"
  exit 1
}

deps() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v taskset >/dev/null || missing+=(util-linux)
  command -v curl >/dev/null || missing+=(curl)
  local mod pkg
  for mod in fastapi:python3-fastapi uvicorn:python3-uvicorn uvloop:python3-uvloop httptools:python3-httptools \
    sklearn:python3-sklearn onnx:python3-onnx numpy:python3-numpy threadpoolctl:python3-threadpoolctl; do
    pkg="${mod#*:}"
    "$PY" -c "import ${mod%%:*}" 2>/dev/null || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] ||
    die "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})"
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
}

prepare() {
  scripts/setup-ort.sh >/dev/null
  if [ ! -f "$work/models/mlp.onnx" ] || [ ! -f "$work/models/iris.pkl" ]; then
    [ -f "$make_models" ] || die "$make_models not found: the shared bench models script must sit beside the repo"
    say "building the bench models"
    "$PY" "$make_models" "$work/models" >/dev/null
  fi
  if [ ! -f "$work/bodies/mlp_b32.bin" ] || [ ! -f "$work/models/mlp.npz" ]; then
    "$PY" scripts/bench/prepare.py "$work/models" "$work/bodies" >/dev/null
  fi
  # The model repository onnxserve serves: configs from scripts/bench/repo,
  # models from make_models.py.
  local dir name
  for dir in scripts/bench/repo/*/; do
    name="$(basename "$dir")"
    mkdir -p "$work/repo/$name"
    ln -sfn "$root/$dir/config.yaml" "$work/repo/$name/config.yaml"
    ln -sfn "$work/models/${name%%_*}.onnx" "$work/repo/$name/model.onnx"
  done
  mkdir -p "$work/bin"
  go build -o "$work/bin/onnxserve" ./cmd/onnxserve
  go build -o "$work/bin/floor" ./scripts/bench/floor
  (cd scripts/bench/chart && go build -o "$work/bin/report" .)
}

# start NAME HEALTH_URL CMD...: runs CMD pinned to the server core and
# waits until it answers.
start() {
  local name="$1" health="$2"
  shift 2
  taskset -c "$SERVER_CPU" "$@" >"$work/logs/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "$health"; then
      echo "idle_rss_$name=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")" >>"$work/meta.env"
      return
    fi
    kill -0 "$server_pid" 2>/dev/null || die "$name exited: $(tail -n 5 "$work/logs/$name.log")"
    sleep 0.2
  done
  die "$name did not answer $health"
}

stop() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# load WORKLOAD URL BODY [HEADER_LEN]: warm up, reset the server's peak
# RSS, run wrk and record its RESULT line with the peak RSS of the run.
load() {
  local workload="$1" url="$2" body="$3" hlen="${4:-}"
  BODY="$work/bodies/$body" HEADER_LEN="$hlen" taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$CONNS" -d"$WARMUP" -s scripts/bench/body.lua "$url" >/dev/null
  echo 5 >"/proc/$server_pid/clear_refs" # resets VmHWM to the current RSS
  local out
  out="$(BODY="$work/bodies/$body" HEADER_LEN="$hlen" taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s scripts/bench/body.lua "$url")"
  local rss
  rss="$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")"
  printf '{"server":"%s","workload":"%s","rss_kb":%s,"load":"%s","result":%s}\n' \
    "$server" "$workload" "$rss" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(grep '^RESULT ' <<<"$out" | cut -d' ' -f2-)" >>"$results"
  say "$server $workload: $(grep '^RESULT ' <<<"$out" | cut -c8-)"
}

# skip WORKLOAD REASON: records a workload that could not run.
skip() {
  printf '{"server":"%s","workload":"%s","skipped":"%s"}\n' "$server" "$1" "$2" >>"$results"
  say "$server $1: skipped: $2"
}

bench_onnxserve() {
  server=onnxserve
  local base="http://127.0.0.1:$PORT"
  start onnxserve "$base/healthz" "$work/bin/onnxserve" serve --addr "127.0.0.1:$PORT" --models "$work/repo"
  load iris-named-1 "$base/v1/models/iris/predict" iris_named.json
  load iris-rows-64 "$base/v1/models/iris/predict" iris_rows64.json
  load mlp-rows-1 "$base/v1/models/mlp/predict" mlp_b1.json
  load mlp-rows-1-batched "$base/v1/models/mlp_batched/predict" mlp_b1.json
  load mlp-rows-32 "$base/v1/models/mlp/predict" mlp_b32.json
  # The Open Inference Protocol endpoint comes with the v2 API; measure it
  # only when this build answers it.
  local v2="$base/v2/models/mlp/infer" hlen
  hlen="$(cat "$work/bodies/mlp_b32.bin.hlen")"
  if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Inference-Header-Content-Length: $hlen" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$work/bodies/mlp_b32.bin" "$v2")" = 200 ]; then
    load mlp-rows-32-v2 "$v2" mlp_b32.bin "$hlen"
  else
    skip mlp-rows-32-v2 "v2 not available"
  fi
  overload "$base"
  stop
}

# overload: 200 connections on the batched MLP (max_queue_size 64) while a
# second wrk checks /healthz; both pinned to the load core.
overload() {
  local base="$1" out
  BODY="$work/bodies/mlp_b1.json" COUNT_STATUS=1 taskset -c "$LOAD_CPU" \
    wrk -t1 -c200 -d"$DURATION" -s scripts/bench/body.lua "$base/v1/models/mlp_batched/predict" >"$work/logs/overload.out" &
  local flood=$!
  sleep 1 # let the flood build up first
  out="$(COUNT_STATUS=1 taskset -c "$LOAD_CPU" wrk -t1 -c4 -d"$(( ${DURATION%s} - 2 ))s" -s scripts/bench/body.lua "$base/healthz")"
  wait "$flood"
  printf '{"server":"onnxserve","workload":"overload-predict","result":%s}\n' "$(grep '^RESULT ' "$work/logs/overload.out" | cut -d' ' -f2-)" >>"$results"
  printf '{"server":"onnxserve","workload":"overload-healthz","result":%s}\n' "$(grep '^RESULT ' <<<"$out" | cut -d' ' -f2-)" >>"$results"
  say "overload predict: $(grep '^RESULT ' "$work/logs/overload.out" | cut -c8-)"
  say "overload healthz: $(grep '^RESULT ' <<<"$out" | cut -c8-)"
}

# bench_fastapi SERVER ASYNC: the FastAPI server, with plain `def`
# endpoints (ASYNC=0, FastAPI's advice for blocking calls) or `async def`.
bench_fastapi() {
  server="$1"
  local base="http://127.0.0.1:$PORT"
  # OPENBLAS_CORETYPE/L2_SIZE, set on some machines for old OpenBLAS
  # builds, slow a current numpy; one BLAS thread on the one core it gets.
  start "$server" "$base/healthz" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
    BENCH_MODELS="$work/models" FASTAPI_ASYNC="$2" \
    "$PY" -m uvicorn fastapi_server:app --app-dir scripts/bench --host 127.0.0.1 --port "$PORT" \
    --workers 1 --loop uvloop --http httptools --log-level warning --no-access-log
  load iris-named-1 "$base/iris" iris_named.json
  load iris-rows-64 "$base/iris/batch" iris_rows64.json
  load mlp-rows-1 "$base/mlp" mlp_b1.json
  load mlp-rows-32 "$base/mlp" mlp_b32.json
  stop
}

bench_floor() {
  server=floor
  local base="http://127.0.0.1:$PORT"
  start floor "$base/" "$work/bin/floor" -addr "127.0.0.1:$PORT"
  load iris-named-1 "$base/" iris_named.json
  load iris-rows-64 "$base/" iris_rows64.json
  load mlp-rows-1 "$base/" mlp_b1.json
  load mlp-rows-32 "$base/" mlp_b32.json
  load mlp-rows-32-v2 "$base/" mlp_b32.bin "$(cat "$work/bodies/mlp_b32.bin.hlen")"
  stop
}

# inprocess: ORT's own rate and the handler's in-process profiles, on the
# server core; the report quotes them for the targets they explain.
inprocess() {
  go test -c -o "$work/bin/runtime.test" ./runtime
  go test -c -o "$work/bin/handlers.test" ./handlers
  (cd runtime && taskset -c "$SERVER_CPU" "$work/bin/runtime.test" -test.run XXX \
    -test.bench 'ORT/mlp-b32|Batcher' -test.benchtime 3s) >"$work/ort.txt"
  local c
  for c in iris-named-1 iris-rows-64 mlp-rows-1 mlp-rows-32; do
    (cd handlers && taskset -c "$SERVER_CPU" "$work/bin/handlers.test" -test.run XXX \
      -test.bench "^Predict\$/^$c\$" -test.benchtime 3s -test.cpuprofile "$work/profiles/$c.prof") >"$work/profiles/$c.bench"
    go tool pprof -top -nodecount 12 "$work/bin/handlers.test" "$work/profiles/$c.prof" 2>/dev/null >"$work/profiles/$c.txt"
  done
}

meta() {
  {
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($(nproc) cores)"
    echo "go=$(go env GOVERSION)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo '+changes')"
    echo "python=$("$PY" -c 'import platform; print(platform.python_version())')"
    echo "fastapi=$("$PY" -c 'import fastapi, pydantic, uvicorn, sklearn, numpy; print(f"FastAPI {fastapi.__version__}, pydantic {pydantic.VERSION}, uvicorn {uvicorn.__version__}, scikit-learn {sklearn.__version__}, numpy {numpy.__version__}")')"
    echo "blas=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 "$PY" -c '
import numpy, threadpoolctl
print("; ".join("%s %s (%s kernel, %s thread)" % (i.get("internal_api"), i.get("version"), i.get("architecture"), i.get("num_threads"))
                for i in threadpoolctl.threadpool_info()))')"
    echo "wrk=wrk -t1 -c$CONNS -d$DURATION --latency (after a $WARMUP warm-up), pinned to core $LOAD_CPU; servers pinned to core $SERVER_CPU"
  } >"$work/meta.env"
}

deps
prepare
[ "${1:-}" = prepare ] && exit 0
mkdir -p "$work/logs" "$work/profiles"
results="$work/results.jsonl"
: >"$results"
meta
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews every number)"
bench_onnxserve
bench_fastapi fastapi 0
bench_fastapi fastapi-async 1
bench_floor
inprocess
"$work/bin/report" -work "$work" -md docs/benchmarks.md -png docs/img/bench.png
say "wrote docs/benchmarks.md and docs/img/bench.png"
