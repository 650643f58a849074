#!/usr/bin/env bash
# Runs every fuzz target of the root module for the given time each (make fuzz FUZZTIME=60s).
# Targets are found, not listed: every `func FuzzX(` in a tracked or new _test.go file of the
# module (examples/ and infra/ are modules of their own, without parsers). Each target's result
# line is printed again at the end, so a long run reads at a glance.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-60s}
# Minimizing each new interesting input may take up to 60 s by default, which leaves a 60 s run
# of a target with large seeds (cpimport) little time to explore; a few seconds is plenty.
minimize=${FUZZMINIMIZE:-5s}
status=0
summary=()
targets=$(git ls-files --cached --others --exclude-standard -- '*_test.go' ':!:examples/**' ':!:infra/**' ':!:scripts/**' |
  sort | while read -r f; do
    { grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" || true; } | sed 's/^func //' | while read -r t; do echo "./$(dirname "$f") $t"; done
  done)
test -n "$targets" || { echo "fuzz: no fuzz targets found"; exit 1; }
echo "fuzz: $(wc -l <<<"$targets") targets, $time each"
while read -r pkg target; do
  echo "== $pkg $target ($time)"
  if out=$(go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime "$minimize" 2>&1); then
    summary+=("ok   $pkg $target: $(grep -Eo 'elapsed: [^,]+, execs: [0-9]+' <<<"$out" | tail -1)")
  else
    status=1
    summary+=("FAIL $pkg $target")
  fi
  tail -n 20 <<<"$out"
done <<<"$targets"
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
