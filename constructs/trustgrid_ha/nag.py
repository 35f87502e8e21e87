"""Acknowledged cdk-nag findings, each with its reason, for both supported cdk-nag versions:

- cdk-nag 3.x runs as a CDK ``Validations`` plugin and reads acknowledgments made through that API;
- cdk-nag 2.x (``Aspects.of(app).add(AwsSolutionsChecks())``) reads ``NagSuppressions``' metadata on each
  resource (``cdk_nag.rules_to_suppress``), which is written too, without importing cdk-nag.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

#: The cdk-nag versions whose findings the construct acknowledges.
SUPPORTED_CDK_NAG = ">=2.28,<4"


def acknowledge(scope: IConstruct, reason: str, *rule_ids: str) -> None:
    """Acknowledge ``rule_ids`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` for ``reason``."""
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in rule_ids))
    # cdk-nag's own rules only (another plugin's, such as "CloudFormation-Validate::W9010", carry a namespace)
    suppressions = [_suppression(r, reason) for r in rule_ids if "::" not in r.split("[", 1)[0]]
    if not suppressions:
        return
    for child in scope.node.find_all():
        if isinstance(child, CfnResource):
            existing = child.get_metadata("cdk_nag") or {}
            rules = [*existing.get("rules_to_suppress", []), *suppressions]
            child.add_metadata("cdk_nag", {**existing, "rules_to_suppress": rules})


def _suppression(rule_id: str, reason: str) -> dict[str, Any]:
    """cdk-nag 2.x's form of one acknowledgment: the rule, and the finding it applies to, if granular."""
    rule, _, finding = rule_id.partition("[")
    entry: dict[str, Any] = {"id": rule, "reason": reason}
    if finding:
        entry["applies_to"] = [finding.removesuffix("]")]
    return entry
