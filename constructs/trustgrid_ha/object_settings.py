"""The construct's settings that are objects (a VPC, secrets, durations, a topic): each is checked for its kind
before anything is built, so a wrong one is refused under its keyword instead of failing deep inside CDK.

An interface (``ec2.IVpc``, ``sns.ITopic``) is recognised by methods it declares: that accepts every
implementation (CDK's own, an imported one behind jsii's dynamic proxy, a user's) and, as looking a method up
calls nothing, asks nothing of the jsii bridge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2

from .errors import Problem
from .instance_types import InterfaceNames

Check = Callable[[object], bool]


def _declares(*methods: str) -> Check:
    return lambda value: all(callable(getattr(value, method, None)) for method in methods)


def _instance_of(kind: type) -> Check:
    return lambda value: isinstance(value, kind)


_SECRET = _declares("grant_read", "grant_write")


def _two_secrets(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2 and all(map(_SECRET, value))


#: Each object setting: what it must be. None means the default, except for these, which have no None.
REQUIRED = frozenset({"api_secret", "node_removal_policy", "monitoring"})
KINDS: Mapping[str, tuple[Check, str]] = {
    "api_secret": (_SECRET, "a Secrets Manager secret (secretsmanager.ISecret)"),
    "vpc": (_declares("select_subnets", "add_gateway_endpoint"), "an ec2.IVpc"),
    "wan_subnets": (_instance_of(ec2.SubnetSelection), "an ec2.SubnetSelection"),
    "lan_subnets": (_instance_of(ec2.SubnetSelection), "an ec2.SubnetSelection"),
    "interface_names": (_instance_of(InterfaceNames), "trustgrid_ha.InterfaceNames(wan=..., lan=...)"),
    "license_secrets": (_two_secrets, "two Secrets Manager secrets, one license per gateway, primary first"),
    "node_removal_policy": (_instance_of(RemovalPolicy), "RemovalPolicy.RETAIN or RemovalPolicy.DESTROY"),
    "wait_timeout": (_instance_of(Duration), "a Duration, such as Duration.minutes(45)"),
    "monitoring": (_instance_of(bool), "True or False"),
    "monitoring_interval": (_instance_of(Duration), "a Duration of whole minutes, such as Duration.minutes(5)"),
    "alarm_topic": (_declares("add_subscription", "grant_publish"), "an SNS topic (sns.ITopic)"),
    "cluster_ip_failover": (_instance_of(bool), "True or False (True is refused: see its documentation)"),
}


def object_problems(values: Mapping[str, object]) -> list[Problem]:
    """A problem for every object setting in ``values`` that is not of its kind."""
    problems = []
    for name, value in values.items():
        check, kind = KINDS[name]
        if (value is not None or name in REQUIRED) and not check(value):
            problems.append(Problem(name, _shown(value), f"give {kind}."))
    return problems


def _shown(value: object) -> object:
    """The value as a message shows it: plain data as it is, any other object by its type."""
    return value if isinstance(value, (str, int, float, list, tuple, dict)) else type(value).__name__
