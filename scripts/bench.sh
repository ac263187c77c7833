#!/usr/bin/env bash
# The benchmark of docs/benchmarks.md: onnxserve against a FastAPI +
# uvicorn server built the usual way and a std-lib Go HTTP floor, each
# pinned to core 0 and loaded by wrk pinned to core 1, on the same models
# (../shared/bench/make_models.py) and the same request bodies (floats as
# Python's json writes them). Writes docs/benchmarks.md and
# docs/img/bench.png. About 10 minutes.
#
# The same onnxserve also serves gRPC (KServe v2 GRPCInferenceService, on
# --grpc-addr) when the build has it: scripts/bench/grpcload, pinned to the
# load core like wrk, sends ModelInfer calls with the REST rows' numbers
# (32 concurrent callers over 4 HTTP/2 connections); scripts/bench/chart
# reports its rows and targets with the others.
#
# The limit of a REST workload (issue 15): the floor's µs per request on
# its body plus ORT's own run on pre-made tensors for its model and batch
# (BenchmarkORT, in process on the server core), both from this run; the
# report gives each row's req/s as a share of 1 / that sum. The limit is
# also measured whole: the floor binary run again as floor-ort with
# -model, whose /ort/MODEL/BATCH route reads the same body, runs ORT on
# pre-made tensors and writes the fixed answer, in the same rounds.
#
# The cost of metrics and of the access log (both on by default): two more
# onnxserve processes, the same binary on the same repository, one with
# --metrics=false and one with --access-log=false as well, run the first
# REST workload (iris, one named-feature row) in the same rounds, right
# after the default server; the report holds the default to 97% of the
# first and says what the access log costs. The access lines go where the
# server's log goes, a file in $work/logs.
#
# Other work on the machine only ever slows a run down, and it comes and
# goes; so all servers are started at once (an idle one costs nothing),
# the workloads go round-robin across the servers ROUNDS times, and the
# report keeps each server's best run of each workload (and its highest
# peak RSS).
#
#   scripts/bench.sh           prepare, measure, write the report
#   scripts/bench.sh prepare   only build the models, bodies and binaries
#                              (what `go test -bench` in runtime/ and
#                              handlers/ reads)
#
# DURATION (5s), WARMUP (1s) and ROUNDS (3) set the wrk runs. BASELINE,
# an earlier run's results.jsonl copied out of .cache/bench (this run
# overwrites that one), has the report hold every onnxserve workload to its
# req/s and peak RSS. BEFORE, an older onnxserve binary, does the same in
# one run: it serves as the server "before" (its gRPC too), loaded right
# after onnxserve with each onnxserve workload in every round, so that both
# builds meet the same phases of the machine (on a VM, whole runs of the
# same build differ by 2x); its results go to before.jsonl, the baseline.
# Needs
# Debian's wrk, linux-perf, python3-fastapi, -uvicorn, -uvloop, -httptools,
# -sklearn, -onnx; installs them with apt-get when missing and run as root.
set -euo pipefail

# A relative BASELINE or BEFORE is the caller's, from before the cd below.
[ -n "${BASELINE:-}" ] && BASELINE="$(realpath -m "$BASELINE")"
[ -n "${BEFORE:-}" ] && BEFORE="$(realpath -m "$BEFORE")"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$root/.cache/bench" # git-ignored
DURATION="${DURATION:-5s}"
WARMUP="${WARMUP:-1s}"
ROUNDS="${ROUNDS:-3}"
CONNS=32
SERVER_CPU=0
LOAD_CPU=1
declare -A port=([onnxserve]=18080 [fastapi]=18081 [fastapi-async]=18082 [floor]=18083 [grpc]=18084
  [onnxserve-no-metrics]=18085 [onnxserve-no-metrics-no-access-log]=18086 [floor-ort]=18087
  [before]=18088 [grpc-before]=18089)
