#!/usr/bin/env bash
# Releases stepline's two Go modules together, so that another Go CDK app can import the
# construct: the root module (functions, engine, state machine; tag vX.Y.Z) and infra/ (the
# construct; tag infra/vX.Y.Z), both tags on one commit whose infra/go.mod requires the root
# module at that same version. infra/go.mod's `replace => ../` builds against the working tree
# in this repository only: Go ignores replace directives of a dependency, so in a user's build
# the require line is what counts.
#
#   scripts/release.sh vX.Y.Z          set infra/go.mod's requirement, commit it if it changed,
#                                      check, and tag both (annotated); pushing is left to you
#   scripts/release.sh --check vX.Y.Z  only check that infra/go.mod requires the root at vX.Y.Z
#
# infra/stepline's TestAGoCdkAppImportsTheConstruct builds an app against modules made this way.
set -euo pipefail

root_module=github.com/stepline/stepline
check_only=false
if [ "${1:-}" = "--check" ]; then
  check_only=true
  shift
fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--check] vX.Y.Z" >&2
  exit 2
fi
version="$1"
if ! [[ "$version" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "release: $version is not a semantic version vX.Y.Z[-pre]" >&2
  exit 2
fi
if [[ "$version" =~ ^v([2-9]|[1-9][0-9]+)\. ]]; then
  echo "release: $version needs a /vN module path first (Go's major version rule)" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# required prints the version infra/go.mod requires the root module at.
required() {
  (cd infra && go mod edit -json) | tr -d ' \n\t' |
    grep -o "\"Path\":\"$root_module\",\"Version\":\"[^\"]*\"" | head -1 | sed 's/.*"Version":"\([^"]*\)"/\1/'
}

check() {
  local got
  got="$(required)"
  if [ "$got" != "$version" ]; then
    echo "release: infra/go.mod requires $root_module ${got:-(nothing)}, not $version" >&2
    exit 1
  fi
}

if $check_only; then
  check
  echo "release: infra/go.mod requires $root_module $version"
  exit 0
fi

if [ -n "$(git status --porcelain)" ]; then
  echo "release: the working tree has changes; commit or stash them first" >&2
  exit 1
fi
for tag in "$version" "infra/$version"; do
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
    echo "release: tag $tag exists" >&2
    exit 1
  fi
done

(cd infra && go mod edit -require="$root_module@$version")
if [ -n "$(git status --porcelain infra/go.mod)" ]; then
  git commit -q -m "release $version: infra requires $root_module $version" infra/go.mod
fi
check
git tag -a "$version" -m "stepline $version"
git tag -a "infra/$version" -m "stepline infra $version (requires $root_module $version)"
echo "release: tagged $version and infra/$version on $(git rev-parse --short HEAD)"
echo "push them with: git push origin HEAD $version infra/$version"
