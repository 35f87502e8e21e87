"""The app's settings: the ``trustgrid`` context key (cdk.json or ``-c trustgrid='{...}'``), translated onto the
construct's own settings.

A cluster entry is a thin translation of :class:`trustgrid_ha.ClusterConfig`: each
camelCase key is a construct keyword (``heartbeatPort`` is ``heartbeat_port``),
an enum is given by its value, and the construct validates everything once. The
app only adds what JSON cannot say (``removeNodesOnDelete``, ``waitTimeoutMinutes``)
and what belongs to the stack (the API secret, the VPC). Every problem is
reported at once under the user's own spelling (``trustgrid.clusters[0].heartbeatPort``).

With no ``trustgrid`` context at all the app synthesizes the example values below
and says so in a synth warning; any other configuration must name its clusters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from aws_cdk import Duration, RemovalPolicy

from trustgrid_ha import (
    DEFAULT_API_URL,
    ClusterConfig,
    FailbackMode,
    HeartbeatInterface,
    Problem,
    TrustgridConfigError,
    cidrs_overlap,
    vpc_cidr_problem,
)

CONTEXT_KEY = "trustgrid"
#: Set by ``make deploy``: the example settings are never deployed.
DEPLOY_CONTEXT_KEY = "trustgrid-deploy"
DEFAULT_API_SECRET = "trustgrid/api-key"
DEFAULT_VPC_CIDR = "10.60.0.0/16"

EXAMPLE: dict[str, Any] = {
    "apiSecretName": DEFAULT_API_SECRET,
    "vpcCidr": DEFAULT_VPC_CIDR,
    "clusters": [{"name": "example-gw-cluster", "edgeCidrs": ["172.16.0.0/16"]}],
}

#: Cluster keys of the app's own, with the construct setting each becomes (JSON cannot give a Duration, a removal
#: policy or an SNS topic object).
APP_ONLY = {
    "name": "cluster_name",
    "removeNodesOnDelete": "node_removal_policy",
    "waitTimeoutMinutes": "wait_timeout",
    "monitoring": "monitoring",
    "monitoringIntervalMinutes": "monitoring_interval",
    "alarmTopicArn": "alarm_topic",
}
#: The construct's plain-value settings (what ClusterConfig checks without building anything).
PLAIN_SETTINGS = frozenset(f.name for f in fields(ClusterConfig))
#: Construct settings that are not a cluster entry's: where they go instead.
NOT_IN_A_CLUSTER = {
    "clusterName": "the cluster's name is 'name' in a cluster entry.",
    "apiUrl": "the API URL is the stack's: set trustgrid.apiUrl (every cluster of a stack shares one provider).",
}
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2,4}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$")
ENUMS: dict[str, type[Enum]] = {"heartbeat_interface": HeartbeatInterface, "failback_mode": FailbackMode}
STACK_KEYS = {"apiSecretName", "apiUrl", "vpcCidr", "vpc", "clusters", "stackPerCluster"}
#: How many clusters one stack holds: CloudFormation allows 500 resources, a cluster takes about 40 and the VPC and the
#: stack's provider about 45 (11 clusters: 487).
MAX_CLUSTERS_PER_STACK = 11
_APP_KEYS = STACK_KEYS | {"pipeline", "account", "region", "availabilityZones"}
VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
SUBNET_ID = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
ROUTE_TABLE_ID = re.compile(r"^rtb-([0-9a-f]{8}|[0-9a-f]{17})$")
_VPC_KEYS = {"id", "cidr", "availabilityZones", "publicSubnetIds", "privateSubnetIds", "privateRouteTableIds"}


def context(raw: Any) -> Any:
    """The ``trustgrid`` context as given: an object from cdk.json, or a JSON string from ``-c``."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TrustgridConfigError(
                CONTEXT_KEY, raw[:60], f"-c trustgrid=... must be a JSON object ({exc.msg} at {exc.pos})."
            ) from None
    return raw


def pipeline_only(raw: Any) -> bool:
    """Whether the ``trustgrid`` context configures the pipeline alone (no clusters of the default app's own)."""
    data = context(raw)
    return isinstance(data, dict) and "pipeline" in data and "clusters" not in data