GRPC_CONNS=4 # HTTP/2 connections that grpcload spreads its $CONNS callers over
grpc_on=0    # set by start_all: this onnxserve build has --grpc-addr
before_grpc=0 # set by start_all: the BEFORE build has it too
# The onnxserve variants (server process → its flags, beyond the default
# server's) and what start_all found missing in this build ("" for none).
declare -A variant=([onnxserve-no-metrics]="--metrics=false"
  [onnxserve-no-metrics-no-access-log]="--metrics=false --access-log=false")
declare -A variant_missing
declare -A pid
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
  command -v perf >/dev/null || missing+=(linux-perf)
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
  ort_lib="$(scripts/setup-ort.sh)"
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
  go build -o "$work/bin/grpcload" ./scripts/bench/grpcload
  (cd scripts/bench/chart && go build -o "$work/bin/report" .)
}

# start NAME HEALTH_PATH CMD...: runs CMD pinned to the server core and
# waits until it answers on its port.
start() {
  local name="$1" health="http://127.0.0.1:${port[$1]}$2"
  shift 2
  taskset -c "$SERVER_CPU" "$@" >"$work/logs/$name.log" 2>&1 &
  pid[$name]=$!
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "$health"; then
      echo "idle_rss_$name=$(awk '/^VmRSS/ {print $2}' "/proc/${pid[$name]}/status")" >>"$work/meta.env"
      return
    fi
    kill -0 "${pid[$name]}" 2>/dev/null || die "$name exited: $(tail -n 5 "$work/logs/$name.log")"
    sleep 0.2
  done
  die "$name did not answer $health"
}

stop_all() {
  local name
  for name in "${!pid[@]}"; do
    kill "${pid[$name]}" 2>/dev/null || true
    wait "${pid[$name]}" 2>/dev/null || true
  done
  pid=()
}

start_all() {
  # gRPC on its own port of the same process when the build has it (it is
  # on by default on :8001 in builds that do: always say where).
  local help grpc=()
  help="$("$work/bin/onnxserve" serve --help 2>&1 || true)"
  if [[ $help == *-grpc-addr* ]]; then
    grpc_on=1
    grpc=(--grpc-addr "127.0.0.1:${port[grpc]}")
  fi
  start onnxserve /healthz "$work/bin/onnxserve" serve --addr "127.0.0.1:${port[onnxserve]}" "${grpc[@]}" --models "$work/repo"
  # The variants: the same, without gRPC (it is the default server's), with
  # their flags; idle but for their W1 runs. A build without a flag has its
  # variant recorded as skipped by runs.
  local v flag flags
  [ "$grpc_on" = 1 ] && grpc=(--grpc-addr "")
  for v in "${!variant[@]}"; do
    variant_missing[$v]=""
    for flag in ${variant[$v]}; do
      flag="${flag%%=*}"
      # serve --help names a flag with two dashes since the config file
      # (6528d96), flag.PrintDefaults with one.
      grep -qE -- "^ +--?${flag#--}( |\$)" <<<"$help" || variant_missing[$v]+="${variant_missing[$v]:+, }$flag"
    done
    [ -n "${variant_missing[$v]}" ] && continue
    read -ra flags <<<"${variant[$v]}"
    start "$v" /healthz "$work/bin/onnxserve" serve --addr "127.0.0.1:${port[$v]}" "${grpc[@]}" "${flags[@]}" --models "$work/repo"
  done
  # OPENBLAS_CORETYPE/L2_SIZE, set on some machines for old OpenBLAS
  # builds, slow a current numpy; one BLAS thread on the one core it gets.
  local name async
  for name in fastapi fastapi-async; do
    async=0
    [ "$name" = fastapi-async ] && async=1
    start "$name" /healthz env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
      BENCH_MODELS="$work/models" FASTAPI_ASYNC="$async" \
      "$PY" -m uvicorn fastapi_server:app --app-dir scripts/bench --host 127.0.0.1 --port "${port[$name]}" \
      --workers 1 --loop uvloop --http httptools --log-level warning --no-access-log
  done
  if [ -n "${BEFORE:-}" ]; then
    grpc=()
    if [ "$grpc_on" = 1 ] && [[ "$("$BEFORE" serve --help 2>&1 || true)" == *-grpc-addr* ]]; then
      before_grpc=1
      grpc=(--grpc-addr "127.0.0.1:${port[grpc-before]}")
    fi
    start before /healthz "$BEFORE" serve --addr "127.0.0.1:${port[before]}" "${grpc[@]}" --models "$work/repo"
  fi
  start floor / "$work/bin/floor" -addr "127.0.0.1:${port[floor]}"
  start floor-ort / "$work/bin/floor" -addr "127.0.0.1:${port[floor-ort]}" -ort-lib "$ort_lib" \
    -model iris="$work/models/iris.onnx" -model mlp="$work/models/mlp.onnx"
}

