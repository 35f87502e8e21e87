"""The app's settings: the ``trustgrid`` context key (cdk.json or ``-c trustgrid='{...}'``), read in one idiom
(:mod:`stacks.reading`) and handed to the construct as its own typed config.

A cluster entry is the construct's :class:`trustgrid_ha.ClusterConfig` spelled in JSON: each key is declared with
the construct's setting it sets (``heartbeatPort`` is ``heartbeat_port``), an enum is given by its value, and what
JSON cannot say directly is translated (``removeNodesOnDelete``, ``waitTimeoutMinutes``, ``alarmTopicArn``). The
construct's own rules check every entry at once, before any stack is built. Every problem is reported at once under
the user's own spelling (``trustgrid.clusters[0].heartbeatPort``).

With no ``trustgrid`` context at all the app synthesizes the example settings (``examples/settings/app.json``) and
says so in a synth warning; any other configuration must name its clusters. The pipeline's settings are
:mod:`stacks.pipeline_settings`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, get_type_hints

from aws_cdk import Duration, RemovalPolicy

from trustgrid_ha import (
    AVAILABILITY_ZONE,
    DEFAULT_API_URL,
    REGION_CODE,
    ROUTE_TABLE_PATTERN,
    SUBNET_ID,
    VPC_ID,
    AccessPolicy,
    ClusterConfig,
    Nat,
    TrustgridConfigError,
    VirtualNetwork,
    VpnRoute,
    cidrs_overlap,
    region_problem,
    vpc_cidr_problem,
    zone_problem,
)

from .reading import (
    ACCOUNT,
    CONTEXT_KEY,
    FLAG,
    TEXT,
    Problems,
    as_object,
    context,
    ids,
    json_keys,
    key,
    pattern,
    read_keys,
    unknown,
)

#: Set by ``make deploy``: the example settings are never deployed.
DEPLOY_CONTEXT_KEY = "trustgrid-deploy"
DEFAULT_API_SECRET = "trustgrid/api-key"
#: The CIDR of the VPC the app makes. Not the library's own default (``trustgrid_ha.DEFAULT_VPC_CIDR``, CDK's
#: 10.0.0.0/16): stacks the app has deployed use this one, and changing it would replace their VPC.
APP_VPC_CIDR = "10.60.0.0/16"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "settings"
EXAMPLE: dict[str, Any] = json.loads((EXAMPLES / "app.json").read_text())

#: A cluster entry's keys: cdk.json key -> the construct's keyword (the construct declares both).
CLUSTER_KEYS = ClusterConfig.app_settings()
#: Construct settings that are not a cluster entry's: where they go instead.
NOT_IN_A_CLUSTER = {
    "clusterName": "the cluster's name is 'name' in a cluster entry.",
    "apiUrl": "the API URL is the stack's: set trustgrid.apiUrl (every cluster of a stack shares one provider).",
}
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2,4}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}\Z")
#: Settings of an enum's type: JSON gives them by the enum's value (unless translated below).
ENUMS: dict[str, type[Enum]] = {
    name: hint
    for name, hint in get_type_hints(ClusterConfig).items()
    if isinstance(hint, type) and issubclass(hint, Enum)
}
#: How many clusters one stack holds: CloudFormation allows 500 resources, a cluster takes about 40 and the VPC and the
#: stack's provider about 45 (11 clusters: 487).
MAX_CLUSTERS_PER_STACK = 11
_VPC_KEYS = {"id", "cidr", "availabilityZones", "publicSubnetIds", "privateSubnetIds", "privateRouteTableIds"}


def pipeline_only(raw: Any) -> bool:
    """Whether the ``trustgrid`` context configures the pipeline alone (no clusters of the default app's own)."""
    data = context(raw)
    return isinstance(data, dict) and "pipeline" in data and "clusters" not in data


def camel_key(keyword: str) -> str:
    """The cdk.json spelling of a construct keyword, keeping an index or a path: ``edge_cidrs[1]`` ->
    ``edgeCidrs[1]``, ``virtual_network.route`` -> ``virtualNetwork.route``."""
    base, rest = re.match(r"([^.\[]*)(.*)", keyword).groups()  # type: ignore[union-attr]
    reverse = {v: k for k, v in CLUSTER_KEYS.items()}
    return reverse.get(base, base) + rest


@dataclass(frozen=True)
class ClusterSettings:
    """One cluster entry: ``config`` is the construct's own typed config (the stack adds the secret, the VPC and
    the topic), ``options`` the entry as construct keywords; ``where`` names it for error messages."""

    where: str
    options: dict[str, Any] = field(default_factory=dict)
    config: ClusterConfig | None = None

    @property
    def name(self) -> str:
        return str(self.options.get("cluster_name"))

    @classmethod
    def parse(cls, where: str, raw: Any, problems: Problems, *, api_url: Any = DEFAULT_API_URL) -> ClusterSettings:
        entry = as_object(problems, where, raw, "with at least name and edgeCidrs")
        for name in sorted(set(entry) & set(NOT_IN_A_CLUSTER)):
            problems.add(f"{where}.{name}", entry[name], NOT_IN_A_CLUSTER[name])
        rest = {k: v for k, v in entry.items() if k not in NOT_IN_A_CLUSTER}
        unknown(problems, where, rest, set(CLUSTER_KEYS))
        options: dict[str, Any] = {}
        for name, value in rest.items():
            keyword = CLUSTER_KEYS.get(name)
            if keyword is None:
                continue
            options[keyword] = _translate(problems, f"{where}.{name}", keyword, value)
        _consistent(problems, where, entry, options)
        parsed = cls(where, options)
        return replace(parsed, config=parsed._check_as_the_construct(problems, api_url))

    @property
    def alarm_topic_arn(self) -> str | None:
        """The SNS topic the entry names (JSON gives its ARN; the stack imports it)."""
        arn = self.options.get("alarm_topic")
        return arn if isinstance(arn, str) else None

    def _check_as_the_construct(self, problems: Problems, api_url: Any) -> ClusterConfig | None:
        """The construct's own rules, now: every problem of every cluster at once, with the settings' own."""
        given = {k: v for k, v in self.options.items() if k != "alarm_topic"}
        if isinstance(api_url, str):  # the stack's, checked by the construct's rule as every cluster gets it
            given["api_url"] = api_url
        if "cluster_name" not in given or "edge_cidrs" not in given:
            return None
        try:
            return ClusterConfig.validated(complete=False, **given)
        except TrustgridConfigError as exc:
            reported = {p.setting for p in problems.found}
            problems.found += [p for p in exc.renamed(self.rename).problems if p.setting not in reported]
            return None

    def rename(self, setting: str) -> str:
        """A construct keyword as the user spelled it here (the API URL is a stack-wide setting)."""
        root = self.where.rsplit(".clusters[", 1)[0]
        if setting == "api_url":
            return root + ".apiUrl"
        if setting == "region":  # the stack's
            return root + ".region"
        if setting in ("vpc", "lan_subnets", "wan_subnets"):  # the VPC is the stack's
            return root + ".vpc"
        if setting.startswith("vpc."):  # a part of it, in cdk.json's spelling
            return root + ".vpc." + setting.removeprefix("vpc.").replace("availability_zones", "availabilityZones")
        return f"{self.where}.{camel_key(setting)}"


def _consistent(problems: Problems, where: str, entry: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """The required keys, and no health-check setting on a cluster whose health check is off."""
    for required in ("name", "edgeCidrs"):
        if required not in entry:
            problems.add(f"{where}.{required}", None, "this setting is required.")
    if options.get("monitoring") is False:
        for key in ("monitoringIntervalMinutes", "alarmTopicArn"):
            if key in entry:
                fix = "it applies to the health check, which monitoring: false turns off; remove one of the two."
                problems.add(f"{where}.{key}", entry[key], fix)


def _translate(problems: Problems, where: str, keyword: str, value: Any) -> Any:
    """JSON onto the construct's types: the keys JSON gives in its own terms, enums by value; everything else as
    it is."""
    if keyword not in _TRANSLATIONS:
        enum = ENUMS.get(keyword)
        return value if enum is None else next((m for m in enum if m.value == value), value)  # the construct says
    translate, fix = _TRANSLATIONS[keyword]
    try:
        return translate(value)
    except JsonShape as shape:  # a part of an object: named by its path
        problems.add(where + shape.path, shape.value, shape.fix)
    except (TypeError, ValueError):
        problems.add(where, value, fix)
    return _FALLBACKS.get(keyword)


class JsonShape(ValueError):
    """A part of a JSON object that is not what its place takes: its path below the setting, the value, the fix."""

    def __init__(self, path: str, value: Any, fix: str) -> None:
        super().__init__(f"{path}: {fix}")
        self.path, self.value, self.fix = path, value, fix


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
    """A topic's ARN, of a region that exists, in that region's partition."""
    if not isinstance(value, str) or not SNS_TOPIC_ARN.match(value):
        raise ValueError(value)
    partition, region = value.split(":")[1], value.split(":")[3]
    if region_problem(region) is not None or partition != partition_of(region):
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
    "alarm_topic": (
        _topic_arn,
        "give an SNS topic ARN of a region that exists, in its partition, such as "
        "'arn:aws:sns:us-east-1:111111111111:pager'.",
    ),
    "virtual_network": (
        lambda v: _network(v),
        "give an object in Trustgrid's field names: name and route (the cluster's virtual subnet), and optionally "
        "insideNats and outsideNats ([{networkCidr, localCidr, description, proxyArp}]), inDefaultRoute, "
        "outDefaultRoute, routes ([{networkCidr, node, metric, description}]), publish, networkRouteMetric and "
        "accessPolicies ([{source, dest, action, protocol, ports, lineNumber, description}]).",
    ),
}
#: The lists of a virtualNetwork entry and what each holds.
NETWORK_PARTS: dict[str, type] = {
    "inside_nats": Nat,
    "outside_nats": Nat,
    "routes": VpnRoute,
    "access_policies": AccessPolicy,
}


def _network(value: Any) -> VirtualNetwork:
    """The virtual network from cdk.json; a route metric given without publish would be ignored: refused."""
    network: VirtualNetwork = _from_json(VirtualNetwork, value, NETWORK_PARTS)
    if "networkRouteMetric" in value and network.publish is not True:
        raise JsonShape(".networkRouteMetric", value["networkRouteMetric"], "the network route is written only with "
                        "publish: true; set publish, or leave the metric out.")  # fmt: skip
    return network


def _from_json(cls: type, value: Any, parts: Mapping[str, type], path: str = "") -> Any:
    """A dataclass from its camelCase JSON (lists of the ``parts`` too); :class:`JsonShape` names the part that is
    not what its place takes."""
    if not isinstance(value, dict):
        raise JsonShape(
            path, value, f"give an object with the fields {', '.join(_camel(f.name) for f in fields(cls))}."
        )
    names = {_camel(f.name): f.name for f in fields(cls)}
    for unknown_key in sorted(set(value) - set(names)):
        fix = f"unknown field; known fields are {', '.join(names)}."
        raise JsonShape(f"{path}.{unknown_key}", value[unknown_key], fix)
    required = [_camel(f.name) for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    for required_key in required:
        if value.get(required_key) is None:
            raise JsonShape(f"{path}.{required_key}", None, "this field is required.")
    given = {names[k]: v for k, v in value.items() if v is not None}  # null: the field's default
    for name, part in parts.items():
        if name in given:
            if not isinstance(given[name], list):
                raise JsonShape(f"{path}.{_camel(name)}", given[name], f"give a list of {part.__name__} objects.")
            given[name] = tuple(
                _from_json(part, item, {}, f"{path}.{_camel(name)}[{i}]") for i, item in enumerate(given[name])
            )
    return cls(**given)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_FALLBACKS: dict[str, Any] = {"node_removal_policy": RemovalPolicy.RETAIN, "monitoring": True}


#: What an existing VPC is described by (the offline alternative to looking it up by ID).
VPC_ATTRIBUTES = ("availabilityZones", "publicSubnetIds", "privateSubnetIds", "privateRouteTableIds")


@dataclass(frozen=True)
class VpcSettings:
    """Where the gateways go: a new VPC (``cidr``), an existing one looked up by ID (``vpc_id`` alone, with the
    deployer's credentials, the result committed in cdk.context.json), or one described by attributes (offline)."""

    vpc_id: str | None = key("id", pattern(VPC_ID, "a VPC ID such as 'vpc-0123456789abcdef0'"), None)
    availability_zones: tuple[str, ...] = key(
        "availabilityZones", ids(AVAILABILITY_ZONE, "AZ names such as 'us-east-1a'"), ()
    )
    public_subnet_ids: tuple[str, ...] = key("publicSubnetIds", ids(SUBNET_ID, "subnet IDs"), ())
    private_subnet_ids: tuple[str, ...] = key("privateSubnetIds", ids(SUBNET_ID, "subnet IDs"), ())
    private_route_table_ids: tuple[str, ...] = key(
        "privateRouteTableIds", ids(ROUTE_TABLE_PATTERN, "route table IDs"), ()
    )
    #: The existing VPC's CIDR (checked by the library's rule).
    vpc_cidr: str | None = None
    #: The new VPC's CIDR (the stack's ``vpcCidr``).
    cidr: str = APP_VPC_CIDR

    @property
    def kind(self) -> str:
        if self.vpc_id is None:
            return "new"
        return "attributes" if self.private_subnet_ids else "lookup"

    @classmethod
    def parse(cls, where: str, raw: Any, cidr: str, problems: Problems) -> VpcSettings:
        if raw is None:
            return cls(cidr=cidr)
        entry = as_object(problems, where, raw, "{'id': 'vpc-…'} to look it up, or its attributes")
        unknown(problems, where, entry, _VPC_KEYS)
        lookup = set(entry) <= {"id"}
        needed = ("id",) if lookup else ("id", *VPC_ATTRIBUTES)
        hints = {spec.metadata["json"]: spec.metadata["check"].hint for spec in fields(cls) if "json" in spec.metadata}
        for name in needed:
            if entry.get(name) is None:  # required here, though each has a default for the other kinds
                problems.add(f"{where}.{name}", None, f"give {hints[name]}.")
        values = read_keys(cls, where, {k: v for k, v in entry.items() if k in needed}, problems)
        if lookup:
            return cls(vpc_id=values["vpc_id"] or "")
        _consistent_vpc(problems, where, values)
        vpc_cidr = entry.get("cidr")
        cidr_problem = vpc_cidr_problem(vpc_cidr, new_vpc=False)
        if cidr_problem is not None:
            problems.add(f"{where}.cidr", vpc_cidr, cidr_problem)
            vpc_cidr = None
        return cls(**{**values, "vpc_id": values["vpc_id"] or ""}, vpc_cidr=vpc_cidr)


def _consistent_vpc(problems: Problems, where: str, values: Mapping[str, Any]) -> None:
    """Two zones at least, of one region, each once; the same number of subnets in each, each subnet once; one route
    table per private subnet."""
    zones = values["availability_zones"]
    if len(zones) == 1:
        problems.add(f"{where}.availabilityZones", list(zones),
                     "give at least two availability zones: the gateways sit in two.")  # fmt: skip
    _zones_of_one_region(problems, where, zones)
    listed = [*values["public_subnet_ids"], *values["private_subnet_ids"]]
    for subnet in sorted({s for s in listed if listed.count(s) > 1}):
        problems.add(f"{where}.publicSubnetIds", subnet, "a subnet is listed twice (each zone has its own public and "
                     "private subnets); give each subnet once.")  # fmt: skip
    for name, subnets in (("publicSubnetIds", values["public_subnet_ids"]),
                          ("privateSubnetIds", values["private_subnet_ids"])):  # fmt: skip
        if subnets and len(subnets) % (len(zones) or 1):
            problems.add(f"{where}.{name}", list(subnets), f"give the same number of subnets in each of the "
                         f"{len(zones) or 1} availability zones, in the order of availabilityZones.")  # fmt: skip
    tables = values["private_route_table_ids"]
    if tables and len(tables) != len(values["private_subnet_ids"]):
        problems.add(f"{where}.privateRouteTableIds", list(tables),
                     "give one route table ID per private subnet, in the same order.")  # fmt: skip


#: A Secrets Manager secret by name (letters, digits and /_+=.@-, up to 512) or by ARN.
SECRET = re.compile(r"^([\w/+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+)\Z")
SECRET_NAME = pattern(SECRET, "a Secrets Manager secret name (letters, digits and /_+=.@-) or a secret ARN")
SECRET_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):secretsmanager:(?P<region>[a-z0-9-]+):\d{12}:secret:(?P<name>[\w/+=.@-]+)$"
)
#: The six random characters Secrets Manager appends to a secret's name in its ARN (mixed case and digits).
SIX_AFTER_A_HYPHEN = re.compile(r"-[A-Za-z0-9]{6}$")
RANDOM_SUFFIX = re.compile(r"-(?=[A-Za-z0-9]*[A-Z])(?=[A-Za-z0-9]*[a-z0-9])[A-Za-z0-9]{6}$")