def camel_key(keyword: str) -> str:
    """The cdk.json spelling of a construct keyword, keeping an index: ``edge_cidrs[1]`` -> ``edgeCidrs[1]``."""
    base, bracket, rest = keyword.partition("[")
    reverse = {v: k for k, v in {**ClusterConfig.app_settings(), **APP_ONLY}.items()}
    return reverse.get(base, base) + bracket + rest


class _Problems:
    """Collects problems; raises them all at once."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, where: str, value: object, fix: str) -> None:
        self.found.append(Problem(where, value, fix))

    def extend(self, error: TrustgridConfigError) -> None:
        self.found += error.problems

    def raise_any(self) -> None:
        if self.found:
            raise TrustgridConfigError.of(self.found)


def _object(problems: _Problems, where: str, raw: Any, hint: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.add(where, raw, f"give an object ({hint}).")
        return {}
    return raw


def _unknown(problems: _Problems, where: str, given: Mapping[str, Any], known: set[str]) -> None:
    for key in sorted(set(given) - known):
        problems.add(f"{where}.{key}", given[key], f"unknown setting; known settings are {', '.join(sorted(known))}.")


@dataclass(frozen=True)
class ClusterSettings:
    """One cluster entry as construct keyword arguments (``where`` names it for error messages)."""

    where: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.options.get("cluster_name"))

    @classmethod
    def parse(cls, where: str, raw: Any, problems: _Problems, *, api_url: Any = DEFAULT_API_URL) -> ClusterSettings:
        entry = _object(problems, where, raw, "with at least name and edgeCidrs")
        known = ClusterConfig.app_settings()
        for key in sorted(set(entry) & set(NOT_IN_A_CLUSTER)):
            problems.add(f"{where}.{key}", entry[key], NOT_IN_A_CLUSTER[key])
        rest = {k: v for k, v in entry.items() if k not in NOT_IN_A_CLUSTER}
        _unknown(problems, where, rest, (set(known) | set(APP_ONLY)) - set(NOT_IN_A_CLUSTER))
        options: dict[str, Any] = {}
        for key, value in entry.items():
            keyword = APP_ONLY.get(key) or known.get(key)
            if keyword is None or key in NOT_IN_A_CLUSTER:
                continue
            options[keyword] = _translate(problems, f"{where}.{key}", keyword, value)
        _consistent(problems, where, entry, options)
        parsed = cls(where, options)
        parsed._check_as_the_construct(problems, api_url)
        return parsed

    def _check_as_the_construct(self, problems: _Problems, api_url: Any) -> None:
        """The construct's own rules, now: every problem of every cluster at once, with the settings' own."""
        plain = {k: v for k, v in self.options.items() if k in PLAIN_SETTINGS}
        if isinstance(api_url, str):  # the stack's, checked by the construct's rule as every cluster gets it
            plain["api_url"] = api_url
        if "cluster_name" not in plain or "edge_cidrs" not in plain:
            return
        try:
            ClusterConfig.validated(**plain)
        except TrustgridConfigError as exc:
            reported = {p.setting for p in problems.found}
            problems.found += [p for p in exc.renamed(self.rename).problems if p.setting not in reported]

    def rename(self, setting: str) -> str:
        """A construct keyword as the user spelled it here (the API URL is a stack-wide setting)."""
        root = self.where.rsplit(".clusters[", 1)[0]
        if setting == "api_url":
            return root + ".apiUrl"
        if setting == "region":  # the stack's
            return root + ".region"
        if setting in ("vpc", "lan_subnets", "wan_subnets"):  # the VPC is the stack's
            return root + ".vpc"
        return f"{self.where}.{camel_key(setting)}"


def _consistent(problems: _Problems, where: str, entry: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """The required keys, and no health-check setting on a cluster whose health check is off."""
    for required in ("name", "edgeCidrs"):
        if required not in entry:
            problems.add(f"{where}.{required}", None, "this setting is required.")
    if options.get("monitoring") is False:
        for key in ("monitoringIntervalMinutes", "alarmTopicArn"):
            if key in entry:
                fix = "it applies to the health check, which monitoring: false turns off; remove one of the two."
                problems.add(f"{where}.{key}", entry[key], fix)


def _translate(problems: _Problems, where: str, keyword: str, value: Any) -> Any:
    """JSON onto the construct's types: enums by value, the app-only keys; everything else as it is."""
    if keyword in ENUMS:
        enum = ENUMS[keyword]
        return next((m for m in enum if m.value == value), value)  # a wrong value: the construct says which
    if keyword not in _TRANSLATIONS:
        return value
    translate, fix = _TRANSLATIONS[keyword]
    try:
        return translate(value)
    except (TypeError, ValueError):
        problems.add(where, value, fix)
        return _FALLBACKS.get(keyword)