# answers_v2 SERVER reports whether that onnxserve build answers the v2
# binary body (the Open Inference Protocol came with the v2 API).
answers_v2() {
  local hlen
  hlen="$(cat "$work/bodies/mlp_b32.bin.hlen")"
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Inference-Header-Content-Length: $hlen" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$work/bodies/mlp_b32.bin" \
    "http://127.0.0.1:${port[$1]}/v2/models/mlp/infer")" = 200 ]
}

# runs lists the measurements, one a line: SERVER WORKLOAD PATH BODY
# [HEADER_LEN]. fastapi has plain `def` endpoints (FastAPI's advice for
# blocking calls), fastapi-async `async def` ones.
runs() {
  local hlen
  hlen="$(cat "$work/bodies/mlp_b32.bin.hlen")"
  echo "onnxserve iris-named-1 /v1/models/iris/predict iris_named.json"
  # The variants' W1, right after the default server's: recorded as
  # onnxserve's workload iris-named-1-<variant> (load names the server).
  local v
  for v in onnxserve-no-metrics onnxserve-no-metrics-no-access-log; do
    if [ -z "${variant_missing[$v]}" ]; then
      echo "$v iris-named-1${v#onnxserve} /v1/models/iris/predict iris_named.json"
    else
      printf '{"server":"onnxserve","workload":"iris-named-1%s","skipped":"no %s in this build"}\n' "${v#onnxserve}" "${variant_missing[$v]}" >>"$results"
      say "onnxserve iris-named-1${v#onnxserve}: skipped: no ${variant_missing[$v]} in this build"
    fi
  done
  cat <<EOF
fastapi iris-named-1 /iris iris_named.json
fastapi-async iris-named-1 /iris iris_named.json
floor iris-named-1 / iris_named.json
onnxserve iris-rows-64 /v1/models/iris/predict iris_rows64.json
fastapi iris-rows-64 /iris/batch iris_rows64.json
fastapi-async iris-rows-64 /iris/batch iris_rows64.json
floor iris-rows-64 / iris_rows64.json
onnxserve mlp-rows-1 /v1/models/mlp/predict mlp_b1.json
onnxserve mlp-rows-1-batched /v1/models/mlp_batched/predict mlp_b1.json
fastapi mlp-rows-1 /mlp mlp_b1.json
fastapi-async mlp-rows-1 /mlp mlp_b1.json
floor mlp-rows-1 / mlp_b1.json
onnxserve mlp-rows-32 /v1/models/mlp/predict mlp_b32.json
fastapi mlp-rows-32 /mlp mlp_b32.json
fastapi-async mlp-rows-32 /mlp mlp_b32.json
floor mlp-rows-32 / mlp_b32.json
floor mlp-rows-32-v2 / mlp_b32.bin $hlen
floor-ort iris-named-1 /ort/iris/1 iris_named.json
floor-ort iris-rows-64 /ort/iris/64 iris_rows64.json
floor-ort mlp-rows-1 /ort/mlp/1 mlp_b1.json
floor-ort mlp-rows-32 /ort/mlp/32 mlp_b32.json
floor-ort mlp-rows-32-v2 /ort/mlp/32 mlp_b32.bin $hlen
EOF
  # Measured only when this build answers v2.
  if answers_v2 onnxserve; then
    echo "onnxserve mlp-rows-32-v2 /v2/models/mlp/infer mlp_b32.bin $hlen"
  else
    printf '{"server":"onnxserve","workload":"mlp-rows-32-v2","skipped":"v2 not available"}\n' >>"$results"
    say "onnxserve mlp-rows-32-v2: skipped: v2 not available"
  fi
  # gRPC: grpc WORKLOAD MODEL BODY [GRPCLOAD_FLAGS]. The iris row is the
  # named-feature body's numbers (in the config's feature order) as the
  # model's input tensor; the MLP's is the v2 binary body's tensor.
  local w
  if [ "$grpc_on" = 1 ]; then
    cat <<EOF
grpc grpc-iris-1-typed iris iris_named.json
grpc grpc-iris-1-raw iris iris_named.json -raw
grpc grpc-mlp-rows-32-raw mlp mlp_b32.bin -raw
EOF
  else
    for w in grpc-iris-1-typed grpc-iris-1-raw grpc-mlp-rows-32-raw; do
      printf '{"server":"onnxserve","workload":"%s","skipped":"gRPC not available"}\n' "$w" >>"$results"
    done
    say "onnxserve gRPC rows: skipped: this build has no --grpc-addr"
  fi
}

