"""A model of how CloudFormation applies a change, from two templates: per resource whether it is replaced,
interrupted or updated in place, and in which order and parallelism.

- Replacement: a change of one of the resource type's ``createOnlyProperties``, read from the resource schemas
  cfn-lint ships (the CloudFormation registry's own schemas), plus what the documentation adds for
  ``AWS::EC2::Instance``: a ``BlockDeviceMappings`` change other than ``DeleteOnTermination`` replaces the
  instance ("Modifying any other parameter results in instance replacement", AWS::EC2::Instance
  BlockDeviceMapping).
- Interruption: ``AWS::EC2::Instance`` properties documented as "Update requires: Some interruptions" (the
  instance is stopped and started): ``InstanceType``, ``UserData``, ``EbsOptimized``, ``KernelId``,
  ``RamdiskId`` (AWS::EC2::Instance, Properties). Everything else the template sets on our instances
  (``DisableApiTermination``, ``IamInstanceProfile``, ``Monitoring``, ``CreditSpecification``, ``Tags``) is
  "No interruption".
- A value that refers (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``) to a replaced resource, or to an attribute of an
  updated custom resource, counts as changed: its physical ID or attributes may be new.
- Order: CloudFormation starts a resource once everything it depends on (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``,
  ``DependsOn``) is done, and runs independent resources in parallel; it deletes in the reverse order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
INTERRUPTING = {"AWS::EC2::Instance": {"InstanceType", "UserData", "EbsOptimized", "KernelId", "RamdiskId"}}


@cache
def create_only(resource_type: str) -> frozenset[str]:
    """Top-level properties whose change replaces a resource of this type (empty for custom resources)."""
    index = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    if resource_type not in index:
        return frozenset()
    schema = json.loads((SCHEMAS / "resources" / f"{index[resource_type]}.json").read_text())
    return frozenset(p.split("/")[2] for p in schema.get("createOnlyProperties", []))


def references(value: Any) -> set[str]:
    """Logical IDs a value refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def dependencies(template: dict[str, Any]) -> dict[str, set[str]]:
    resources = template["Resources"]
    graph = {}
    for logical, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        graph[logical] = {d for d in (references(resource.get("Properties", {})) | set(depends)) if d in resources}
    return graph


def ancestors(graph: dict[str, set[str]], logical: str) -> set[str]:
    """Everything ``logical`` depends on, directly or not."""
    seen: set[str] = set()
    stack = list(graph.get(logical, ()))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(graph.get(current, ()))
    return seen


@dataclass
class Change:
    """What CloudFormation does to each resource, and the order it may do it in."""

    before: dict[str, Any]
    after: dict[str, Any]
    actions: dict[str, str]  # logical ID -> "replace" | "interrupt" | "update" | "add" | "remove"
    graph: dict[str, set[str]]

    def of_type(self, resource_type: str, *actions: str) -> list[str]:
        return sorted(
            logical
            for logical, action in self.actions.items()
            if action in actions and self.after["Resources"].get(logical, {}).get("Type") == resource_type
        )

    def before_(self, first: str, then: str) -> bool:
        """Whether CloudFormation finishes ``first`` before it starts ``then`` (``then`` depends on it)."""
        return first in ancestors(self.graph, then)

    def parallel(self, a: str, b: str) -> bool:
        return not self.before_(a, b) and not self.before_(b, a)


def _changed_properties(old: dict[str, Any], new: dict[str, Any], moved: set[str]) -> set[str]:
    keys = set(old) | set(new)
    return {k for k in keys if old.get(k) != new.get(k) or references(new.get(k)) & moved}


def _action(resource_type: str, changed: set[str], old: dict[str, Any], new: dict[str, Any]) -> str | None:
    if not changed:
        return None
    if changed & create_only(resource_type):
        return "replace"
    if resource_type == "AWS::EC2::Instance" and "BlockDeviceMappings" in changed:
        strip = [
            [{**m, "Ebs": {k: v for k, v in m.get("Ebs", {}).items() if k != "DeleteOnTermination"}} for m in x]
            for x in (old.get("BlockDeviceMappings", []), new.get("BlockDeviceMappings", []))
        ]
        if strip[0] != strip[1]:
            return "replace"
    if changed & INTERRUPTING.get(resource_type, set()):
        return "interrupt"
    return "update"


def plan(before: dict[str, Any], after: dict[str, Any]) -> Change:
    """What an update from ``before`` to ``after`` does to each resource."""
    old_resources, new_resources = before["Resources"], after["Resources"]
    actions: dict[str, str] = {k: "add" for k in new_resources if k not in old_resources}
    actions |= {k: "remove" for k in old_resources if k not in new_resources}
    moved: set[str] = set()  # resources whose physical ID or attributes may change
    while True:
        for logical, resource in new_resources.items():
            if logical not in old_resources:
                continue
            old, new = old_resources[logical].get("Properties", {}), resource.get("Properties", {})
            action = _action(resource["Type"], _changed_properties(old, new, moved), old, new)
            if action:
                actions[logical] = action
        grown = {k for k, a in actions.items() if a == "replace" or (a == "update" and _custom(new_resources, k))}
        if grown <= moved:
            break
        moved |= grown
    return Change(before, after, actions, dependencies(after))


def _custom(resources: dict[str, Any], logical: str) -> bool:
    return str(resources.get(logical, {}).get("Type", "")).startswith("Custom::")
