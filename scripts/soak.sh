#!/usr/bin/env bash
# Soak and attack test of the real binary on loopback (issue 13): mixed good
# and bad requests at full concurrency with reloads, then 200 header-only
# connections and 64 parallel 32 MiB bodies. Prints RSS, goroutines and error
# counts; exits non-zero when a target is missed (scripts/soak/main.go has
# them). SOAK_REQUESTS (default 1000000), SOAK_RELOADS (100),
# SOAK_CONCURRENCY (64) and SOAK_BUDGET (--max-inflight-bytes, 512 MiB) size
# it; CI runs a short one.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
scripts/setup-ort.sh >/dev/null
"$GO" build -o bin/onnxserve ./cmd/onnxserve
"$GO" build -o bin/soak ./scripts/soak
exec bin/soak -bin bin/onnxserve -root . \
	-requests "${SOAK_REQUESTS:-1000000}" -reloads "${SOAK_RELOADS:-100}" \
	-concurrency "${SOAK_CONCURRENCY:-64}" -budget "${SOAK_BUDGET:-536870912}"