def _whole(low: int, high: int) -> Any:
    def check(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(value)
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(value)
    return value


def _topic_arn(value: Any) -> str:
    if not isinstance(value, str) or not SNS_TOPIC_ARN.match(value):
        raise ValueError(value)
    return value  # the stack imports it (an ARN is all JSON can give)


#: keyword -> (JSON value to the construct's, the fix when it cannot be). The wait timeout's range is the
#: construct's rule (minutes from 1 to 50); a negative amount is refused here because no Duration can hold it.
_TRANSLATIONS: dict[str, tuple[Any, str]] = {
    "node_removal_policy": (
        lambda v: RemovalPolicy.DESTROY if _boolean(v) else RemovalPolicy.RETAIN,
        "give true or false.",
    ),
    "wait_timeout": (lambda v: Duration.minutes(_whole(0, 10**6)(v)), "give a whole number of minutes from 1 to 50."),
    "monitoring": (_boolean, "give true (the scheduled health check, its alarms and dashboard) or false."),
    "monitoring_interval": (
        lambda v: Duration.minutes(_whole(1, 60)(v)),
        "give a whole number of minutes from 1 to 60 (default 1).",
    ),
    "alarm_topic": (_topic_arn, "give an SNS topic ARN such as 'arn:aws:sns:us-east-1:111111111111:pager'."),
}
_FALLBACKS: dict[str, Any] = {"node_removal_policy": RemovalPolicy.RETAIN, "monitoring": True}


@dataclass(frozen=True)
class VpcSettings:
    """Where the gateways go: a new VPC (``cidr``), an existing one looked up by ID (``vpc_id`` alone, with the
    deployer's credentials, the result committed in cdk.context.json), or one described by attributes (offline)."""

    cidr: str = DEFAULT_VPC_CIDR
    vpc_id: str | None = None
    vpc_cidr: str | None = None
    availability_zones: tuple[str, ...] = ()
    public_subnet_ids: tuple[str, ...] = ()
    private_subnet_ids: tuple[str, ...] = ()
    private_route_table_ids: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        if self.vpc_id is None:
            return "new"
        return "attributes" if self.private_subnet_ids else "lookup"

    @classmethod
    def parse(cls, where: str, raw: Any, cidr: str, problems: _Problems) -> VpcSettings:
        if raw is None:
            return cls(cidr=cidr)
        entry = _object(problems, where, raw, "{'id': 'vpc-…'} to look it up, or its attributes")
        _unknown(problems, where, entry, _VPC_KEYS)
        vpc_id = _matching(problems, f"{where}.id", entry.get("id"), VPC_ID, "a VPC ID such as 'vpc-0123456789abcdef0'")
        if set(entry) <= {"id"}:
            return cls(vpc_id=vpc_id)
        lists = {}
        for key, pattern, hint in (
            ("availabilityZones", re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$"), "AZ names such as 'us-east-1a'"),
            ("publicSubnetIds", SUBNET_ID, "subnet IDs"),
            ("privateSubnetIds", SUBNET_ID, "subnet IDs"),
            ("privateRouteTableIds", ROUTE_TABLE_ID, "route table IDs"),
        ):
            value = entry.get(key)
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) and pattern.match(v) for v in value)
            ):
                problems.add(f"{where}.{key}", value, f"give a list of {hint}.")
                value = []
            lists[key] = tuple(value)
        if len(lists["availabilityZones"]) == 1:
            problems.add(f"{where}.availabilityZones", list(lists["availabilityZones"]),
                         "give at least two availability zones: the gateways sit in two.")  # fmt: skip
        zones = len(lists["availabilityZones"]) or 1
        for key in ("publicSubnetIds", "privateSubnetIds"):
            if lists[key] and len(lists[key]) % zones:
                problems.add(f"{where}.{key}", list(lists[key]), f"give the same number of subnets in each of the "
                             f"{zones} availability zones, in the order of availabilityZones.")  # fmt: skip
        if lists["privateRouteTableIds"] and len(lists["privateRouteTableIds"]) != len(lists["privateSubnetIds"]):
            problems.add(f"{where}.privateRouteTableIds", list(lists["privateRouteTableIds"]),
                         "give one route table ID per private subnet, in the same order.")  # fmt: skip
        vpc_cidr = entry.get("cidr")
        cidr_problem = vpc_cidr_problem(vpc_cidr, new_vpc=False)
        if cidr_problem is not None:
            problems.add(f"{where}.cidr", vpc_cidr, cidr_problem)
            vpc_cidr = None
        return cls(
            vpc_id=vpc_id,
            vpc_cidr=vpc_cidr,
            availability_zones=lists["availabilityZones"],
            public_subnet_ids=lists["publicSubnetIds"],
            private_subnet_ids=lists["privateSubnetIds"],
            private_route_table_ids=lists["privateRouteTableIds"],
        )


