#!/usr/bin/env bash
# Runs every fuzz target of the repository for the given time each (make fuzz FUZZTIME=60s).
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-60s}
status=0
while read -r pkg target; do
  echo "== $pkg $target ($time)"
  go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time" || status=1
done < <(grep -rl --include='*_test.go' '^func Fuzz' pkg | sort | while read -r f; do
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r t; do echo "./$(dirname "$f") $t"; done
done)
exit $status
