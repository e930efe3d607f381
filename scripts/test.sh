#!/usr/bin/env bash
# The one test command. Under CI every component must be present: tests that
# need one fail rather than skip.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -timeout 20m ./... 2>&1 | tee /tmp/tenure-test.$$.log