@dataclass(frozen=True)
class AppSettings:
    """What one gateway-cluster stack needs: the API secret, the VPC and the clusters."""

    api_secret_name: str
    api_url: str
    vpc_cidr: str
    clusters: list[ClusterSettings]
    is_example: bool
    where: str = CONTEXT_KEY
    availability_zones: list[str] | None = None
    vpc: VpcSettings = field(default_factory=VpcSettings)
    account: str | None = None
    region: str | None = None
    #: Each cluster in a stack of its own (``TrustgridCluster-<name>``), the VPC in the main stack.
    stack_per_cluster: bool = False

    @classmethod
    def from_context(cls, raw: Any) -> AppSettings:
        """The ``trustgrid`` context; with none at all, the example values (marked as such)."""
        data = context(raw)
        if data is None:
            return cls.parse(CONTEXT_KEY, EXAMPLE, is_example=True)
        problems = _Problems()
        data = _object(problems, CONTEXT_KEY, data, "see the README's configuration table")
        _unknown(problems, CONTEXT_KEY, data, _APP_KEYS)
        if data and "clusters" not in data:
            fix = (
                "this configuration names no clusters: give trustgrid.clusters for the default app "
                "(trustgrid.pipeline configures only the pipeline app)."
            )
            problems.add(f"{CONTEXT_KEY}.clusters", None, fix)
        account, region = data.get("account"), data.get("region")
        if account is not None:
            account = _matching(problems, f"{CONTEXT_KEY}.account", account, ACCOUNT, "a 12-digit AWS account ID")
        if region is not None:
            region = _region(problems, f"{CONTEXT_KEY}.region", region)
        zones = _zones(problems, CONTEXT_KEY, data.get("availabilityZones"), region or "")
        if data and "clusters" not in data:
            problems.raise_any()
        # the clusters' problems too, with the top level's: every problem at once
        settings = _stack_settings(problems, CONTEXT_KEY, data, zones=zones, account=account, region=region)
        problems.raise_any()
        assert settings is not None
        return settings

    @classmethod
    def parse(
        cls,
        where: str,
        data: dict[str, Any],
        *,
        is_example: bool,
        availability_zones: list[str] | None = None,
        account: str | None = None,
        region: str | None = None,
    ) -> AppSettings:
        problems = _Problems()
        clusters_raw = data.get("clusters")
        if not isinstance(clusters_raw, list) or not clusters_raw:
            problems.add(f"{where}.clusters", clusters_raw, "give a list of at least one cluster.")
            clusters_raw = []
        api_url = data.get("apiUrl", DEFAULT_API_URL)
        clusters = [
            ClusterSettings.parse(f"{where}.clusters[{i}]", c, problems, api_url=api_url)
            for i, c in enumerate(clusters_raw)
        ]
        names = [c.name for c in clusters]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.add(f"{where}.clusters", names, f"the cluster name {name!r} is used twice; give each its own.")
        stack_per_cluster = data.get("stackPerCluster", False)
        if not isinstance(stack_per_cluster, bool):
            problems.add(f"{where}.stackPerCluster", stack_per_cluster, "give true or false.")
            stack_per_cluster = False
        if len(clusters) > MAX_CLUSTERS_PER_STACK and not stack_per_cluster:
            problems.add(
                f"{where}.clusters",
                f"{len(clusters)} clusters",
                f"one stack holds at most {MAX_CLUSTERS_PER_STACK} clusters (CloudFormation's 500 resources; about 40 "
                "a cluster). Set stackPerCluster: true to give each cluster a stack of its own "
                "(TrustgridCluster-<name>); that moves the clusters of an existing stack, so set it before deploying.",
            )
        if stack_per_cluster:  # the construct checks its neighbours in its own stack; here they are in others
            _edges_apart(problems, clusters)
            _nodes_apart(problems, clusters)
        texts = {
            key: data.get(key, default)
            for key, default in (
                ("apiSecretName", DEFAULT_API_SECRET),
                ("apiUrl", DEFAULT_API_URL),
                ("vpcCidr", DEFAULT_VPC_CIDR),
            )
        }
        for key, value in texts.items():
            if not isinstance(value, str) or not value:
                problems.add(f"{where}.{key}", value, "give a string.")
        vpc = VpcSettings.parse(f"{where}.vpc", data.get("vpc"), str(texts["vpcCidr"]), problems)
        if vpc.kind == "lookup" and not (account and region):
            problems.add(f"{where}.vpc.id", vpc.vpc_id, "looking a VPC up needs the account and region "
                         "(trustgrid.account and trustgrid.region), or give the VPC's attributes instead.")  # fmt: skip
        if vpc.kind != "new" and "vpcCidr" in data:
            problems.add(
                f"{where}.vpcCidr", data["vpcCidr"], "vpcCidr is for a new VPC; an existing VPC is given by vpc."
            )
        problems.raise_any()
        return cls(
            api_secret_name=texts["apiSecretName"],
            api_url=texts["apiUrl"],
            vpc_cidr=texts["vpcCidr"],
            clusters=clusters,
            is_example=is_example,
            where=where,
            availability_zones=availability_zones,
            vpc=vpc,
            account=account,
            region=region,
            stack_per_cluster=stack_per_cluster,
        )


