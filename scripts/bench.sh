#!/usr/bin/env bash
# make bench: runs the benchmarks behind DESIGN.md "Budgets" in one go and
# prints the performance table (Markdown): every row of "Budgets" with what
# was measured, the budget and whether it is met. The raw `go test -bench`
# output, which benchstat reads, goes to bench/raw.txt and the table to
# bench/results.md. Run it on a quiet machine: the table says how loaded it
# was before each package.
#
#   BENCHCOUNT  runs of each benchmark (default 1); the table shows medians
#   BENCHTIME   go test -benchtime (default 1s)
#   BENCH       go test -bench pattern (default: all)
#
# Compare two commits: run make bench on each, keep each bench/raw.txt, and
#   go run golang.org/x/perf/cmd/benchstat@latest old.txt new.txt
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
count=${BENCHCOUNT:-1}
benchtime=${BENCHTIME:-1s}
pattern=${BENCH:-.}
mkdir -p bench
raw=bench/raw.txt
: >"$raw"
# The 1-minute load average before each package, which the table prints:
# other work on the machine moves every number.
load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo unknown; }
loads=()

# One package at a time, so no two benchmarks share the machine's cores. A
# package that fails (or has no benchmarks yet) leaves its rows "not run".
# ./wasm/e2e/ builds the real tenure and times it as whole processes.
for pkg in ./validator/ ./wasm/ ./wasm/e2e/ ./issuer/ ./issuer/internal/lambdahttp/; do
  echo "bench: $pkg" >&2
  loads+=("$pkg $(load)")
  if ! "$GO" test -run '^$' -bench "$pattern" -benchmem -count "$count" -benchtime "$benchtime" \
    -timeout 60m "$pkg" >>"$raw" 2>&1; then
    echo "bench: $pkg failed; see $raw" >&2
  fi
done

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain 2>/dev/null)" ] && rev+=" with local changes"
{
  echo "# Tenure performance, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $rev"
  echo
  echo "One run of \`make bench\` (BENCHCOUNT=$count, BENCHTIME=$benchtime); raw numbers in bench/raw.txt."
  echo "Load average (1 min) before each package: $(IFS=,; echo "${loads[*]}" | sed 's/,/, /g')."
  echo
  "$GO" run ./scripts/benchtable "$raw"
} >bench/results.md || exit 1
cat bench/results.md