def secret_problem(value: object, region: str | None = None) -> str | None:
    """What is wrong with a secret given by name or ARN, as CDK imports it and IAM grants on it (None: nothing).
    With the reader's ``region``, an ARN must be of it: the secret is read in that region."""
    if not isinstance(value, str) or not SECRET.match(value):
        return f"give {SECRET_NAME.hint}."
    arn = SECRET_ARN.match(value)
    if arn is not None:
        if region and arn["region"] != region:
            return (f"the secret is read in the stack's region {region}, and this ARN is of {arn['region']}: give a "
                    f"secret of {region} (Secrets Manager can replicate it there).")  # fmt: skip
        if region and arn["partition"] != partition_of(region):
            return (
                f"the ARN's partition {arn['partition']} is not that of the region {region} ({partition_of(region)})."
            )
        return None  # complete (its name ends in Secrets Manager's suffix, "-" and six characters) or partial
    if RANDOM_SUFFIX.search(value):
        return (f"this looks like a name with Secrets Manager's random suffix ({value[-7:]}); give the name "
                "without it, or the secret's full ARN.")  # fmt: skip
    if SIX_AFTER_A_HYPHEN.search(value):
        return (f"a name that ends in a hyphen and six characters ({value[-7:]}) cannot be looked up by name: AWS "
                "takes the last seven characters for the random suffix of a secret ARN (CDK's from_secret_name_v2 "
                "documents it). Give the secret's complete ARN instead.")  # fmt: skip
    return None