def _stack_settings(
    problems: _Problems,
    where: str,
    data: Mapping[str, Any],
    *,
    zones: list[str] | None,
    account: str | None,
    region: str | None,
) -> AppSettings | None:
    """One environment's stack settings (the top level's, or a pipeline environment's); None when they are wrong,
    with every problem added to ``problems``."""
    try:
        return AppSettings.parse(
            where,
            {k: v for k, v in data.items() if k in STACK_KEYS},
            is_example=False,
            availability_zones=zones,
            account=account,
            region=region,
        )
    except TrustgridConfigError as exc:
        problems.extend(exc)
        return None


def _nodes_apart(problems: _Problems, clusters: list[ClusterSettings]) -> None:
    """Node names are unique in a Trustgrid organization: no two clusters of an app may name the same gateway."""
    seen: dict[str, str] = {}
    for cluster in clusters:
        nodes = cluster.options.get("gateway_names") or (f"{cluster.name}-a", f"{cluster.name}-b")
        for node in nodes if isinstance(nodes, (list, tuple)) else []:
            other = seen.setdefault(str(node), cluster.name)
            if other != cluster.name:
                problems.add(
                    f"{cluster.where}.gatewayNames",
                    list(nodes),
                    f"the node name {node!r} is also a gateway of the cluster {other!r}; node names are unique in a "
                    "Trustgrid organization. Give this cluster other gatewayNames.",
                )
                break


def _edges_apart(problems: _Problems, clusters: list[ClusterSettings]) -> None:
    """Clusters in one VPC route their edge CIDRs in the same route tables: no two may overlap."""
    seen: list[tuple[str, str]] = []
    for cluster in clusters:
        cidrs = cluster.options.get("edge_cidrs")
        for index, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
            other = next((name for name, taken in seen if cidrs_overlap(str(cidr), taken)), None)
            if other is not None and other != cluster.name:
                problems.add(
                    f"{cluster.where}.edgeCidrs[{index}]",
                    cidr,
                    f"overlaps the edge CIDRs of the cluster {other!r} in the same VPC: a route table holds one route "
                    "per destination. Give each cluster its own edge sites' network space.",
                )
            seen.append((cluster.name, str(cidr)))


def _region(problems: _Problems, where: str, value: Any) -> str:
    """An AWS region's code, such as 'us-east-1' (whether it exists, the construct checks: a region newer than this
    release may be used with machineImageId)."""
    return _matching(problems, where, value, REGION, "an AWS region like 'us-east-1'")