# anon_start PID / anon_stop: sample PID's RssAnon every 50 ms from the
# one to the other, on the load generator's core; anon_stop sets anon to
# the highest seen (0 for none). VmHWM also counts the pages of the binary
# and its libraries that a start maps, which depend on the page cache (the
# same build was seen at 66 and at 78 MB idle): RssAnon is the memory the
# server allocated. The sampler reads /proc and waits with bash builtins,
# forking nothing.
anon_start() {
  rm -f "$work/anon.stop" "$work/anon.kb"
  taskset -c "$LOAD_CPU" bash -c '
    exec {w}<> <(:)
    m=0
    while [ ! -e "$2" ] && [ -e "/proc/$1/status" ]; do
      while read -r k v _; do
        if [ "$k" = RssAnon: ]; then ((v > m)) && m=$v; break; fi
      done <"/proc/$1/status"
      read -r -t 0.05 -u "$w" _ || true
    done
    echo "$m" >"$3"' anon "$1" "$work/anon.stop" "$work/anon.kb" &
  anon_pid=$!
}
anon_stop() {
  touch "$work/anon.stop"
  wait "$anon_pid" 2>/dev/null || true
  anon="$(cat "$work/anon.kb" 2>/dev/null || true)"
  anon="${anon:-0}"
}

# load SERVER WORKLOAD PATH BODY [HEADER_LEN]: warm up, reset the server's
# peak RSS, run wrk and record its RESULT line with the run's peak RSS
# (VmHWM) and peak RssAnon (sampled). A variant of onnxserve is recorded as
# onnxserve (its workload names it).
load() {
  local server="$1" workload="$2" url="http://127.0.0.1:${port[$1]}$3" body="$4" hlen="${5:-}"
  local p="${pid[$server]}" out record="$1" anon
  [ -n "${variant[$server]:-}" ] && record=onnxserve
  BODY="$work/bodies/$body" HEADER_LEN="$hlen" taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$CONNS" -d"$WARMUP" -s scripts/bench/body.lua "$url" >/dev/null
  echo 5 >"/proc/$p/clear_refs" # resets VmHWM to the current RSS
  anon_start "$p"
  out="$(BODY="$work/bodies/$body" HEADER_LEN="$hlen" taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s scripts/bench/body.lua "$url" | grep '^RESULT ' | cut -d' ' -f2-)"
  anon_stop
  printf '{"server":"%s","workload":"%s","rss_kb":%s,"anon_kb":%s,"load":"%s","result":%s}\n' "$record" "$workload" \
    "$(awk '/^VmHWM/ {print $2}' "/proc/$p/status")" "$anon" "$(cut -d' ' -f1-3 /proc/loadavg)" "$out" >>"$results"
  say "$record $workload: $(cut -c1-110 <<<"$out")"
}

