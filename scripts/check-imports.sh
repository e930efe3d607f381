#!/usr/bin/env bash
# Import boundaries: the engine imports neither side; only wasm imports wazero;
# nothing outside issuer imports AWS; nothing imports issuer or validator from
# the other side.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
deps() { go list -deps "$@" 2>/dev/null; }
bad() { echo "import boundary: $*" >&2; fail=1; }

for p in $(go list ./shared/... ./schema/...); do
  d=$(deps "$p")
  grep -qE "^$mod/(issuer|validator|wasm)(/|$)" <<<"$d" && bad "$p imports a side"
  grep -qE '^github.com/(aws|tetratelabs)/' <<<"$d" && bad "$p imports AWS or wazero"
done
for p in $(go list ./validator/... 2>/dev/null); do
  d=$(deps "$p")
  grep -qE '^github.com/(aws|tetratelabs)/' <<<"$d" && bad "$p imports AWS or wazero"
  grep -qE "^$mod/(issuer|wasm)(/|$)" <<<"$d" && bad "$p imports issuer or wasm"
done
for p in $(go list ./issuer/... 2>/dev/null); do
  d=$(deps "$p")
  grep -qE '^github.com/tetratelabs/' <<<"$d" && bad "$p imports wazero"
  grep -qE "^$mod/(validator|wasm)(/|$)" <<<"$d" && bad "$p imports validator or wasm"
done
for p in $(go list ./wasm/... 2>/dev/null); do
  d=$(deps "$p")
  grep -qE '^github.com/aws/' <<<"$d" && bad "$p imports AWS"
  grep -qE "^$mod/issuer(/|$)" <<<"$d" && bad "$p imports issuer"
done
[ $fail -eq 0 ] && echo "import boundaries: ok"
exit $fail