def _source_in_place(problems: _Problems, where: str, settings: PipelineSettings) -> None:
    """A connection is used by the pipelines of its own account; a repository and a branch go by their names."""
    parts = settings.connection_arn.split(":")
    if len(parts) > 4 and settings.account and parts[4] != settings.account:
        problems.add(
            f"{where}.connectionArn",
            settings.connection_arn,
            f"the connection is in account {parts[4]}, the pipeline in {settings.account}: create the connection in "
            "the pipeline's account (its role must use it).",
        )
    if settings.repository.endswith(".git"):
        problems.add(f"{where}.repository", settings.repository, "give 'owner/repository' without '.git'.")
    if settings.branch.startswith("refs/"):
        problems.add(f"{where}.branch", settings.branch, "give the branch's name, such as 'main', not its ref.")


def _one_name_per_organization(problems: _Problems, environments: list[EnvironmentSettings], key: str) -> None:
    """Cluster and node names are unique in a Trustgrid organization. Environments whose health checks use the same
    API key (and API URL) are in the same organization: none of their clusters or gateways may share a name."""
    seen: dict[tuple[str, str, str], str] = {}
    for environment in environments:
        organization = (environment.health_check_secret_name or key, environment.stack.api_url)
        for cluster in environment.stack.clusters:
            options = cluster.options
            nodes = options.get("gateway_names") or (f"{cluster.name}-a", f"{cluster.name}-b")
            for kind, name in (("cluster", cluster.name), *(("gateway", str(n)) for n in nodes)):
                first = seen.setdefault((*organization, name), environment.name)
                if first != environment.name:  # one problem per cluster: its name is the fix
                    problems.add(
                        f"{cluster.where}.name",
                        cluster.name,
                        f"the {kind} name {name!r} is also used in the environment {first!r}, which is in the same "
                        f"Trustgrid organization (the same API key, {organization[0]}): names are unique in an "
                        "organization. Give this cluster (or its gatewayNames) another name, or give this environment "
                        "the key of its own organization in healthCheckSecretName.",
                    )
                    break


def _zones(problems: _Problems, where: str, zones: Any, region: str) -> list[str] | None:
    """Two availability zones for a new VPC, of the region when it is known."""
    if zones is None:
        return None
    if not isinstance(zones, list) or len(zones) != 2 or len(set(map(str, zones))) != 2:
        problems.add(f"{where}.availabilityZones", zones, "give two different AZ names such as 'us-east-1a'.")
        return None
    for index, zone in enumerate(zones):
        problem = zone_problem(zone, region) if region else (None if isinstance(zone, str) else "give AZ names.")
        if problem:
            problems.add(f"{where}.availabilityZones[{index}]", zone, problem)
    return [str(z) for z in zones]


ACCOUNT = re.compile(r"^\d{12}$")
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d$")
CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)
REPOSITORY = re.compile(r"^[\w.-]+/[\w.-]+$")
#: A branch name `git check-ref-format --branch` accepts, in the usual characters.
BRANCH = re.compile(r"^(?![-/.])(?!.*(\.\.|//|@\{|/\.|\.lock$|[./]$))[\w./@+-]+$")
SECRET_HINT = "a Secrets Manager secret name (letters, digits and /_+=.@-) or a secret ARN"
#: A Secrets Manager secret by name (letters, digits and /_+=.@-, up to 512) or by ARN.
SECRET = re.compile(r"^([\w/+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+)$")
STAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")

