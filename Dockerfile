# onnxserve: the binary, ONNX Runtime's library, the en_US.UTF-8 locale and
# the shipped models on a slim base; no shell step runs in the final stage.
#   docker build -t onnxserve .
#   docker run --read-only -p 8080:8080 -p 8001:8001 -v $PWD/models:/models:ro onnxserve
# Build arguments:
#   ORT_VERSION     the ONNX Runtime CPU build fetched (1.24.x, the line onnxruntime_go v1.27.0 needs)
#   RUNTIME_IMAGE   the final stage's base. For a GPU, a CUDA runtime image with a glibc at least
#                   bookworm's 2.36, e.g. nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04; then mount a
#                   CUDA build of libonnxruntime.so 1.24.x and point ORT_LIB at it (-e ORT_LIB=...),
#                   as outside a container (README, "Set-up").
# make test runs this file's build steps against a temporary root and lints
# it (deploy/image_test.go): keep every build step a RUN of the build stage.

ARG RUNTIME_IMAGE=debian:12.11-slim

FROM golang:1.26.8-bookworm AS build
ARG ORT_VERSION=1.24.3
# npm fetches ONNX Runtime (scripts/setup-ort.sh); locales holds the
# definitions localedef compiles.
RUN apt-get update && apt-get install -y --no-install-recommends npm locales && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION is what onnxserve version reports (-X main.version).
ARG VERSION=""
RUN ORT_VERSION=${ORT_VERSION} VERSION=${VERSION} scripts/image-root.sh /rootfs

FROM ${RUNTIME_IMAGE}
COPY --from=build /rootfs/ /
# LOCPATH names the directory-form locale image-root.sh compiled, on any base.
ENV LANG=en_US.UTF-8 \
    LOCPATH=/usr/lib/locale \
    ORT_LIB=/opt/onnxruntime/libonnxruntime.so \
    ONNXSERVE_MODELS=/models \
    MALLOC_ARENA_MAX=2
# Numeric, so that it needs no passwd entry and Kubernetes' runAsNonRoot
# can check it. The server writes nothing to its file system.
USER 1000:1000
EXPOSE 8080 8001
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/local/bin/onnxserve", "health"]
ENTRYPOINT ["/usr/local/bin/onnxserve"]
CMD ["serve"]
