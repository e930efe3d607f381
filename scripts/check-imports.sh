#!/usr/bin/env bash
# Import boundaries (STYLE.md "Layout and boundaries"): the engine and the
# reactor ABI import neither side; only wasm imports wazero; nothing outside
# issuer imports AWS; nothing imports issuer or validator from the other
# side, and the host in wasm/ embeds the built validator module instead of
# linking the validator's Go code. Only non-test packages count: a test may
# build the validator (wasm/internal/guest runs `go build`).
#
# Every `go list` must succeed and list something: a tree that does not load
# is a failure, never a silent pass.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "import boundaries: $*" >&2; exit 1; }

mod=$(go list -m) || die "go list -m failed"
[ -n "$mod" ] || die "go list -m printed no module path"
aws='^github\.com/aws/'
wazero='^github\.com/tetratelabs/'
side() { echo "^${mod//./\\.}/($1)(/|\$)"; }

fail=0
# check TREE REGEX WHAT [REGEX WHAT]...: no package of TREE depends, directly
# or not, on a package matching REGEX.
check() {
  local tree=$1 list pkg deps i hit
  shift
  local rules=("$@")
  list=$(go list -f '{{.ImportPath}}{{range .Deps}} {{.}}{{end}}' "$tree") || die "go list $tree failed"
  [ -n "$list" ] || die "go list $tree listed no package"
  while read -r pkg deps; do
    for ((i = 0; i < ${#rules[@]}; i += 2)); do
      hit=$(tr ' ' '\n' <<<"$deps" | grep -m1 -E "${rules[i]}") || continue
      echo "import boundary: $pkg imports ${rules[i + 1]} ($hit)" >&2
      fail=1
    done
  done <<<"$list"
}

check ./shared/... "$(side 'issuer|validator|wasm')" "a side" "$aws|$wazero" "AWS or wazero"
check ./schema/... "$(side 'issuer|validator|wasm')" "a side" "$aws|$wazero" "AWS or wazero"
check ./validator/... "$(side 'issuer|wasm')" "issuer or wasm" "$aws|$wazero" "AWS or wazero"
check ./issuer/... "$(side 'validator|wasm')" "validator or wasm" "$wazero" "wazero"
check ./wasm/... "$(side issuer)" "issuer" "$(side validator)" "the validator (wasm embeds the built module)" "$aws" "AWS"

[ $fail -eq 0 ] || exit 1
echo "import boundaries: ok"