# grpc_load SERVER WORKLOAD MODEL BODY [FLAGS]: the gRPC counterpart of
# load, one grpcload run (its own warm-up, then the peak RSS reset, then
# the measured time) recorded in the same form as wrk's; a run where no call
# succeeded is recorded as skipped with grpcload's reason. SERVER is grpc
# (onnxserve's gRPC port) or grpc-before (the BEFORE build's).
grpc_load() {
  local server="$1" record=onnxserve
  shift
  [ "$server" = grpc-before ] && record=before
  local workload="$1" model="$2" body="$3" flags="${4:-}" p="${pid[$record]}" out err anon
  local duration="$DURATION" warmup="$WARMUP" # wrk takes bare seconds, Go durations need a unit
  [[ $duration =~ ^[0-9]+$ ]] && duration+=s
  [[ $warmup =~ ^[0-9]+$ ]] && warmup+=s
  # The sampler runs over grpcload's warm-up too: RssAnon's peak cannot
  # be reset as VmHWM is (grpcload resets that after its warm-up).
  anon_start "$p"
  # shellcheck disable=SC2086 # $flags is zero or more words
  if out="$(taskset -c "$LOAD_CPU" "$work/bin/grpcload" -addr "127.0.0.1:${port[$server]}" -model "$model" \
    -request "$work/bodies/$body" $flags -conns "$GRPC_CONNS" -concurrency "$CONNS" \
    -warmup "$warmup" -duration "$duration" -pid "$p" </dev/null 2>"$work/logs/grpcload-$server-$workload.err")"; then
    # RESULT requests=N ok=N errors=N rps=R p50_ms=… p99_ms=… max_ms=… client_cpu=F codes=OK:N,… rss_kb=N
    out="$(grep '^RESULT ' <<<"$out" | awk '{
      for (i = 2; i <= NF; i++) { k = substr($i, 1, index($i, "=") - 1); v[k] = substr($i, index($i, "=") + 1) }
      n = split(v["codes"], cs, ","); st = ""
      for (i = 1; i <= n; i++) { split(cs[i], c, ":"); st = st (i > 1 ? "," : "") "\"" c[1] "\":" c[2] }
      printf "%d {\"requests\":%d,\"ok\":%d,\"errors\":%d,\"rps\":%s,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,\"client_cpu\":%s,\"status\":{%s}}",
        v["rss_kb"], v["requests"], v["ok"], v["errors"], v["rps"], 1000 * v["p50_ms"], 1000 * v["p99_ms"], 1000 * v["max_ms"], v["client_cpu"], st }')"
    anon_stop
    printf '{"server":"%s","workload":"%s","rss_kb":%s,"anon_kb":%s,"load":"%s","result":%s}\n' "$record" "$workload" "${out%% *}" \
      "$anon" "$(cut -d' ' -f1-3 /proc/loadavg)" "${out#* }" >>"$results"
    say "$record $workload: $(cut -c1-110 <<<"${out#* }")"
  else
    anon_stop
    err="$(tail -n 1 "$work/logs/grpcload-$server-$workload.err" | tr -d '"\\')"
    printf '{"server":"%s","workload":"%s","skipped":"failed: %s"}\n' "$record" "$workload" "$err" >>"$results"
    say "$record $workload: failed: $err"
  fi
}

# overload: 200 connections on the batched MLP (max_queue_size 64) while a
# second wrk checks /healthz; both pinned to the load core.
overload() {
  local base="http://127.0.0.1:${port[onnxserve]}" out
  BODY="$work/bodies/mlp_b1.json" COUNT_STATUS=1 taskset -c "$LOAD_CPU" \
    wrk -t1 -c200 -d10s -s scripts/bench/body.lua "$base/v1/models/mlp_batched/predict" >"$work/logs/overload.out" &
  local flood=$!
  sleep 1 # let the flood build up first
  out="$(COUNT_STATUS=1 taskset -c "$LOAD_CPU" wrk -t1 -c4 -d8s -s scripts/bench/body.lua "$base/healthz")"
  wait "$flood"
  printf '{"server":"onnxserve","workload":"overload-predict","result":%s}\n' "$(grep '^RESULT ' "$work/logs/overload.out" | cut -d' ' -f2-)" >>"$results"
  printf '{"server":"onnxserve","workload":"overload-healthz","result":%s}\n' "$(grep '^RESULT ' <<<"$out" | cut -d' ' -f2-)" >>"$results"
  say "overload predict: $(grep '^RESULT ' "$work/logs/overload.out" | cut -c8-)"
  say "overload healthz: $(grep '^RESULT ' <<<"$out" | cut -c8-)"
}

