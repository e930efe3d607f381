#!/usr/bin/env bash
# make build [TRUST=FILE] [PRODUCT=FILE] [FLOOR=RFC3339]: puts validator.wasm,
# validator-reactor.wasm, tenure and tenure-issuer in $BIN (default bin/).
#
# TRUST lists the issuer verifier keys the validator trusts, one a line, each
# optionally followed by " not-after=DATE" (as GET /v1/keys lists them).
# Without it the build trusts the development key .tenure/issuer/issuer.pub,
# made with `tenure-issuer keygen` if missing. PRODUCT is a tenure.product/v1
# file (default: the example product edge). FLOOR is the clock floor (off by
# default). The three are fixed into the validator with -ldflags -X.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${BIN:-bin}
TRUST=${TRUST:-}
PRODUCT=${PRODUCT:-}
FLOOR=${FLOOR:-}
mod=github.com/tenurehq/tenure
mkdir -p "$BIN"

die() { echo "build: $*" >&2; exit 1; }
b64() { base64 <"$1" | tr -d '\n'; }
size() { printf '  %-26s %9d bytes\n' "$(basename "$1")" "$(wc -c <"$1")"; }

# The issuer first: without TRUST its keygen makes the development key.
if [ -d issuer/cmd/tenure-issuer ]; then
  "$GO" build -trimpath -ldflags "-s -w" -o "$BIN/tenure-issuer" ./issuer/cmd/tenure-issuer
fi

if [ -z "$TRUST" ]; then
  TRUST=.tenure/issuer/issuer.pub
  if [ ! -f "$TRUST" ]; then
    [ -d issuer/cmd/tenure-issuer ] ||
      die "no TRUST file and no development key $TRUST; pass TRUST=FILE (issuer verifier keys, one a line) or add the issuer (issuer/cmd/tenure-issuer) so the build can make one"
    # Run for this machine: $BIN/tenure-issuer may be built for another
    # (GOARCH=arm64 make build).
    env -u GOOS -u GOARCH "$GO" run ./issuer/cmd/tenure-issuer keygen --name tenure-dev --dir .tenure/issuer
    [ -f "$TRUST" ] || die "tenure-issuer keygen did not write $TRUST"
    echo "build: made the development issuer key in .tenure/issuer (never ship it)"
  fi
fi
[ -f "$TRUST" ] || die "TRUST=$TRUST: no such file"
grep -qv '^[[:space:]]*\(#.*\)\?$' "$TRUST" || die "TRUST=$TRUST lists no key"

ldflags="-s -w -X $mod/validator.buildTrust=$(b64 "$TRUST")"
if [ -n "$PRODUCT" ]; then
  [ -f "$PRODUCT" ] || die "PRODUCT=$PRODUCT: no such file"
  head -n1 "$PRODUCT" | grep -qx 'tenure.product/v1' || die "PRODUCT=$PRODUCT does not start with the line tenure.product/v1"
  ldflags+=" -X $mod/validator.buildProduct=$(b64 "$PRODUCT")"
fi
if [ -n "$FLOOR" ]; then
  [[ "$FLOOR" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$ ]] ||
    die "FLOOR=$FLOOR is not RFC 3339, such as 2026-01-01T00:00:00Z"
  ldflags+=" -X $mod/validator.buildFloor=$FLOOR"
fi

GOOS=wasip1 GOARCH=wasm "$GO" build -trimpath -ldflags "$ldflags" \
  -o "$BIN/validator.wasm" ./validator/cmd/validator
GOOS=wasip1 GOARCH=wasm "$GO" build -trimpath -buildmode=c-shared -ldflags "$ldflags" \
  -o "$BIN/validator-reactor.wasm" ./validator/cmd/validator-reactor

# The tenure CLI embeds the reactor through a build overlay (the source tree
# keeps only wasm/module/README.md, so tests never embed a stale module) and
# fixes in its SHA-256, which the host checks and keys its compilation cache by.
if [ -d wasm/cmd/tenure ]; then
  root=$(pwd)
  reactor=$(cd "$BIN" && pwd)/validator-reactor.wasm
  overlay=$(mktemp "${TMPDIR:-/tmp}/tenure-overlay.XXXXXX")
  trap 'rm -f "$overlay"' EXIT
  printf '{"Replace":{"%s":"%s"}}\n' "$root/wasm/module/validator-reactor.wasm" "$reactor" >"$overlay"
  sum=$(sha256sum "$reactor" | cut -d' ' -f1)
  echo "$sum" >"$reactor.sha256" # the pin for hosts that load the module from a file
  "$GO" build -trimpath -overlay "$overlay" -ldflags "-s -w -X $mod/wasm.moduleSHA256=$sum" -o "$BIN/tenure" ./wasm/cmd/tenure
fi

echo "build: trusting $(grep -cv '^[[:space:]]*\(#.*\)\?$' "$TRUST") issuer key(s) from $TRUST${FLOOR:+, clock floor $FLOOR}:"
# name+hash of each, as a refusal by the validator names them
grep -v '^[[:space:]]*\(#.*\)\?$' "$TRUST" | while read -r key rest; do
  tail=${key#*+}
  echo "  ${key%%+*}+${tail%%+*}${rest:+ $rest}"
done
echo "build: ${GOOS:-$("$GO" env GOOS)}/${GOARCH:-$("$GO" env GOARCH)} binaries"
size "$BIN/validator.wasm"
size "$BIN/validator-reactor.wasm"
for f in tenure tenure-issuer; do
  [ -f "$BIN/$f" ] && size "$BIN/$f"
done
exit 0
