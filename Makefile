# The two set-up commands are `make run` and `make test`; both fetch ONNX
# Runtime into .cache/ first when it is missing (scripts/setup-ort.sh).
ADDR   ?= :8080
MODELS ?= ./models
GO     ?= go

.PHONY: run test deploy-test build ort docs proto models e2e bench vet fuzz soak compat

# go run is silent while it compiles, which the first time (cgo, gin, gRPC)
# takes minutes: say so, so that nobody thinks it hung.
run: ort
	@echo "building onnxserve (first run takes a few minutes; later runs start in seconds)" >&2
	$(GO) run ./cmd/onnxserve serve --addr $(ADDR) --models $(MODELS)

test: ort
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	scripts/swag.sh --check
	GO="$(GO)" scripts/protoc.sh --check
	scripts/check-layers.sh
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -tags purego ./handlers/jsontensor # fast32s without vector32s, as on other CPUs
	cd scripts/bench/chart && $(GO) vet ./... && $(GO) test -count=1 ./... # the bench report, a module of its own
	$(MAKE) deploy-test

# The Kubernetes and KServe manifests rendered and decoded strictly, the
# Dockerfile linted and its build steps run against a temporary root, and
# both checked against the binary built there (deploy/, a module of its own
# so that kustomize and k8s.io stay out of the server's).
deploy-test: ort
	cd deploy && $(GO) mod download && $(GO) vet ./... && $(GO) test -count=1 -timeout 30m ./...

build: ort
	$(GO) build -o bin/onnxserve ./cmd/onnxserve

ort:
	@scripts/setup-ort.sh >/dev/null

docs:
	scripts/swag.sh

# Regenerates handlers/grpc/inferencepb/*.pb.go from its .proto.
proto:
	GO="$(GO)" scripts/protoc.sh

# End-to-end tests against the real binary: the browser (Debian's chromium,
# installed when missing, driven by playwright-core; screenshots in
# e2e/artifacts/), then gRPC (a Node client loading the .proto at run time).
e2e:
	GO="$(GO)" scripts/e2e.sh
	GO="$(GO)" scripts/e2e-grpc.sh

# The compatibility suite: models made by others (npm packages, onnxruntime_go's
# test data), fetched into compat/.cache/ with their sha256 checked, served and
# compared with compat/testdata (README, "Compatibility").
.PHONY: compat
compat: ort
	GO="$(GO)" scripts/compat.sh

# Regenerates models/ and runtime/testdata/ (needs Debian's python3-onnx,
# python3-sklearn); the results are committed, so tests don't need Python.
models:
	/usr/bin/python3 scripts/export_models.py

# Every fuzz target of every package in turn, FUZZTIME each
# (scripts/fuzz.sh, which also says what it does about Go's fuzztime race).
FUZZTIME ?= 30s
fuzz: ort
	GO="$(GO)" FUZZTIME="$(FUZZTIME)" scripts/fuzz.sh

# The soak and attack test of the real binary (scripts/soak.sh): 1M mixed
# requests and 100 reloads by default, SOAK_REQUESTS=20000 for a short one.
soak: ort
	scripts/soak.sh

# onnxserve vs FastAPI vs a Go HTTP floor, one core each, wrk on the other;
# writes docs/benchmarks.md and docs/img/bench.png (about 7 minutes; installs
# wrk and Debian's Python packages with apt-get when missing).
bench: ort
	scripts/bench.sh