# perf_profiles: where a request's time goes on the server core over
# HTTP, which the in-process profiles below leave out (net/http, the
# kernel's TCP, waking the load generator, the caches the run shares):
# for each REST workload with a measured limit, onnxserve and floor-ort on
# the same body, one more wrk run of DURATION each while `perf record -C`
# samples the server core (cpu-clock: every process on it, idle too).
# perf report's samples by binary and symbol go to
# $work/perf/SERVER-WORKLOAD.txt and wrk's result to .result beside it;
# the report turns them into µs per request by part. Skipped, and said
# so, where perf cannot sample the core (no perf, or not allowed).
# The workloads are the report's limit targets (chart's limitTargets).
perf_workloads=" iris-named-1 mlp-rows-1 mlp-rows-32 mlp-rows-32-v2 "
perf_profiles() {
  rm -rf "$work/perf"
  mkdir -p "$work/perf"
  if ! perf record -q -e cpu-clock -C "$SERVER_CPU" -o "$work/perf/probe.data" -- sleep 0.1 >/dev/null 2>&1; then
    say "perf: cannot sample core $SERVER_CPU; no profiles over HTTP in the report"
    rm -rf "$work/perf"
    return
  fi
  rm -f "$work/perf/probe.data"
  local server workload path body hlen url out
  while read -r server workload path body hlen; do
    [ "$server" = onnxserve ] || [ "$server" = floor-ort ] || continue
    [[ $perf_workloads == *" $workload "* ]] || continue
    url="http://127.0.0.1:${port[$server]}$path"
    out="$work/perf/$server-$workload"
    BODY="$work/bodies/$body" HEADER_LEN="$hlen" taskset -c "$LOAD_CPU" \
      wrk -t1 -c"$CONNS" -d"$WARMUP" -s scripts/bench/body.lua "$url" >/dev/null
    # A profile that fails is left out of the report, not the run's end.
    if BODY="$work/bodies/$body" HEADER_LEN="$hlen" perf record -q -e cpu-clock -C "$SERVER_CPU" -o "$out.data" -- \
      taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" -s scripts/bench/body.lua "$url" |
      grep '^RESULT ' | cut -d' ' -f2- >"$out.result" &&
      perf report -i "$out.data" --no-children -n --sort dso,sym --stdio -g none >"$out.txt" 2>/dev/null; then
      say "perf $server $workload: $(cut -c1-80 "$out.result")"
    else
      say "perf $server $workload: failed; left out of the report"
      rm -f "$out.result" "$out.txt"
    fi
    rm -f "$out.data"
  done <"$work/runs.txt"
}

# inprocess: ORT's own rate and the handler's in-process profiles, on the
# server core; the report quotes them for the targets they explain.
# BenchmarkORT's cases are every REST workload's model and batch: their
# ns per run, added to the floor's µs per request on the same body, is the
# least a request can cost (the report's limit).
inprocess() {
  go test -c -o "$work/bin/runtime.test" ./runtime
  go test -c -o "$work/bin/handlers.test" ./handlers
  (cd runtime && taskset -c "$SERVER_CPU" "$work/bin/runtime.test" -test.run XXX \
    -test.bench '^Benchmark(ORT|Batcher)$' -test.benchtime 3s) >"$work/ort.txt"
  local c
  for c in iris-named-1 iris-rows-64 mlp-rows-1 mlp-rows-32; do
    (cd handlers && taskset -c "$SERVER_CPU" "$work/bin/handlers.test" -test.run XXX \
      -test.bench "^BenchmarkPredict\$/^$c\$" -test.benchtime 3s -test.cpuprofile "$work/profiles/$c.prof") >"$work/profiles/$c.bench"
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
    echo "grpcload=grpcload -conns $GRPC_CONNS -concurrency $CONNS -duration $DURATION -warmup $WARMUP"
    echo "conns=$CONNS"
    echo "grpc_conns=$GRPC_CONNS"
    echo "load_cpu=$LOAD_CPU"
    echo "wrk=wrk -t1 -c$CONNS -d$DURATION --latency\` after a $WARMUP warm-up, pinned to core $LOAD_CPU (servers on core $SERVER_CPU); the best of $ROUNDS rounds run round-robin across the servers, so that interference from other work on the machine hits all alike"
  } >"$work/meta.env"
}

