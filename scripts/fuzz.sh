#!/usr/bin/env bash
# Runs every fuzz target of the engine for DURATION each (default 20s):
#   scripts/fuzz.sh [DURATION]      e.g. scripts/fuzz.sh 1m
# Seeds come from shared/engine/testdata/vectors; new failing inputs are kept
# under shared/engine/testdata/fuzz/ by `go test`, ready to commit as
# regression cases.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-20s}
pkg=./shared/engine
targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz')
[ -n "$targets" ] || { echo "fuzz: no fuzz target found in $pkg" >&2; exit 1; }
for t in $targets; do
  echo "fuzz: $t for $time"
  go test -run='^$' -fuzz="^$t\$" -fuzztime="$time" "$pkg"
done
