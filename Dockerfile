# onnxserve: one binary + ONNX Runtime's CPU library + the model repository.
#   docker build -t onnxserve .
#   docker run -p 8080:8080 -v $PWD/models:/models onnxserve
# For a GPU build, mount a CUDA libonnxruntime.so (1.24.x) and set ORT_LIB.

FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY scripts/setup-ort.sh scripts/
RUN ORT_CACHE=/ort scripts/setup-ort.sh
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /onnxserve ./cmd/onnxserve

FROM debian:bookworm-slim
# libstdc++ for ONNX Runtime; the en_US.UTF-8 locale for models using
# StringNormalizer, which fails to load without it.
RUN apt-get update && apt-get install -y --no-install-recommends libstdc++6 locales ca-certificates \
    && localedef -i en_US -f UTF-8 en_US.UTF-8 && rm -rf /var/lib/apt/lists/*
ENV LANG=en_US.UTF-8 \
    ORT_LIB=/opt/onnxruntime/libonnxruntime.so \
    ONNXSERVE_ADDR=:8080 \
    ONNXSERVE_MODELS=/models \
    MALLOC_ARENA_MAX=2
COPY --from=build /ort/libonnxruntime.so /opt/onnxruntime/libonnxruntime.so
COPY --from=build /onnxserve /usr/local/bin/onnxserve
COPY models /models
RUN useradd --system --uid 10001 onnxserve
USER onnxserve
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/onnxserve"]
CMD ["serve"]
