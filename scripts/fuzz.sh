#!/usr/bin/env bash
# Runs every fuzz target of the module for DURATION each (default 20s):
#   scripts/fuzz.sh [DURATION]      e.g. scripts/fuzz.sh 1m
# The engine's seeds come from shared/engine/testdata/vectors; new failing
# inputs are kept under each package's testdata/fuzz/ by `go test`, ready to
# commit as regression cases.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-20s}
found=0
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for t in $targets; do
    found=1
    echo "fuzz: $pkg $t for $time"
    go test -run='^$' -fuzz="^$t\$" -fuzztime="$time" "$pkg"
  done
done
[ "$found" = 1 ] || { echo "fuzz: no fuzz target found" >&2; exit 1; }
