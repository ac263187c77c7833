#!/usr/bin/env bash
# Builds the container's files under ROOT, as the image has them at /:
#   ROOT/usr/local/bin/onnxserve                 the server (cgo, stripped)
#   ROOT/opt/onnxruntime/libonnxruntime.so        ONNX Runtime ($ORT_VERSION)
#   ROOT/usr/lib/locale/en_US.UTF-8/              the locale string models need
#   ROOT/models/                                  the shipped models
# The Dockerfile's build stage runs it with ROOT=/rootfs; make test runs the
# same Dockerfile step with a temporary ROOT (deploy/image_test.go), so the
# image's build is tested without a Docker engine. Run from the repository.
set -euo pipefail
root="${1:?usage: scripts/image-root.sh ROOT}"
case "$root" in /*) ;; *) echo "image-root: ROOT must be absolute, got $root" >&2; exit 1 ;; esac
cd "$(dirname "$0")/.."
GO="${GO:-go}"

mkdir -p "$root/usr/local/bin" "$root/opt/onnxruntime" "$root/usr/lib/locale"
# No -trimpath: the compiled packages are then those make test has built
# already, in Go's build cache, and only the link is new.
CGO_ENABLED=1 $GO build -ldflags "-s -w -X main.version=${VERSION:-}" -o "$root/usr/local/bin/onnxserve" ./cmd/onnxserve
# setup-ort.sh fetches the library once into .cache/ (or takes ORT_LIB)
# and prints its path.
lib="$(scripts/setup-ort.sh)"
install -m 0644 "$lib" "$root/opt/onnxruntime/libonnxruntime.so"
# A directory-form locale (its path holds a slash) rather than the archive:
# it works on any glibc base image, a CUDA one included, found by LOCPATH.
localedef -i en_US -f UTF-8 "$root/usr/lib/locale/en_US.UTF-8"
# The models only: expected.json files are test data.
(cd models && find . -type f ! -name expected.json -exec install -D -m 0644 {} "$root/models/{}" \;)
