#!/usr/bin/env bash
# Runs the example pipeline end to end on this machine, no AWS: copies examples/hello into a
# fresh git repository and runs `stepline run --auto-approve` in it (make run).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
stepline=${STEPLINE:-$here/bin/stepline}
work=${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/stepline-hello.XXXXXX")}

if [ ! -x "$stepline" ]; then
  echo "run-example: $stepline is missing; build it with 'make build-cli'" >&2
  exit 2
fi

rm -rf "$work/repo"
mkdir -p "$work/repo"
cp -R "$here/examples/hello/." "$work/repo/"
cd "$work/repo"
git init -q -b main
git -c user.name=stepline -c user.email=stepline@example.invalid add -A
git -c user.name=stepline -c user.email=stepline@example.invalid commit -qm "hello: first commit"

echo "== example repository: $work/repo"
"$stepline" run --auto-approve "$@"
echo "== deployed releases:"
ls -l .stepline/deploy/staging/main/current .stepline/deploy/prod/current
echo "== run history:"
"$stepline" runs
