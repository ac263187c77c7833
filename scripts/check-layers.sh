#!/usr/bin/env bash
# The dependency rules of the layout (README, "Layout"), checked on the
# packages' real imports: the core and the runtime know no HTTP framework
# and no gRPC, nor do the metrics, the access log and the API keys; the gRPC front end knows no HTTP framework and no REST front
# end; and the JSON codec, the tensor types and the ONNX graph reader know no
# ONNX Runtime: they build and pass their tests with cgo off.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
fail() { echo "check-layers: $*" >&2; exit 1; }

# ONNX files are protobuf: runtime/onnxgraph reads them with protowire (and
# what protowire imports), which is all of protobuf the runtime may know.
protowire='^google.golang.org/protobuf/(encoding/protowire|internal/(detrand|errors))$'
for pkg in ./handlers/inference ./runtime/...; do
  if $GO list -deps "$pkg" | grep -vE "$protowire" | grep -qE '^github.com/gin-gonic/|^google.golang.org/(grpc|protobuf)'; then
    fail "$pkg imports gin, gRPC or protobuf beyond protowire"
  fi
done
# Prometheus' client speaks protobuf itself: only gin and gRPC are out. The
# keys and scopes serve both protocols through thin adapters beside them.
for pkg in ./handlers/metrics ./handlers/accesslog ./handlers/auth; do
  if $GO list -deps "$pkg" | grep -qE '^github.com/gin-gonic/|^google.golang.org/grpc'; then
    fail "$pkg imports gin or gRPC"
  fi
done
if $GO list -deps ./handlers/grpc | grep -qE '^github.com/gin-gonic/|^github.com/onnxserve/onnxserve/handlers/(v1|v2|rest|jsontensor)$'; then
  fail "handlers/grpc imports gin or a REST front end"
fi
for pkg in ./handlers/jsontensor ./runtime/tensor ./runtime/tensorimage ./runtime/imagetensor ./runtime/onnxgraph; do
  if $GO list -deps "$pkg" | grep -qE '^github.com/(gin-gonic|yalue/onnxruntime_go)|^github.com/onnxserve/onnxserve/(runtime|handlers)$'; then
    fail "$pkg imports gin, onnxruntime_go, runtime or handlers"
  fi
done
CGO_ENABLED=0 $GO test -count=1 ./handlers/jsontensor ./runtime/tensor ./runtime/tensorimage ./runtime/imagetensor ./runtime/onnxgraph