EXAMPLE_PIPELINE: dict[str, Any] = {
    "connectionArn": "arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-example",
    "repository": "example-org/trustgrid-ha-cluster",
    "branch": "main",
    "account": "111111111111",
    "region": "us-east-1",
    "apiSecretName": DEFAULT_API_SECRET,
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
_ENVIRONMENT_KEYS = {
    "name",
    "account",
    "region",
    "production",
    "availabilityZones",
    "healthCheckSecretName",
} | STACK_KEYS


def _matching(problems: _Problems, where: str, value: Any, pattern: re.Pattern[str], hint: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        problems.add(where, value, f"give {hint}.")
        return ""
    return value


def _optional(problems: _Problems, where: str, value: Any, pattern: re.Pattern[str], hint: str, default: str) -> str:
    """A setting that may be left out (or null) for its default."""
    return default if value is None else _matching(problems, where, value, pattern, hint)


def zone_problem(zone: Any, region: str) -> str | None:
    """An availability zone of ``region``: its name plus a letter (or a Local Zone's ``-city-1a``)."""
    if isinstance(zone, str) and region and re.fullmatch(re.escape(region) + r"([a-z]|-[a-z]+-\d+[a-z])", zone):
        return None
    return f"give an availability zone of {region or 'the region'}, such as '{region or 'us-east-1'}a'."


@dataclass(frozen=True)
class EnvironmentSettings:
    """One deployment target of the pipeline: a stage with the gateway-cluster stack."""

    name: str
    account: str
    region: str
    production: bool
    stack: AppSettings
    #: The pipeline account's copy of this environment's API key (its health check reads it, and only it).
    health_check_secret_name: str | None = None

    @classmethod
    def parse(cls, where: str, raw: Any, problems: _Problems) -> EnvironmentSettings | None:
        entry = _object(problems, where, raw, "with name, account, region and the cluster settings")
        _unknown(problems, where, entry, _ENVIRONMENT_KEYS)
        region = _region(problems, f"{where}.region", entry.get("region"))
        zones = _zones(problems, where, entry.get("availabilityZones"), region)
        name = _matching(problems, f"{where}.name", entry.get("name"), STAGE_NAME, "a stage name (letters, digits, -)")
        account = _matching(problems, f"{where}.account", entry.get("account"), ACCOUNT, "a 12-digit AWS account ID")
        production = entry.get("production", False)
        if not isinstance(production, bool):
            problems.add(f"{where}.production", production, "give true or false.")
        stack = _stack_settings(problems, where, entry, zones=zones, account=account, region=region)
        if stack is None:
            return None
        health = _optional(
            problems, f"{where}.healthCheckSecretName", entry.get("healthCheckSecretName"), SECRET, SECRET_HINT, ""
        )
        return cls(
            name=name,
            account=account,
            region=region,
            production=production is True,
            stack=stack,
            health_check_secret_name=health or None,
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
        """``trustgrid.pipeline``; without it, the example pipeline (marked as such: `make synth` still works for a
        configuration of the default app alone)."""
        data = context(raw)
        is_example = not isinstance(data, dict) or "pipeline" not in data
        problems = _Problems()
        if isinstance(data, dict):
            _unknown(problems, CONTEXT_KEY, data, _APP_KEYS)
        where = f"{CONTEXT_KEY}.pipeline"
        pipeline = _object(problems, where, EXAMPLE_PIPELINE if is_example else data["pipeline"], "see the README")
        _unknown(problems, where, pipeline, _PIPELINE_KEYS)
        environments_raw = pipeline.get("environments")
        if not isinstance(environments_raw, list) or not environments_raw:
            problems.add(f"{where}.environments", environments_raw, "give a list of at least one environment.")
            environments_raw = []
        parsed = [
            EnvironmentSettings.parse(f"{where}.environments[{i}]", e, problems) for i, e in enumerate(environments_raw)
        ]
        environments = [e for e in parsed if e is not None]
        names = [e.name for e in environments]
        if len(set(names)) != len(names):
            problems.add(f"{where}.environments", names, "give every environment a different name.")
        default_key = pipeline.get("apiSecretName") if isinstance(pipeline.get("apiSecretName"), str) else None
        _one_name_per_organization(problems, environments, default_key or DEFAULT_API_SECRET)
        settings = cls(
            connection_arn=_matching(
                problems,
                f"{where}.connectionArn",
                pipeline.get("connectionArn"),
                CONNECTION_ARN,
                "a CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:connection/ID)",
            ),
            repository=_matching(
                problems, f"{where}.repository", pipeline.get("repository"), REPOSITORY, "'owner/repository'"
            ),
            branch=_optional(
                problems, f"{where}.branch", pipeline.get("branch"), BRANCH, "a git branch name like 'main'", "main"
            ),
            account=_matching(problems, f"{where}.account", pipeline.get("account"), ACCOUNT, "a 12-digit account ID"),
            region=_region(problems, f"{where}.region", pipeline.get("region")),
            api_secret_name=_optional(
                problems,
                f"{where}.apiSecretName",
                pipeline.get("apiSecretName"),
                SECRET,
                SECRET_HINT,
                DEFAULT_API_SECRET,
            ),
            environments=environments,
            is_example=is_example,
        )
        _source_in_place(problems, where, settings)
        problems.raise_any()
        return settings
