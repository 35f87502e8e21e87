"""What a setting may be: each kind is words for an error message and the docs, and a check.

Plain kinds (a string, a whole number, a list of CIDRs, an enum) are what JSON can give; object kinds (a VPC,
secrets, a Duration, a topic) are the construct's alone. An interface (``ec2.IVpc``, ``sns.ITopic``) is recognised
by methods it declares: that accepts every implementation (CDK's own, an imported one behind jsii's dynamic proxy,
a user's) and, as looking a method up calls nothing, asks nothing of the jsii bridge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2

from trustgrid_ha_runtime.contract import FailbackMode, GatewayType, HeartbeatInterface

from .instance_types import InterfaceNames
from .virtual_network import VirtualNetwork


class Kind:
    """The type a setting takes, as words for an error message and a check."""

    def __init__(self, words: str, accepts: Callable[[Any], bool], *, synth_time: bool = False) -> None:
        self.words = words
        self.accepts = accepts
        #: The value decides what the template holds: a deploy-time value cannot.
        self.synth_time = synth_time


STR = Kind("a string", lambda v: isinstance(v, str))
INT = Kind("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool))
BOOL = Kind("true or false", lambda v: isinstance(v, bool))
#: A switch that decides what the template holds (resources, their shape): known at synth time.
SHAPE = Kind("true or false", lambda v: isinstance(v, bool), synth_time=True)


def _strings(words: str) -> Kind:
    return Kind(
        words, lambda v: isinstance(v, Sequence) and not isinstance(v, str) and all(isinstance(i, str) for i in v)
    )


CIDRS = _strings("a list of CIDRs such as ['172.16.0.0/16']")
NAMES = _strings("a list of two node names")
CLIENTS = _strings("a list of node or cluster names")
TABLES = _strings("a list of route table IDs")
STRS = (CIDRS, NAMES, TABLES, CLIENTS)


def _enum(enum: type[Enum]) -> Kind:
    return Kind(f"one of {', '.join(str(m.value) for m in enum)}", lambda v: isinstance(v, enum))


HEARTBEAT_INTERFACE = _enum(HeartbeatInterface)
FAILBACK_MODE = _enum(FailbackMode)
GATEWAY_TYPE = _enum(GatewayType)


def _declares(words: str, *methods: str) -> Kind:
    return Kind(words, lambda value: all(callable(getattr(value, method, None)) for method in methods))


def _instance_of(words: str, kind: type) -> Kind:
    return Kind(words, lambda value: isinstance(value, kind))


def _secret(value: object) -> bool:
    return callable(getattr(value, "grant_read", None)) and callable(getattr(value, "grant_write", None))


def _two_secrets(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2 and all(map(_secret, value))


SECRET = Kind("a Secrets Manager secret (secretsmanager.ISecret)", _secret)
TWO_SECRETS = Kind("two Secrets Manager secrets, one license per gateway, primary first", _two_secrets)
VPC = _declares("an ec2.IVpc", "select_subnets", "add_gateway_endpoint")
SUBNETS = _instance_of("an ec2.SubnetSelection", ec2.SubnetSelection)
INTERFACE_NAMES = _instance_of("trustgrid_ha.InterfaceNames(wan=..., lan=...)", InterfaceNames)
REMOVAL_POLICY = Kind(
    "RemovalPolicy.RETAIN or RemovalPolicy.DESTROY", lambda v: v in (RemovalPolicy.RETAIN, RemovalPolicy.DESTROY)
)
DURATION = _instance_of("a Duration, such as Duration.minutes(45)", Duration)
TOPIC = _declares("an SNS topic (sns.ITopic)", "add_subscription", "grant_publish")
#: True or False for a construct's switch (the words a Python user reads).
SWITCH = Kind("True or False", lambda v: isinstance(v, bool), synth_time=True)


def shown(value: object) -> object:
    """The value as a message shows it: plain data as it is, an enum member by its name, a Duration in words, a
    topic by its ARN, any other object by its type."""
    if isinstance(value, (list, tuple)):
        return [shown(item) for item in value]
    if value is None or isinstance(value, (str, int, float, dict)):
        return value
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, Duration):
        return value.to_human_string()
    arn = getattr(value, "topic_arn", None)
    return arn if isinstance(arn, str) and "${Token" not in arn else type(value).__name__


SWITCH_REFUSED = Kind("True or False (True is refused: see its documentation)", lambda v: isinstance(v, bool))
MINUTES = _instance_of("a Duration of whole minutes, such as Duration.minutes(5)", Duration)
VIRTUAL_NETWORK = _instance_of("trustgrid_ha.VirtualNetwork(name=..., route=...)", VirtualNetwork)
