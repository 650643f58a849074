#!/usr/bin/env bash
# Checks that the tools the tests need are on this machine, and says what is missing instead of
# letting a test skip. The Python tools (cfn-lint, moto) ship with the machine image and cannot
# be installed from here: when one is missing, the fix is the image, not this repository.
set -uo pipefail

# The dashboard's browser tests drive a real headless Chromium. Debian's chromium package is
# installed when it is missing and this runs as root (CI does); otherwise the fix is printed.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && [ -z "${CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "check-tools: installing chromium for the dashboard's browser tests"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >&2 ||
      echo "check-tools: apt-get could not install chromium" >&2
  fi
fi

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1: $2"); }

need go      "the Go toolchain"
need git     "git (local sources are git archives)"
need bash    "bash (buildspecs run in bash, as on CodeBuild)"
need node    "Node.js (CDK synth, ASL tools)"
need npm     "npm (ASL tools)"
need python3 "python3 (moto, cfn-lint)"
need cfn-lint "cfn-lint, preinstalled in the image (template checks)"
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && [ -z "${CHROMIUM:-}" ]; then
  missing+=("chromium: the dashboard's browser tests (pkg/cli) need it: apt-get install chromium, or set \$CHROMIUM to a Chrome or Chromium binary")
fi
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import moto.server' >/dev/null 2>&1; then
  missing+=("moto: python3 -c 'import moto.server' failed; moto 5.x is preinstalled in the image (AWS API stand-in for tests)")
fi

if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import samtranslator' >/dev/null 2>&1; then
  missing+=("aws-sam-translator: python3 -c 'import samtranslator' failed; it is preinstalled in the image (offline SAM transform of template.yml)")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "check-tools: missing tools; tests would not be honest without them:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "check-tools: go, git, bash, node, npm, python3, cfn-lint, aws-sam-translator, moto, chromium present"
