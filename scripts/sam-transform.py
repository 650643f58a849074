#!/usr/bin/env python3
"""Transforms the SAM template into plain CloudFormation offline, as CloudFormation would.

    scripts/sam-transform.py TEMPLATE OUT_JSON

Needs no AWS account and no network: local CodeUri/DefinitionUri paths are replaced with s3://
placeholders in a copy, as `sam package` replaces them with the objects it uploads, and the
managed-policy loader is a stub. stepline's functions and state machine have explicit roles, so
SAM never needs the managed-policy list; if it ever asks, the stub fails, because that means a
resource lost its explicit role and SAM would attach a managed policy the spec forbids.
"""

import json
import os
import re
import sys

try:
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse
    from samtranslator.model.exceptions import InvalidDocumentException
except ImportError as err:
    sys.exit(f"sam-transform: cannot import samtranslator ({err}); the aws-sam-translator "
             "python package is preinstalled in the image, not installable from here")

PLACEHOLDER_BUCKET = "stepline-sam-transform-placeholder"

# Properties `sam package` uploads, per SAM resource type.
PACKAGED = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
}


class NoManagedPolicies(ManagedPolicyLoader):
    """A loader that needs no IAM client and refuses to be used."""

    def __init__(self):  # pylint: disable=super-init-not-called
        pass

    def load(self):
        raise SystemExit("sam-transform: SAM asked for the managed-policy list, so some resource "
                         "has no explicit Role; every stepline role must be explicit and inline")


def check_definition(name, path, substitutions):
    """The ASL file is in the repository, not a build output: it must exist and parse, and its
    ${...} placeholders must be exactly the DefinitionSubstitutions keys, or the deployed
    definition would keep a literal "${...}"."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        json.loads(text)
    except (OSError, ValueError) as err:
        return [f"{name}.DefinitionUri: {path}: {err}"]
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))
    given = set(substitutions)
    problems = []
    if used - given:
        problems.append(f"{name}: the definition uses {sorted(used - given)}, which DefinitionSubstitutions lacks")
    if given - used:
        problems.append(f"{name}: DefinitionSubstitutions has {sorted(given - used)}, which the definition never uses")
    return problems


def package_locally(template, base):
    """Replaces local paths with s3:// placeholders; returns the problems found on the way."""
    problems = []
    for name, resource in template.get("Resources", {}).items():
        prop = PACKAGED.get(resource.get("Type"))
        props = resource.get("Properties") or {}
        value = props.get(prop) if prop else None
        if not isinstance(value, str) or value.startswith("s3://"):
            continue
        path = os.path.join(base, value)
        if resource["Type"] == "AWS::Serverless::StateMachine":
            problems += check_definition(name, path, props.get("DefinitionSubstitutions") or {})
        elif not os.path.exists(path):
            print(f"sam-transform: note: {name}.{prop} {value} does not exist yet "
                  "(make build-functions); a placeholder stands in for it", file=sys.stderr)
        props[prop] = f"s3://{PLACEHOLDER_BUCKET}/{value}"
    return problems


def main(argv):
    if len(argv) != 3:
        sys.exit(f"usage: {argv[0]} TEMPLATE OUT_JSON")
    src, out = argv[1], argv[2]
    with open(src, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    problems = package_locally(template, os.path.dirname(os.path.abspath(src)))
    if problems:
        sys.exit("sam-transform: " + "; ".join(problems))

    # The translator resolves AWS::Region and AWS::Partition from a boto session.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        result = transform(template, {}, NoManagedPolicies())
    except InvalidDocumentException as err:
        causes = "\n".join(f"  - {cause.message}" for cause in err.causes)
        sys.exit(f"sam-transform: {src} is not a valid SAM template:\n{causes}")

    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    kinds = {}
    for resource in result.get("Resources", {}).values():
        kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    print(f"sam-transform: {src} -> {out}: {sum(kinds.values())} resources")
    for kind in sorted(kinds):
        print(f"  {kinds[kind]:3d} {kind}")


if __name__ == "__main__":
    main(sys.argv)
