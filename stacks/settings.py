"""The app's settings: read from the ``trustgrid`` context key (cdk.json or ``-c``) and validated.

With no settings at all the app synthesizes a complete template from the
example values below, and says so in a synth warning: they are clearly marked
``EXAMPLE`` and have to be replaced before a real deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import RemovalPolicy

from trustgrid_ha import FailbackMode, HeartbeatInterface, TrustgridConfigError

CONTEXT_KEY = "trustgrid"

EXAMPLE: dict[str, Any] = {
    "apiSecretName": "trustgrid/api-key",
    "vpcCidr": "10.60.0.0/16",
    "clusters": [{"name": "example-gw-cluster", "edgeCidrs": ["172.16.0.0/16"]}],
}

_CLUSTER_KEYS = {
    "name": "cluster name (lowercase letters, digits, dashes)",
    "edgeCidrs": "edge sites' network space",
    "gatewayNames": "two node names",
    "instanceType": "EC2 instance type",
    "heartbeatPort": "heartbeat TCP port",
    "heartbeatInterface": "LAN or WAN",
    "edgeSourceCidrs": "tunnel sources",
    "lanSourceCidrs": "LAN-side networks",
    "extraRouteTableIds": "more managed route tables",
    "failbackMode": "autoFailback or manualFailback",
    "terminationProtection": "true or false",
    "removeNodesOnDelete": "true or false",
    "verifyHealth": "true or false",
    "verifyRoutes": "true or false",
    "machineImageId": "explicit AMI",
}
_APP_KEYS = {"apiSecretName", "apiUrl", "vpcCidr", "clusters", "pipeline"}


def _reject_unknown(where: str, given: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        raise TrustgridConfigError(
            f"{where}.{unknown[0]}",
            given[unknown[0]],
            f"unknown setting; known settings are {', '.join(sorted(known))}.",
        )


def _typed(where: str, value: Any, kind: type, hint: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TrustgridConfigError(where, value, f"give {hint}.")
    return value


@dataclass(frozen=True)
class ClusterSettings:
    name: str
    edge_cidrs: list[str]
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, where: str, raw: Any) -> ClusterSettings:
        _typed(where, raw, dict, "an object with at least name and edgeCidrs")
        _reject_unknown(where, raw, set(_CLUSTER_KEYS))
        for required in ("name", "edgeCidrs"):
            if required not in raw:
                raise TrustgridConfigError(
                    f"{where}.{required}", None, f"this setting is required ({_CLUSTER_KEYS[required]})."
                )
        options: dict[str, Any] = {}
        simple = {
            "gatewayNames": ("gateway_names", list, "a list of two node names"),
            "instanceType": ("instance_type", str, "an instance type such as 'c6i.large'"),
            "heartbeatPort": ("heartbeat_port", int, "a whole number such as 9000"),
            "edgeSourceCidrs": ("edge_source_cidrs", list, "a list of CIDRs"),
            "lanSourceCidrs": ("lan_source_cidrs", list, "a list of CIDRs"),
            "extraRouteTableIds": ("extra_route_table_ids", list, "a list of route table IDs"),
            "terminationProtection": ("termination_protection", bool, "true or false"),
            "verifyHealth": ("verify_health", bool, "true or false"),
            "verifyRoutes": ("verify_routes", bool, "true or false"),
            "machineImageId": ("machine_image_id", str, "an AMI ID"),
        }
        for key, (param, kind, hint) in simple.items():
            if key in raw:
                options[param] = _typed(f"{where}.{key}", raw[key], kind, hint)
        if "heartbeatInterface" in raw:
            options["heartbeat_interface"] = _enum(
                f"{where}.heartbeatInterface", raw["heartbeatInterface"], HeartbeatInterface
            )
        if "failbackMode" in raw:
            options["failback_mode"] = _enum(f"{where}.failbackMode", raw["failbackMode"], FailbackMode)
        if "removeNodesOnDelete" in raw:
            remove = _typed(f"{where}.removeNodesOnDelete", raw["removeNodesOnDelete"], bool, "true or false")
            options["node_removal_policy"] = RemovalPolicy.DESTROY if remove else RemovalPolicy.RETAIN
        edge = _typed(f"{where}.edgeCidrs", raw["edgeCidrs"], list, "a list of CIDRs such as ['172.16.0.0/16']")
        return cls(name=_typed(f"{where}.name", raw["name"], str, "a cluster name"), edge_cidrs=edge, options=options)


def _enum(where: str, value: Any, enum: Any) -> Any:
    for member in enum:
        if value == member.value:
            return member
    raise TrustgridConfigError(where, value, f"give one of {', '.join(m.value for m in enum)}.")


@dataclass(frozen=True)
class AppSettings:
    api_secret_name: str
    api_url: str
    vpc_cidr: str
    clusters: list[ClusterSettings]
    pipeline: dict[str, Any] | None
    is_example: bool

    @classmethod
    def from_context(cls, raw: Any) -> AppSettings:
        is_example = raw is None
        data = (
            EXAMPLE
            if raw is None
            else _typed(CONTEXT_KEY, raw, dict, "an object (see the README's configuration table)")
        )
        _reject_unknown(CONTEXT_KEY, data, _APP_KEYS)
        clusters_raw = _typed(
            f"{CONTEXT_KEY}.clusters", data.get("clusters", EXAMPLE["clusters"]), list, "a list of clusters"
        )
        if not clusters_raw:
            raise TrustgridConfigError(f"{CONTEXT_KEY}.clusters", [], "give at least one cluster.")
        clusters = [ClusterSettings.parse(f"{CONTEXT_KEY}.clusters[{i}]", c) for i, c in enumerate(clusters_raw)]
        names = [c.name for c in clusters]
        if len(set(names)) != len(names):
            raise TrustgridConfigError(f"{CONTEXT_KEY}.clusters", names, "give every cluster a different name.")
        return cls(
            api_secret_name=_typed(
                f"{CONTEXT_KEY}.apiSecretName",
                data.get("apiSecretName", EXAMPLE["apiSecretName"]),
                str,
                "a secret name",
            ),
            api_url=_typed(f"{CONTEXT_KEY}.apiUrl", data.get("apiUrl", "https://api.trustgrid.io"), str, "a URL"),
            vpc_cidr=_typed(
                f"{CONTEXT_KEY}.vpcCidr", data.get("vpcCidr", EXAMPLE["vpcCidr"]), str, "a CIDR such as '10.60.0.0/16'"
            ),
            clusters=clusters,
            pipeline=data.get("pipeline"),
            is_example=is_example,
        )