# with_before copies each onnxserve measurement of runs for the BEFORE
# build, right after it (not the variants, which are onnxserve's alone).
with_before() {
  local server rest workload
  while read -r server rest; do
    echo "$server $rest"
    [ -z "${BEFORE:-}" ] && continue
    if [ "$server" = grpc ] && [ "$before_grpc" = 1 ]; then
      echo "grpc-before $rest"
    elif [ "$server" = onnxserve ]; then
      read -r workload _ <<<"$rest"
      if [ "$workload" = mlp-rows-32-v2 ] && ! answers_v2 before; then
        say "before $workload: skipped: v2 not available in the BEFORE build"
      else
        echo "before $rest"
      fi
    fi
  done
  [ -z "${BEFORE:-}" ] || [ "$before_grpc" = 1 ] || [ "$grpc_on" = 0 ] ||
    say "before gRPC rows: skipped: the BEFORE build has no --grpc-addr"
}

report_args=()
[ -n "${BASELINE:-}" ] && [ -n "${BEFORE:-}" ] && die "BASELINE and BEFORE: set one"
if [ -n "${BEFORE:-}" ]; then
  [ -f "$BEFORE" ] && [ -x "$BEFORE" ] || die "BEFORE $BEFORE: no such executable"
fi
if [ -n "${BASELINE:-}" ]; then
  # Checked before the run, not found missing ten minutes later.
  [ -f "$BASELINE" ] || die "BASELINE $BASELINE: no such file"
  [ "$(realpath "$BASELINE")" != "$(realpath -m "$work/results.jsonl")" ] ||
    die "BASELINE is this run's own results.jsonl, which the run overwrites: copy it elsewhere first"
  report_args=(-baseline "$(realpath "$BASELINE")")
fi
deps
prepare
[ "${1:-}" = prepare ] && exit 0
mkdir -p "$work/logs" "$work/profiles"
results="$work/results.jsonl"
: >"$results"
meta
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
trap stop_all EXIT
start_all
runs | with_before >"$work/runs.txt"
for round in $(seq "$ROUNDS"); do
  say "round $round of $ROUNDS"
  while read -r server workload path body hlen; do
    if [ "$server" = grpc ] || [ "$server" = grpc-before ]; then
      grpc_load "$server" "$workload" "$path" "$body" "$hlen"
    else
      load "$server" "$workload" "$path" "$body" "$hlen"
    fi
  done <"$work/runs.txt"
done
overload
perf_profiles
stop_all
inprocess
if [ -n "${BEFORE:-}" ]; then
  # The BEFORE build's measurements are the baseline, as onnxserve's.
  grep '^{"server":"before"' "$results" | sed 's/^{"server":"before"/{"server":"onnxserve"/' >"$work/before.jsonl" || true
  grep -v '^{"server":"before"' "$results" >"$work/results.tmp" || true
  mv "$work/results.tmp" "$results"
  report_args=(-baseline "$work/before.jsonl" -baseline-is "the older build's in the same rounds ($(basename "$BEFORE"))")
fi
"$work/bin/report" -work "$work" -md docs/benchmarks.md -png docs/img/bench.png "${report_args[@]}"
say "wrote docs/benchmarks.md and docs/img/bench.png"
