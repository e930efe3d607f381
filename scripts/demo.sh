#!/usr/bin/env bash
# make demo: the whole story on one machine. Builds tenure-issuer, makes a
# throwaway issuer key, builds the validator trusting it and tenure around
# that validator, then plays the life of an appliance against
# `tenure-issuer serve` on 127.0.0.1 (scripts/demo/). Everything lives in a
# temporary folder, removed at the end with the processes started here;
# DEMO_KEEP=1 keeps the folder to look at the files afterwards.
#
# Nothing is written to the source tree: the validator module is embedded
# into tenure through `go build -overlay`, not copied into wasm/module/.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
mod=github.com/tenurehq/tenure

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tenure-demo.XXXXXX")
bin=$tmp/bin work=$tmp/work
mkdir -p "$bin" "$work"
# The resident host the demo's tenure starts listens in the folder too, and
# stops with the demo.
export XDG_RUNTIME_DIR=$tmp/run
mkdir -m 700 -p "$XDG_RUNTIME_DIR"

# The demo runs in a process group of its own (set -m below): stopping it
# stops the issuer and any tenure it started, before the folder goes.
stop() {
  if [ -n "${story:-}" ]; then
    kill -TERM -- "-$story" 2>/dev/null || true
    wait "$story" 2>/dev/null || true
  fi
  if [ -s "$tmp/run/tenure.sock.lock" ]; then
    kill -TERM "$(cat "$tmp/run/tenure.sock.lock")" 2>/dev/null || true
  fi
  if [ -n "${DEMO_KEEP:-}" ]; then
    echo "demo: kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap stop EXIT
trap 'exit 130' INT TERM

b64() { base64 <"$1" | tr -d '\n'; }
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }

start=$(date +%s)
echo "demo: building tenure-issuer, the validator and tenure (the first build takes minutes, later ones seconds)"
"$GO" build -o "$bin/demo" ./scripts/demo &
driver=$!
"$GO" build -trimpath -o "$bin/tenure-issuer" ./issuer/cmd/tenure-issuer
"$bin/tenure-issuer" keygen --name tenure-demo --dir "$work/issuer" >/dev/null
ldflags="-s -w -X $mod/validator.buildTrust=$(b64 "$work/issuer/issuer.pub")"
GOOS=wasip1 GOARCH=wasm "$GO" build -trimpath -buildmode=c-shared -ldflags "$ldflags" \
  -o "$bin/validator-reactor.wasm" ./validator/cmd/validator-reactor
printf '{"Replace":{"%s":"%s"}}\n' "$PWD/wasm/module/validator-reactor.wasm" "$bin/validator-reactor.wasm" >"$tmp/overlay.json"
"$GO" build -trimpath -overlay "$tmp/overlay.json" \
  -ldflags "-s -w -X $mod/wasm.moduleSHA256=$(sha256 "$bin/validator-reactor.wasm")" \
  -o "$bin/tenure" ./wasm/cmd/tenure
wait $driver
echo "demo: built in $(($(date +%s) - start))s; the validator trusts $(cat "$work/issuer/issuer.pub")"

# The module compiled by wazero is this run's only: keep it with the rest.
export XDG_CACHE_HOME=$tmp/cache
set -m
"$bin/demo" --bin "$bin" --dir "$work" &
story=$!
set +m
wait "$story"
