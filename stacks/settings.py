"""The app's settings: read from the ``trustgrid`` context key (cdk.json or ``-c``) and validated.

With no settings at all the app synthesizes a complete template from the
example values below, and says so in a synth warning: they are clearly marked
``EXAMPLE`` and have to be replaced before a real deployment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import RemovalPolicy

from trustgrid_ha import FailbackMode, HeartbeatInterface, TrustgridConfigError
from trustgrid_ha.cluster import DEFAULT_API_URL

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
    "tunnelPort": "tunnel TCP/UDP port",
    "tunnelUdp": "true or false",
    "maxIngressMbps": "ingress limit in Mbit/s",
    "maxClientWriteMbps": "per-client egress limit in Mbit/s",
    "controlPlaneCidrs": "Trustgrid control plane ranges",
    "httpsEgressCidrs": "HTTPS destinations (AWS APIs, enroll endpoint)",
    "packageMirrorCidrs": "Ubuntu mirror ranges",
    "dnsServerCidrs": "custom DNS servers",
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
            "tunnelPort": ("tunnel_port", int, "a whole number such as 8443"),
            "tunnelUdp": ("tunnel_udp", bool, "true or false"),
            "maxIngressMbps": ("max_ingress_mbps", int, "a whole number of Mbit/s"),
            "maxClientWriteMbps": ("max_client_write_mbps", int, "a whole number of Mbit/s"),
            "controlPlaneCidrs": ("control_plane_cidrs", list, "a list of CIDRs"),
            "httpsEgressCidrs": ("https_egress_cidrs", list, "a list of CIDRs"),
            "packageMirrorCidrs": ("package_mirror_cidrs", list, "a list of CIDRs"),
            "dnsServerCidrs": ("dns_server_cidrs", list, "a list of CIDRs"),
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
    """What one gateway-cluster stack needs: the API secret, the VPC and the clusters."""

    api_secret_name: str
    api_url: str
    vpc_cidr: str
    clusters: list[ClusterSettings]
    is_example: bool
    availability_zones: list[str] | None = None

    @classmethod
    def from_context(cls, raw: Any) -> AppSettings:
        """The ``trustgrid`` context; with none, the example values (marked as such)."""
        if raw is None:
            return cls.parse(CONTEXT_KEY, EXAMPLE, is_example=True)
        data = _typed(CONTEXT_KEY, raw, dict, "an object (see the README's configuration table)")
        _reject_unknown(CONTEXT_KEY, data, _APP_KEYS)
        return cls.parse(CONTEXT_KEY, {k: v for k, v in data.items() if k != "pipeline"}, is_example=False)

    @classmethod
    def parse(
        cls, where: str, data: dict[str, Any], *, is_example: bool, availability_zones: list[str] | None = None
    ) -> AppSettings:
        clusters_raw = _typed(
            f"{where}.clusters", data.get("clusters", EXAMPLE["clusters"]), list, "a list of clusters"
        )
        if not clusters_raw:
            raise TrustgridConfigError(f"{where}.clusters", [], "give at least one cluster.")
        clusters = [ClusterSettings.parse(f"{where}.clusters[{i}]", c) for i, c in enumerate(clusters_raw)]
        names = [c.name for c in clusters]
        if len(set(names)) != len(names):
            raise TrustgridConfigError(f"{where}.clusters", names, "give every cluster a different name.")
        return cls(
            api_secret_name=_typed(
                f"{where}.apiSecretName", data.get("apiSecretName", EXAMPLE["apiSecretName"]), str, "a secret name"
            ),
            api_url=_typed(f"{where}.apiUrl", data.get("apiUrl", DEFAULT_API_URL), str, "a URL"),
            vpc_cidr=_typed(
                f"{where}.vpcCidr", data.get("vpcCidr", EXAMPLE["vpcCidr"]), str, "a CIDR such as '10.60.0.0/16'"
            ),
            clusters=clusters,
            is_example=is_example,
            availability_zones=availability_zones,
        )


ACCOUNT = re.compile(r"^\d{12}$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)
REPOSITORY = re.compile(r"^[\w.-]+/[\w.-]+$")
STAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")

EXAMPLE_PIPELINE: dict[str, Any] = {
    "connectionArn": "arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-example",
    "repository": "example-org/trustgrid-ha-cluster",
    "branch": "main",
    "account": "111111111111",
    "region": "us-east-1",
    "apiSecretName": "trustgrid/api-key",
    "environments": [
        {"name": "staging", "account": "222222222222", "region": "us-east-1", **EXAMPLE},
        {
            "name": "production",
            "account": "333333333333",
            "region": "us-west-2",
            "production": True,
            **EXAMPLE,
            "clusters": [{"name": "prod-gw-cluster", "edgeCidrs": ["172.16.0.0/16"]}],
        },
    ],
}
_PIPELINE_KEYS = {"connectionArn", "repository", "branch", "account", "region", "apiSecretName", "environments"}
_ENVIRONMENT_KEYS = {"name", "account", "region", "production", "availabilityZones"} | (_APP_KEYS - {"pipeline"})


def _matching(where: str, value: Any, pattern: re.Pattern[str], hint: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise TrustgridConfigError(where, value, f"give {hint}.")
    return value


@dataclass(frozen=True)
class EnvironmentSettings:
    """One deployment target of the pipeline: a stage with the gateway-cluster stack."""

    name: str
    account: str
    region: str
    production: bool
    stack: AppSettings

    @classmethod
    def parse(cls, where: str, raw: Any) -> EnvironmentSettings:
        _typed(where, raw, dict, "an object with name, account, region and the cluster settings")
        _reject_unknown(where, raw, _ENVIRONMENT_KEYS)
        region = _matching(f"{where}.region", raw.get("region"), REGION, "an AWS region such as 'us-east-1'")
        zones = raw.get("availabilityZones")
        if zones is not None and (
            not isinstance(zones, list) or len(set(zones)) != 2 or not all(isinstance(z, str) for z in zones)
        ):
            raise TrustgridConfigError(
                f"{where}.availabilityZones", zones, "give two different AZ names such as 'us-east-1a'."
            )
        return cls(
            name=_matching(f"{where}.name", raw.get("name"), STAGE_NAME, "a stage name (letters, digits, dashes)"),
            account=_matching(f"{where}.account", raw.get("account"), ACCOUNT, "a 12-digit AWS account ID"),
            region=region,
            production=_typed(f"{where}.production", raw.get("production", False), bool, "true or false"),
            stack=AppSettings.parse(
                where,
                {k: v for k, v in raw.items() if k in _APP_KEYS},
                is_example=False,
                availability_zones=zones,
            ),
        )


@dataclass(frozen=True)
class PipelineSettings:
    """The CDK pipeline: its source, its own account and region, and the environments it deploys."""

    connection_arn: str
    repository: str
    branch: str
    account: str
    region: str
    api_secret_name: str
    environments: list[EnvironmentSettings]
    is_example: bool

    @classmethod
    def from_context(cls, raw: Any) -> PipelineSettings:
        """``trustgrid.pipeline``; with none, the example pipeline (marked as such)."""
        is_example = not isinstance(raw, dict) or "pipeline" not in raw
        data = EXAMPLE_PIPELINE if is_example else raw["pipeline"]
        where = f"{CONTEXT_KEY}.pipeline"
        _typed(where, data, dict, "an object (see the README's pipeline section)")
        _reject_unknown(where, data, _PIPELINE_KEYS)
        environments_raw = _typed(f"{where}.environments", data.get("environments"), list, "a list of environments")
        if not environments_raw:
            raise TrustgridConfigError(f"{where}.environments", [], "give at least one environment.")
        environments = [
            EnvironmentSettings.parse(f"{where}.environments[{i}]", e) for i, e in enumerate(environments_raw)
        ]
        names = [e.name for e in environments]
        if len(set(names)) != len(names):
            raise TrustgridConfigError(f"{where}.environments", names, "give every environment a different name.")
        return cls(
            connection_arn=_matching(
                f"{where}.connectionArn",
                data.get("connectionArn"),
                CONNECTION_ARN,
                "a CodeStar/CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:connection/ID)",
            ),
            repository=_matching(f"{where}.repository", data.get("repository"), REPOSITORY, "'owner/repository'"),
            branch=_typed(f"{where}.branch", data.get("branch", "main"), str, "a branch name"),
            account=_matching(f"{where}.account", data.get("account"), ACCOUNT, "a 12-digit AWS account ID"),
            region=_matching(f"{where}.region", data.get("region"), REGION, "an AWS region such as 'us-east-1'"),
            api_secret_name=_typed(
                f"{where}.apiSecretName", data.get("apiSecretName", EXAMPLE["apiSecretName"]), str, "a secret name"
            ),
            environments=environments,
            is_example=is_example,
        )
