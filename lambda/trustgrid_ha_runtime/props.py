"""Typed views of the custom resources' properties.

CloudFormation hands every scalar property to a custom resource as a string, so
parsing happens here, once, with errors that name the property.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

CLUSTER_TYPE = "Custom::TrustgridCluster"
LICENSE_TYPE = "Custom::TrustgridNodeLicense"
IMAGE_TYPE = "Custom::TrustgridImage"

FAILBACK_MODES = ("autoFailback", "manualFailback")
HEARTBEAT_INTERFACES = ("LAN", "WAN")


class PropertyError(ValueError):
    """A custom resource property is missing or malformed."""


def _str(props: dict[str, Any], key: str) -> str:
    value = props.get(key)
    if not isinstance(value, str) or not value:
        raise PropertyError(f"property {key} must be a non-empty string, got {value!r}")
    return value


def _bool(props: dict[str, Any], key: str, default: bool) -> bool:
    value = props.get(key)
    if value is None:
        return default
    text = str(value).lower()
    if text not in ("true", "false"):
        raise PropertyError(f"property {key} must be true or false, got {value!r}")
    return text == "true"


def _int(props: dict[str, Any], key: str, low: int, high: int) -> int:
    value = props.get(key)
    try:
        number = int(str(value))
    except ValueError:
        raise PropertyError(f"property {key} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise PropertyError(f"property {key} must be between {low} and {high}, got {number}")
    return number


def _list(props: dict[str, Any], key: str) -> tuple[str, ...]:
    value = props.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PropertyError(f"property {key} must be a list of strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class Member:
    """One gateway as the cluster resource sees it."""

    uid: str
    name: str
    lan_eni_id: str
    lan_ip: str
    wan_ip: str
    lan_subnet_id: str

    @classmethod
    def parse(cls, raw: Any, index: int) -> Member:
        if not isinstance(raw, dict):
            raise PropertyError(f"property Members[{index}] must be an object, got {raw!r}")
        return cls(
            uid=_str(raw, "Uid"),
            name=_str(raw, "Name"),
            lan_eni_id=_str(raw, "LanEniId"),
            lan_ip=_str(raw, "LanIp"),
            wan_ip=_str(raw, "WanIp"),
            lan_subnet_id=_str(raw, "LanSubnetId"),
        )


@dataclass(frozen=True)
class ClusterSpec:
    """What the cluster resource must make true in Trustgrid."""

    name: str
    members: tuple[Member, ...]
    heartbeat_interface: str
    heartbeat_port: int
    lan_interface_name: str
    edge_cidrs: tuple[str, ...]
    route_table_ids: tuple[str, ...]
    failback_mode: str
    verify_health: bool
    verify_routes: bool
    wait_timeout_seconds: int

    @classmethod
    def parse(cls, props: dict[str, Any]) -> ClusterSpec:
        raw_members = props.get("Members")
        if not isinstance(raw_members, list) or len(raw_members) != 2:
            raise PropertyError(f"property Members must list exactly two gateways, got {raw_members!r}")
        members = tuple(Member.parse(m, i) for i, m in enumerate(raw_members))
        if members[0].uid == members[1].uid:
            raise PropertyError(f"property Members names node {members[0].uid} twice; a cluster needs two nodes")
        interface = _str(props, "HeartbeatInterface")
        if interface not in HEARTBEAT_INTERFACES:
            raise PropertyError(f"property HeartbeatInterface must be LAN or WAN, got {interface!r}")
        mode = _str(props, "FailbackMode")
        if mode not in FAILBACK_MODES:
            raise PropertyError(f"property FailbackMode must be one of {', '.join(FAILBACK_MODES)}, got {mode!r}")
        edge_cidrs = _list(props, "EdgeCidrs")
        if not edge_cidrs:
            raise PropertyError("property EdgeCidrs must list at least one CIDR")
        for cidr in edge_cidrs:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise PropertyError(f"property EdgeCidrs holds {cidr!r}, which is not a network CIDR") from None
        return cls(
            name=_str(props, "ClusterName"),
            members=members,
            heartbeat_interface=interface,
            heartbeat_port=_int(props, "HeartbeatPort", 1, 65535),
            lan_interface_name=_str(props, "LanInterfaceName"),
            edge_cidrs=edge_cidrs,
            route_table_ids=_list(props, "RouteTableIds"),
            failback_mode=mode,
            verify_health=_bool(props, "VerifyHealth", True),
            verify_routes=_bool(props, "VerifyRoutes", True),
            wait_timeout_seconds=_int(props, "WaitTimeoutSeconds", 60, 3600),
        )

    @property
    def primary(self) -> Member:
        return self.members[0]

    def heartbeat_host(self, member: Member) -> str:
        return member.lan_ip if self.heartbeat_interface == "LAN" else member.wan_ip


@dataclass(frozen=True)
class LicenseSpec:
    """One gateway's node license: minted through the API or supplied by the user."""

    node_name: str
    license_secret_arn: str
    source: str
    remove_node_on_delete: bool

    @classmethod
    def parse(cls, props: dict[str, Any]) -> LicenseSpec:
        source = _str(props, "Source")
        if source not in ("mint", "secret"):
            raise PropertyError(f"property Source must be mint or secret, got {source!r}")
        return cls(
            node_name=_str(props, "NodeName"),
            license_secret_arn=_str(props, "LicenseSecretArn"),
            source=source,
            remove_node_on_delete=_bool(props, "RemoveNodeOnDelete", False),
        )


@dataclass(frozen=True)
class ImageSpec:
    """Which vendor image to resolve; resolving again happens only when this changes."""

    owner: str
    name_pattern: str
    refresh_token: str

    @classmethod
    def parse(cls, props: dict[str, Any]) -> ImageSpec:
        return cls(
            owner=_str(props, "Owner"),
            name_pattern=_str(props, "NamePattern"),
            refresh_token=str(props.get("RefreshToken") or ""),
        )
