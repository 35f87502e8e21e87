"""Acknowledged cdk-nag findings, each with its reason (CDK's native ``Validations`` API)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, reason: str, *rule_ids: str) -> None:
    """Acknowledge ``rule_ids`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` for ``reason``."""
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in rule_ids))
