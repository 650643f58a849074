#!/usr/bin/env bash
# Builds every Lambda function (functions/*/) as the bootstrap of the provided.al2023 runtime:
# linux/arm64, static, -tags lambda.norpc (no RPC server in aws-lambda-go), and zips each to
# OUT_DIR/<name>.zip with bootstrap at the root, as Lambda expects.
#
#   scripts/build-functions.sh [OUT_DIR]            zips in OUT_DIR (default dist/functions)
#   scripts/build-functions.sh --native [OUT_DIR]   host GOOS/GOARCH, OUT_DIR/<name>/bootstrap,
#                                                   no zips (to run them here, as the tests do)
#
# pkg/lambdatest.BuildFlags holds the same flags for the tests' builds.
set -euo pipefail

native=false
if [ "${1:-}" = "--native" ]; then
  native=true
  shift
fi
if [ $# -gt 1 ] || [[ "${1:-}" == -* ]]; then
  echo "usage: $0 [--native] [OUT_DIR]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/dist/functions}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if $native; then
  goos="$(go env GOHOSTOS)" goarch="$(go env GOHOSTARCH)"
else
  goos=linux goarch=arm64
fi

# zip_bootstrap DIR ZIP: a zip holding DIR/bootstrap as bootstrap, executable.
zip_bootstrap() {
  rm -f "$2"
  if command -v zip >/dev/null 2>&1; then
    (cd "$1" && zip -q -X "$2" bootstrap)
  elif command -v python3 >/dev/null 2>&1; then
    # python3 -m zipfile keeps the file mode, so bootstrap stays executable.
    (cd "$1" && python3 -m zipfile -c "$2" bootstrap)
  else
    echo "build-functions: neither zip nor python3 is installed; cannot package $2" >&2
    exit 1
  fi
}

built=0
cd "$root"
for dir in functions/*/; do
  name="$(basename "$dir")"
  [ -f "$dir/main.go" ] || continue
  work="$out/$name"
  mkdir -p "$work"
  GOOS="$goos" GOARCH="$goarch" CGO_ENABLED=0 \
    go build -tags lambda.norpc -trimpath -ldflags "-s -w" -o "$work/bootstrap" "./$dir"
  if $native; then
    printf '%-12s %s/bootstrap (%s/%s, %s bytes)\n' "$name" "$work" "$goos" "$goarch" "$(wc -c <"$work/bootstrap" | tr -d ' ')"
  else
    zip_bootstrap "$work" "$out/$name.zip"
    rm -rf "$work"
    printf '%-12s %s.zip (%s bytes)\n' "$name" "$out/$name" "$(wc -c <"$out/$name.zip" | tr -d ' ')"
  fi
  built=$((built + 1))
done

if [ "$built" -eq 0 ]; then
  echo "build-functions: no functions/*/main.go found" >&2
  exit 1
fi
