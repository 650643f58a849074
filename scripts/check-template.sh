#!/usr/bin/env bash
# Checks the SAM template offline: cfn-lint on template.yml, the SAM transform (no AWS account,
# no network: scripts/sam-transform.py), and cfn-lint on the plain CloudFormation it yields.
# With --cdk, the synthesized CDK template is linted as well, so both ways of deploying the
# stack pass the same checks. The examples' CloudFormation templates are linted too.
#
#   scripts/check-template.sh [--cdk FILE] [OUT_JSON]
#
# OUT_JSON receives the transformed template (default dist/sam-template.json). Only errors
# fail the check; cfn-lint's warnings are printed. The Python tools ship with the machine image
# and cannot be installed from here: when one is missing the check fails and names it.
set -uo pipefail

usage() { echo "usage: $0 [--cdk FILE] [OUT_JSON]" >&2; exit 2; }

cdk=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cdk) [ $# -ge 2 ] || usage; cdk="$2"; shift 2 ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) [ -z "$out" ] || usage; out="$1"; shift ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${out:-$root/dist/sam-template.json}"
if [ -n "$cdk" ] && [ ! -f "$cdk" ]; then
  echo "check-template: --cdk $cdk: no such file (synthesize the CDK app first)" >&2
  exit 2
fi

missing=()
if ! command -v python3 >/dev/null 2>&1; then
  missing+=("python3: needed by cfn-lint and the SAM transform")
elif ! python3 -c 'import samtranslator.translator.transform' >/dev/null 2>&1; then
  missing+=("samtranslator: python3 -c 'import samtranslator' failed; the aws-sam-translator package is preinstalled in the image")
fi
command -v cfn-lint >/dev/null 2>&1 || missing+=("cfn-lint: preinstalled in the image (pip package cfn-lint)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-template: missing tools; the template cannot be checked without them:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

echo "check-template: $(cfn-lint --version), aws-sam-translator $(python3 -c 'import samtranslator; print(samtranslator.__version__)')"

failed=()
# lint NAME FILE: cfn-lint FILE, failing on errors only.
lint() {
  echo "check-template: cfn-lint $2"
  if ! cfn-lint --non-zero-exit-code error -- "$2"; then
    failed+=("cfn-lint on $1 ($2)")
  fi
}

cd "$root" || exit 1
lint "the SAM template" template.yml

mkdir -p "$(dirname "$out")"
echo "check-template: SAM transform -> $out"
if python3 scripts/sam-transform.py template.yml "$out"; then
  lint "the transformed SAM template" "$out"
else
  failed+=("the SAM transform of template.yml")
fi

if [ -n "$cdk" ]; then
  lint "the CDK template" "$cdk"
fi

# The examples' CloudFormation templates are what users deploy as they are.
for f in examples/pr-preview/shared.yml examples/pr-preview/preview.yml; do
  lint "an example's template" "$f"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "check-template: FAILED:" >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "check-template: ok"