def partition_of(region: str) -> str:
    """The partition of a region, from its name."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class AppSettings:
    """What one gateway-cluster stack needs: the API secret, the VPC and the clusters."""

    api_secret_name: str = key("apiSecretName", SECRET_NAME, DEFAULT_API_SECRET)
    api_url: str = key("apiUrl", TEXT, DEFAULT_API_URL)
    vpc_cidr: str = key("vpcCidr", TEXT, APP_VPC_CIDR)
    #: Each cluster in a stack of its own (``TrustgridCluster-<name>``), the VPC in the main stack.
    stack_per_cluster: bool = key("stackPerCluster", FLAG, False)
    clusters: tuple[ClusterSettings, ...] = ()
    is_example: bool = False
    where: str = CONTEXT_KEY
    availability_zones: list[str] | None = None
    vpc: VpcSettings = field(default_factory=VpcSettings)
    account: str | None = None
    region: str | None = None

    @classmethod
    def from_context(cls, raw: Any) -> AppSettings:
        """The ``trustgrid`` context; with none at all, the example values (marked as such)."""
        data = context(raw)
        if data is None:
            return cls.parse(CONTEXT_KEY, EXAMPLE, is_example=True)
        problems = Problems()
        data = as_object(problems, CONTEXT_KEY, data, "see the configuration reference")
        unknown(problems, CONTEXT_KEY, data, APP_KEYS)
        if data and "clusters" not in data:
            fix = (
                "this configuration names no clusters: give trustgrid.clusters for the default app "
                "(trustgrid.pipeline configures only the pipeline app)."
            )
            problems.add(f"{CONTEXT_KEY}.clusters", None, fix)
        account, region = data.get("account"), data.get("region")
        if account is not None and not ACCOUNT.accepts(account):
            problems.add(f"{CONTEXT_KEY}.account", account, "give a 12-digit AWS account ID.")
        if region is not None and not (isinstance(region, str) and REGION_CODE.match(region)):
            problems.add(f"{CONTEXT_KEY}.region", region, "give an AWS region like 'us-east-1'.")
            region = ""
        zones = availability_zones(problems, CONTEXT_KEY, data.get("availabilityZones"), region or "")
        zones_for_a_new_vpc(problems, CONTEXT_KEY, data)
        if data and "clusters" not in data:
            problems.raise_any()
        # the clusters' problems too, with the top level's: every problem at once
        settings = stack_settings(problems, CONTEXT_KEY, data, zones=zones, account=account, region=region)
        problems.raise_any()
        assert settings is not None
        return settings

    @classmethod
    def parse(
        cls,
        where: str,
        data: Mapping[str, Any],
        *,
        is_example: bool,
        availability_zones: list[str] | None = None,
        account: str | None = None,
        region: str | None = None,
    ) -> AppSettings:
        problems = Problems()
        values = read_keys(cls, where, data, problems)
        secret = secret_problem(values["api_secret_name"], region)
        if secret is not None and SECRET.match(str(values["api_secret_name"])):  # a bad pattern is reported already
            problems.add(f"{where}.apiSecretName", values["api_secret_name"], secret)
        clusters = _clusters(problems, where, data.get("clusters"), values["api_url"])
        if len(clusters) > MAX_CLUSTERS_PER_STACK and not values["stack_per_cluster"]:
            problems.add(
                f"{where}.clusters",
                f"{len(clusters)} clusters",
                f"one stack holds at most {MAX_CLUSTERS_PER_STACK} clusters (CloudFormation's 500 resources; about 40 "
                "a cluster). Set stackPerCluster: true to give each cluster a stack of its own "
                "(TrustgridCluster-<name>); that moves the clusters of an existing stack, so set it before deploying.",
            )
        _succession_one_way(problems, clusters)
        _names_apart(problems, clusters)
        if values["stack_per_cluster"]:  # the construct checks its neighbours in its own stack; here in others
            _edges_apart(problems, clusters)
            _nodes_apart(problems, clusters)
            if not problems.found:  # a loop or a chain of cut-overs is reported as such, not as its consequence
                clusters = _superseded(clusters)
        vpc = _vpc(problems, where, data, str(values["vpc_cidr"]), account and region)
        _tables_of_an_existing_vpc(problems, where, vpc, clusters)
        problems.raise_any()
        return cls(
            **values,
            clusters=clusters,
            is_example=is_example,
            where=where,
            availability_zones=availability_zones,
            vpc=vpc,
            account=account,
            region=region,
        )


def _clusters(problems: Problems, where: str, raw: Any, api_url: Any) -> tuple[ClusterSettings, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(f"{where}.clusters", raw, "give a list of at least one cluster.")
        raw = []
    clusters = tuple(
        ClusterSettings.parse(f"{where}.clusters[{i}]", c, problems, api_url=api_url) for i, c in enumerate(raw)
    )
    names = [c.name for c in clusters]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.add(f"{where}.clusters", names, f"the cluster name {name!r} is used twice; give each its own.")
    return clusters


def _vpc(problems: Problems, where: str, data: Mapping[str, Any], cidr: str, located: Any) -> VpcSettings:
    vpc = VpcSettings.parse(f"{where}.vpc", data.get("vpc"), cidr, problems)
    if vpc.kind == "lookup" and vpc.vpc_id and not located:  # an id that is missing is reported already
        problems.add(f"{where}.vpc.id", vpc.vpc_id, "looking a VPC up needs the account and region "
                     "(trustgrid.account and trustgrid.region), or give the VPC's attributes instead.")  # fmt: skip
    if vpc.kind != "new" and "vpcCidr" in data:
        problems.add(f"{where}.vpcCidr", data["vpcCidr"], "vpcCidr is for a new VPC; an existing VPC is given by vpc.")
    return vpc


def zones_for_a_new_vpc(problems: Problems, where: str, data: Mapping[str, Any]) -> None:
    """availabilityZones places the VPC the app creates; an existing VPC's zones are its own."""
    if data.get("vpc") is not None and "availabilityZones" in data:
        problems.add(f"{where}.availabilityZones", data["availabilityZones"], "availabilityZones is for a new VPC; "
                     "an existing VPC's zones are vpc.availabilityZones.")  # fmt: skip


def _tables_of_an_existing_vpc(
    problems: Problems, where: str, vpc: VpcSettings, clusters: Sequence[ClusterSettings]
) -> None:
    """Route table IDs name tables of an existing VPC: the one the app creates has none yet (its LAN tables are
    managed without being named)."""
    if vpc.kind != "new":
        return
    for cluster in clusters:
        for keyword, name in (("route_table_ids", "routeTableIds"), ("extra_route_table_ids", "extraRouteTableIds")):
            if cluster.options.get(keyword):
                problems.add(f"{cluster.where}.{name}", cluster.options[keyword], "the app creates this VPC, whose "
                             "route tables have no IDs before it exists; leave it unset (the new VPC's LAN route "
                             f"tables are managed), or give an existing VPC with {where}.vpc.")  # fmt: skip


#: The keys of a stack's settings (the top level's, or a pipeline environment's), and those of the top level.
STACK_KEYS = json_keys(AppSettings) | {"vpc", "clusters"}
APP_KEYS = STACK_KEYS | {"pipeline", "account", "region", "availabilityZones"}


def stack_settings(
    problems: Problems,
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


def _superseded(clusters: tuple[ClusterSettings, ...]) -> tuple[ClusterSettings, ...]:
    """With a stack per cluster, a predecessor whose successor cut over is marked superseded (in one stack the
    successor marks it itself)."""
    taken = {c.config.succeeds for c in clusters if c.config and c.config.cut_over and c.config.succeeds}
    return tuple(
        replace(c, options={**c.options, "superseded": True}, config=replace(c.config, superseded=True))
        if c.config is not None and c.name in taken
        else c
        for c in clusters
    )


def _succession_one_way(problems: Problems, clusters: Sequence[ClusterSettings]) -> None:
    """Succession goes one way (no loop, which would leave the shared routes to nobody), and one cut-over at a time
    (a cluster that cuts over is not itself being cut over from)."""
    succeeds = {c.name: c.options.get("succeeds") for c in clusters}
    cuts_over = {c.name for c in clusters if c.options.get("cut_over")}
    for cluster in clusters:
        seen, name = [cluster.name], succeeds.get(cluster.name)
        while isinstance(name, str) and name in succeeds and name not in seen:
            seen.append(name)
            name = succeeds[name]
        if name == cluster.name and len(seen) > 1:
            problems.add(f"{cluster.where}.succeeds", succeeds[cluster.name], "the clusters "
                         f"{' → '.join([*seen, cluster.name])} succeed each other in a loop: succession goes one way. "
                         "Remove succeeds from the cluster that is to stay.")  # fmt: skip
        elif cluster.name in cuts_over and any(succeeds[c] == cluster.name and c in cuts_over for c in succeeds):
            problems.add(f"{cluster.where}.cutOver", True, "a cluster that succeeds this one cuts over from it in the "
                         "same deploy: one cut-over at a time. Deploy this cut-over, remove its predecessor, then cut "
                         "over to the next.")  # fmt: skip


def _names_apart(problems: Problems, clusters: Sequence[ClusterSettings]) -> None:
    """A cluster and a node share one namespace in Trustgrid (both are ``<name>.<org domain>``)."""
    nodes = {}
    for cluster in clusters:
        names = cluster.options.get("gateway_names") or (f"{cluster.name}-a", f"{cluster.name}-b")
        nodes.update({str(n): cluster for n in (names if isinstance(names, (list, tuple)) else [])})
    for cluster in clusters:
        owner = nodes.get(cluster.name)
        if owner is not None and owner is not cluster:
            fix = (f"a gateway of the cluster {owner.name!r} has that name: both would have the FQDN "
                   "'<name>.<org domain>'. Give the cluster another name.")  # fmt: skip
            problems.add(f"{cluster.where}.name", cluster.name, fix)


def _nodes_apart(problems: Problems, clusters: Sequence[ClusterSettings]) -> None:
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


def _edges_apart(problems: Problems, clusters: Sequence[ClusterSettings]) -> None:
    """Clusters in one VPC route their edge CIDRs in the same route tables: no two may overlap (but a successor
    shares its predecessor's)."""
    seen: list[tuple[str, str]] = []
    succeeds = {c.name: c.options.get("succeeds") for c in clusters}
    for cluster in clusters:
        cidrs = cluster.options.get("edge_cidrs")
        for index, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
            overlapping = (name for name, taken in seen if cidrs_overlap(str(cidr), taken))
            other = next(
                (n for n in overlapping if cluster.name not in (n, succeeds.get(n)) and succeeds[cluster.name] != n),
                None,
            )
            if other is not None:
                problems.add(
                    f"{cluster.where}.edgeCidrs[{index}]",
                    cidr,
                    f"overlaps the edge CIDRs of the cluster {other!r} in the same VPC: a route table holds one route "
                    "per destination. Give each cluster its own edge sites' network space.",
                )
            seen.append((cluster.name, str(cidr)))


def availability_zones(problems: Problems, where: str, zones: Any, region: str) -> list[str] | None:
    """Two availability zones for a new VPC, of the region when it is known."""
    if zones is None:
        return None
    if not isinstance(zones, list) or len(zones) != 2 or len(set(map(str, zones))) != 2:
        problems.add(f"{where}.availabilityZones", zones, "give two different AZ names such as 'us-east-1a'.")
        return None
    for index, zone in enumerate(zones):
        problem = zone_problem(zone, region or _region_of(zones[0]))
        if problem:
            problems.add(f"{where}.availabilityZones[{index}]", zone, problem)
    return [str(z) for z in zones]


def _zones_of_one_region(problems: Problems, where: str, zones: Sequence[str]) -> None:
    for index, zone in enumerate(zones):
        if zone in zones[:index]:
            problems.add(f"{where}.availabilityZones[{index}]", zone, "it is listed twice; give each zone once.")
        elif _region_of(zone) != _region_of(zones[0]):
            problems.add(f"{where}.availabilityZones[{index}]", zone, f"a VPC lies in one region: give zones of "
                         f"{_region_of(zones[0])} only.")  # fmt: skip


def _region_of(zone: object) -> str:
    """The region an availability zone's name says (``us-east-1a`` → ``us-east-1``), or "" for no zone name."""
    found = re.match(r"^([a-z]{2}(?:-[a-z]+)+-\d)(?:[a-z]|-[a-z]+-\d+[a-z])$", str(zone))
    return found.group(1) if found else ""
