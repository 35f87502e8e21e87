"""The construct's settings: one typed, frozen, token-aware object, declared once, validated once, every problem
at once.

:class:`ClusterConfig` holds every option of :class:`~trustgrid_ha.TrustgridHaCluster`, plain values and objects
alike: each field declares its kind, its default, and (through :func:`setting`) how an app spells it in cdk.json.
The construct hands its keywords over in one line (:meth:`ClusterConfig.from_keywords`) and builds everything from
the result; the configuration reference (``docs/configuration.md``) is generated from the same fields. Each setting
is checked for its kind and then by the rule it shares with the custom-resource handler
(:mod:`trustgrid_ha_runtime.contract`). A value that is an unresolved token (a ``CfnParameter``, an attribute of
another resource) passes here and is checked by the handler at deploy time with the same rule.

A problem is reported under the keyword name (``heartbeat_port``, ``edge_cidrs[1]``); :class:`TrustgridConfigError`
carries all of them, so a user sees every mistake in one synth.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property, partial
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns

from trustgrid_ha_runtime import contract
from trustgrid_ha_runtime.contract import FailbackMode, GatewayType, HeartbeatInterface

from .errors import Problem, TrustgridConfigError, is_unresolved
from .instance_types import InterfaceNames, generation_of
from .kinds import (
    BOOL,
    CIDRS,
    CLIENTS,
    DURATION,
    FAILBACK_MODE,
    GATEWAY_TYPE,
    HEARTBEAT_INTERFACE,
    INT,
    INTERFACE_NAMES,
    MINUTES,
    NAMES,
    REMOVAL_POLICY,
    SECRET,
    SHAPE,
    STR,
    STRS,
    SUBNETS,
    SWITCH,
    SWITCH_REFUSED,
    TABLES,
    TOPIC,
    TWO_SECRETS,
    VIRTUAL_NETWORK,
    VPC,
    Kind,
    shown,
)
from .virtual_network import VirtualNetwork

CONTROL_PLANE_CIDRS = ("35.171.100.16/28", "34.223.12.192/28")
ANYWHERE = ("0.0.0.0/0",)
AMI_ID = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})\Z")
HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?\Z")
DEFAULT_WAIT = Duration.minutes(contract.DEFAULT_WAIT_SECONDS // 60)
#: The scheduled health check runs every minute: with alarms on two checks in a row, a member that goes offline
#: raises an alarm within about three minutes.
DEFAULT_MONITORING_INTERVAL = Duration.minutes(1)
TOKEN_DURATION_FIX = (
    "a Duration built from a deploy-time value (a CfnParameter, say) in a unit other than seconds cannot be "
    "converted; give Duration.seconds(value), or a plain number of minutes."
)

#: Where an app gives a setting: a key of each cluster entry (its camelCase name unless said), a key of the whole
#: stack (every cluster of the stack shares it), or nowhere (the construct's keyword only: an object JSON cannot
#: describe).
CLUSTER, STACK, CONSTRUCT = "cluster", "stack", "construct"
PLACEHOLDERS: dict[str, Any] = {"cluster_name": "placeholder", "edge_cidrs": ("192.0.2.0/24",)}
REQUIRED_FIX = "this setting is required."
API_KEY_IN_CLEAR = "the API key would travel in clear"


def setting(
    kind: Kind,
    default: Any = None,
    *,
    required: bool = False,
    rule: Callable[[Any], str | None] | None = None,
    each: Callable[[Any], str | None] | None = None,
    listed: str | None = None,
    app: str = CLUSTER,
    key: str | None = None,
) -> Any:
    """A field of :class:`ClusterConfig`: its kind, its default (None: none, or derived), whether it is required,
    the ``rule`` its value follows (or ``each`` item of a list; ``listed``: the fix for an empty list), and where an
    app gives it (``app``) under which cdk.json ``key`` (@default - the camelCase keyword)."""
    metadata = {"kind": kind, "required": required, "rule": rule, "each": each, "listed": listed, "app": app}
    return field(default=default, metadata={**metadata, "key": key})


CIDRS_LISTED = "give at least one CIDR, for example ['172.16.0.0/16']."


# -- the rules of single settings (the contract holds those the handler applies too) ---------------


def ami_problem(value: str) -> str | None:
    return None if AMI_ID.match(value) else "give an AMI ID such as 'ami-0123456789abcdef0'."


def https_problem(value: str, why: str) -> str | None:
    fix = f"give a plain https:// URL such as 'https://api.trustgrid.io' ({why} otherwise)."
    if not HTTPS_URL.match(value):
        return fix
    try:
        url = urllib.parse.urlsplit(value)
        if url.port == 0:  # urlsplit raises for a port above 65535
            return fix
    except ValueError:
        return fix
    labels = (url.hostname or "").split(".")
    return None if all(HOST_LABEL.fullmatch(label) for label in labels) else fix


def ipv4_cidr_problem(value: object) -> str | None:
    problem = contract.cidr_problem(value)
    if problem is None and ":" in str(value):
        return "IPv6 is not supported here: the gateways and their security group rules are IPv4. Give an IPv4 network."
    return problem


def refresh_token_problem(value: str) -> str | None:
    return "give a token that names the refresh, such as '2027-01'." if value == "" else None


def root_volume_problem(value: int) -> str | None:
    return None if 8 <= value <= 16384 else "give 8 to 16384 GiB (default 30)."


@dataclass(frozen=True)
class ClusterConfig:
    """Every setting of one cluster, in the order of the construct's keywords. Build it with :meth:`validated`
    (or :meth:`from_keywords`); a config that exists has passed every rule."""

    cluster_name: str = setting(STR, required=True, rule=contract.name_problem, key="name")
    api_secret: secretsmanager.ISecret = setting(SECRET, required=True, app=STACK, key="apiSecretName")
    edge_cidrs: tuple[str, ...] = setting(CIDRS, required=True, each=contract.edge_cidr_problem, listed=CIDRS_LISTED)
    vpc: ec2.IVpc | None = setting(VPC, app=STACK, key="vpc")
    wan_subnets: ec2.SubnetSelection | None = setting(SUBNETS, app=CONSTRUCT)
    lan_subnets: ec2.SubnetSelection | None = setting(SUBNETS, app=CONSTRUCT)
    gateway_names: tuple[str, ...] | None = setting(NAMES)
    instance_type: str = setting(STR, "c6i.large")
    interface_names: InterfaceNames | None = setting(INTERFACE_NAMES, app=CONSTRUCT)
    machine_image_id: str | None = setting(STR, rule=ami_problem)
    image_refresh_token: str | None = setting(STR, rule=refresh_token_problem)
    heartbeat_port: int = setting(INT, contract.DEFAULT_HEARTBEAT_PORT, rule=contract.appliance_port_problem)
    heartbeat_interface: HeartbeatInterface = setting(HEARTBEAT_INTERFACE, HeartbeatInterface.LAN)
    tunnel_port: int = setting(INT, contract.DEFAULT_TUNNEL_PORT, rule=contract.appliance_port_problem)
    tunnel_udp: bool = setting(BOOL, True)
    max_ingress_mbps: int | None = setting(INT, rule=contract.mbps_problem)
    max_client_write_mbps: int | None = setting(INT, rule=contract.mbps_problem)
    gateway_type: GatewayType = setting(GATEWAY_TYPE, GatewayType.PUBLIC)
    gateway_clients: tuple[str, ...] = setting(CLIENTS, (), each=contract.client_name_problem)
    edge_source_cidrs: tuple[str, ...] = setting(CIDRS, ANYWHERE, each=ipv4_cidr_problem, listed=CIDRS_LISTED)
    lan_source_cidrs: tuple[str, ...] | None = setting(CIDRS, each=ipv4_cidr_problem, listed=CIDRS_LISTED)
    control_plane_cidrs: tuple[str, ...] = setting(
        CIDRS, CONTROL_PLANE_CIDRS, each=ipv4_cidr_problem, listed=CIDRS_LISTED
    )
    https_egress_cidrs: tuple[str, ...] = setting(CIDRS, ANYWHERE, each=ipv4_cidr_problem, listed=CIDRS_LISTED)
    package_mirror_cidrs: tuple[str, ...] = setting(CIDRS, ANYWHERE, each=ipv4_cidr_problem, listed=CIDRS_LISTED)
    dns_server_cidrs: tuple[str, ...] = setting(CIDRS, (), each=ipv4_cidr_problem)
    route_table_ids: tuple[str, ...] | None = setting(
        TABLES, each=contract.route_table_problem, listed="give at least one route table, or leave it unset."
    )
    extra_route_table_ids: tuple[str, ...] = setting(TABLES, (), each=contract.route_table_problem)
    failback_mode: FailbackMode = setting(FAILBACK_MODE, FailbackMode.AUTO)
    cluster_ip_failover: bool | None = setting(SWITCH_REFUSED, app=CONSTRUCT)
    license_secrets: tuple[secretsmanager.ISecret, ...] | None = setting(TWO_SECRETS, app=CONSTRUCT)
    node_removal_policy: RemovalPolicy = setting(REMOVAL_POLICY, RemovalPolicy.RETAIN, key="removeNodesOnDelete")
    termination_protection: bool = setting(SHAPE, True)
    root_volume_size_gib: int = setting(INT, 30, rule=root_volume_problem)
    api_url: str = setting(
        STR, contract.DEFAULT_API_URL, rule=partial(https_problem, why=API_KEY_IN_CLEAR), app=STACK, key="apiUrl"
    )
    enroll_endpoint: str = setting(
        STR, contract.DEFAULT_ENROLL_ENDPOINT, rule=partial(https_problem, why="it runs in a root shell")
    )
    verify_health: bool = setting(BOOL, True)
    verify_routes: bool = setting(BOOL, True)
    wait_timeout: Duration = setting(DURATION, DEFAULT_WAIT, key="waitTimeoutMinutes")
    monitoring: bool = setting(SWITCH, True)
    monitoring_interval: Duration = setting(MINUTES, DEFAULT_MONITORING_INTERVAL, key="monitoringIntervalMinutes")
    alarm_topic: sns.ITopic | None = setting(TOPIC, key="alarmTopicArn")
    virtual_network: VirtualNetwork | None = setting(VIRTUAL_NETWORK)
    succeeds: str | None = setting(STR, rule=contract.name_problem)
    cut_over: bool = setting(SHAPE, False)
    superseded: bool = setting(SHAPE, False)
    member_swap: bool = setting(SHAPE, False)

    @classmethod
    def from_keywords(cls, keywords: Mapping[str, Any]) -> ClusterConfig:
        """The config from a constructor's keywords (its ``locals()``): every setting it names, nothing else."""
        names = {f.name for f in fields(cls)}
        return cls.validated(**{k: v for k, v in keywords.items() if k in names})

    @classmethod
    def validated(cls, *, complete: bool = True, **values: Any) -> ClusterConfig:
        """A config from these settings, or :class:`TrustgridConfigError` listing every problem. None stands for
        the default. ``complete=False``: required settings not given are left to the caller (an app checks a
        cluster entry before its stack exists)."""
        known = {f.name: f for f in fields(cls)}
        problems = [
            Problem(name, values[name], f"unknown setting; known settings are {', '.join(known)}.")
            for name in sorted(set(values) - set(known))
        ]
        given: dict[str, Any] = {}
        for name, spec in known.items():
            value = values.get(name)
            if value is None:
                if spec.metadata["required"] and (complete or name in values):
                    problems.append(Problem(name, None, REQUIRED_FIX))
                continue
            kind: Kind = spec.metadata["kind"]
            if kind in STRS and name not in DEPLOY_TIME_LISTS and is_unresolved(value):
                problems.append(Problem(name, value, DEPLOY_TIME_LIST_FIX))
            elif kind.synth_time and is_unresolved(value):
                problems.append(Problem(name, value, f"give {kind.words} itself: it decides what the template "
                                        "holds, at synth time, which a deploy-time value cannot."))  # fmt: skip
            elif is_unresolved(value) or kind.accepts(value):
                given[name] = tuple(value) if kind in STRS and _literal_list(value) else value
            else:
                problems.append(Problem(name, shown(value), f"give {kind.words}."))
        # every other setting is still checked: a wrong or missing one stands in as a valid placeholder
        config = cls(**{**PLACEHOLDERS, **given})
        skipped = {p.setting for p in problems}
        problems += [p for p in config.problems() if _base(p.setting) not in skipped]
        if problems:
            raise TrustgridConfigError.of(problems)
        return config

    def keywords(self) -> dict[str, Any]:
        """The config as the construct's keywords (what :meth:`TrustgridHaCluster.from_config` hands over)."""
        return {spec.name: getattr(self, spec.name) for spec in fields(self)}

    @cached_property
    def wait_timeout_seconds(self) -> int:
        """The wait timeout in seconds (a token for a deploy-time amount given in seconds)."""
        seconds = _seconds(self.wait_timeout)
        if seconds is None:
            return contract.DEFAULT_WAIT_SECONDS
        return seconds if is_unresolved(seconds) else int(seconds)  # type: ignore[return-value]

    @property
    def node_names(self) -> tuple[str, str]:
        names = self.gateway_names or (f"{self.cluster_name}-a", f"{self.cluster_name}-b")
        return names[0], names[1]

    # -- the rules --------------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        """Every rule: each setting's own (its field's ``rule`` and ``each``), then those across settings."""
        found: list[Problem] = []
        for spec in fields(self):
            _field_rules(found, spec.name, getattr(self, spec.name), spec.metadata)
        self._names(found)
        self._lan_apart_from_edges(found)
        self._across(found)
        self._tables_once(found)
        self._machine(found)
        self._durations(found)
        if self.virtual_network is not None:
            found += self.virtual_network.problems(self.cluster_name, self.edge_cidrs)
        found += self._succession()
        found += self._licenses_and_interfaces()
        found += self._clients()
        if self.member_swap:
            for name in ("machine_image_id", "image_refresh_token", "root_volume_size_gib"):
                if is_unresolved(getattr(self, name)):
                    found.append(Problem(name, getattr(self, name), "with member_swap give the value itself: a "
                                         "change of it gives the gateways new nodes, which the template must know at "
                                         "synth time (a deploy-time value would change without a swap)."))  # fmt: skip
        if self.member_swap and self.license_secrets:
            found.append(Problem("license_secrets", "(two secrets)", "a member swap gives each new gateway a new node "
                                 "with a license of its own, minted through the API: leave license_secrets unset with "
                                 "member_swap."))  # fmt: skip
        if is_unresolved(self.enroll_endpoint):  # nothing could check it before the gateway's root shell runs it
            found.append(
                Problem(
                    "enroll_endpoint",
                    "(a deploy-time value)",
                    "give the URL itself, such as 'https://keymaster.trustgrid.io/v2/enroll': it is written into the "
                    "gateways' first-boot script, which runs as root, so it must be checked before deployment.",
                )
            )
        return found

    def _clients(self) -> list[Problem]:
        """A private gateway's clients: each once, and neither this cluster nor its own gateways."""
        found, seen = [], set()
        own = {self.cluster_name, *(self.gateway_names or (f"{self.cluster_name}-a", f"{self.cluster_name}-b"))}
        for index, client in enumerate(self.gateway_clients):
            if client in seen:
                found.append(Problem(f"gateway_clients[{index}]", client, "it is listed twice; give each client once."))
            elif client in own:
                found.append(Problem(f"gateway_clients[{index}]", client, "it is this cluster or one of its own "
                                     "gateways; list the edge nodes or clusters that connect to it."))  # fmt: skip
            seen.add(client)
        return found

    def _licenses_and_interfaces(self) -> list[Problem]:
        """Two licenses of their own; interface names the node OS could give (and a shell would not misread)."""
        found = []
        secrets = self.license_secrets or ()
        if len(secrets) == 2 and secrets[0] is secrets[1]:
            found.append(Problem("license_secrets", shown(list(secrets)), "give two secrets, one license per gateway: "
                                 "a license registers one node."))  # fmt: skip
        names = self.interface_names
        if names is not None:
            for part in ("wan", "lan"):
                value = getattr(names, part)
                if not (isinstance(value, str) and INTERFACE_NAME.fullmatch(value)):
                    found.append(Problem(f"interface_names.{part}", value, INTERFACE_NAME_FIX))
            if names.wan == names.lan:
                found.append(Problem("interface_names", f"{names.wan}/{names.lan}", "give the WAN and the LAN "
                                     "interface different names."))  # fmt: skip
        return found

    def _across(self, found: list[Problem]) -> None:
        """The contract's rules across settings (the handler applies them again at deploy time)."""
        known = {f.name: getattr(self, f.name) for f in fields(self) if not is_unresolved(getattr(self, f.name))}
        for check in contract.CLUSTER_RULES:
            for finding in check(known):
                item = "" if finding.index is None else f"[{finding.index}]"
                found.append(Problem(finding.field + item, finding.value, finding.fix))

    def _succession(self) -> list[Problem]:
        """A cut-over needs the cluster it succeeds; a cluster does not succeed itself."""
        found = []
        if self.cut_over and not self.succeeds:
            found.append(Problem("cut_over", True, "a cut-over moves the routes from the cluster this one succeeds: "
                                 "give succeeds, the predecessor's name."))  # fmt: skip
        if self.cut_over and self.superseded:
            found.append(Problem("superseded", True, "a cluster that cuts over takes the routes, and a superseded one "
                                 "has given them away: set one of cut_over and superseded."))  # fmt: skip
        if self.succeeds is not None and self.succeeds == self.cluster_name:
            found.append(Problem("succeeds", self.succeeds, "a cluster succeeds another one: give the old cluster's "
                                 "name, and this one a new name."))  # fmt: skip
        return found

    @property
    def owns_routes(self) -> bool:
        """Whether the cluster owns its edge routes: not a successor before its cut-over, nor a superseded one."""
        return not self.superseded and (self.succeeds is None or self.cut_over)

    def _machine(self, found: list[Problem]) -> None:
        """The instance: its type, its image (one of the two ways to name it), cluster-IP failover."""
        try:
            generation_of(self.instance_type)
        except TrustgridConfigError as exc:
            found += exc.problems
        if self.machine_image_id is not None and self.image_refresh_token is not None:
            found.append(
                Problem(
                    "image_refresh_token",
                    self.image_refresh_token,
                    "it asks to resolve the newest vendor image again, and machine_image_id names the image; "
                    "give one of the two.",
                )
            )
        if self.cluster_ip_failover is True:
            found.append(
                Problem(
                    "cluster_ip_failover",
                    True,
                    "Trustgrid's cluster-IP failover works only when both members sit in the same availability "
                    "zone, and this construct places them in two. Remove the setting: the edge CIDRs follow the "
                    "active member through the managed route tables instead.",
                )
            )

    def _durations(self, found: list[Problem]) -> None:
        """The wait timeout (a deploy-time amount in seconds is checked again by the handler) and the health
        check's interval, which the schedule and the alarms' period need at synth time."""
        seconds = _seconds(self.wait_timeout)
        if seconds is None:
            found.append(Problem("wait_timeout", "(a deploy-time value)", TOKEN_DURATION_FIX))
        elif not is_unresolved(seconds):
            problem = contract.wait_problem(int(seconds)) if seconds == int(seconds) else "give whole seconds."
            _rule(found, "wait_timeout", self.wait_timeout.to_human_string(), problem)
        if not self.monitoring:
            if self.alarm_topic is not None or self.monitoring_interval is not DEFAULT_MONITORING_INTERVAL:
                setting = "alarm_topic" if self.alarm_topic is not None else "monitoring_interval"
                fix = "it applies to the health check, which monitoring=False turns off; remove one of the two."
                found.append(Problem(setting, shown(getattr(self, setting)), fix))
            return
        interval = _seconds(self.monitoring_interval)
        if interval is None or is_unresolved(interval):
            fix = (
                "the schedule and the alarms' period are fixed at synth time: give a plain number of minutes, such "
                "as Duration.minutes(1)."
            )
            found.append(Problem("monitoring_interval", "(a deploy-time value)", fix))
        elif interval < 60 or interval % 60 or interval > MAX_MONITORING_SECONDS:
            found.append(
                Problem(
                    "monitoring_interval",
                    self.monitoring_interval.to_human_string(),
                    f"give whole minutes, 1 to {MAX_MONITORING_SECONDS // 60}.",
                )
            )

    def _names(self, found: list[Problem]) -> None:
        name = self.cluster_name
        revision = SWAP_SUFFIX if self.member_swap else 0  # '-' and six hex digits: each gateway's own
        longest = MAX_NAME - revision
        suffix = f", each with{SWAPPED}" if revision else ""
        if self.gateway_names is None:
            if isinstance(name, str) and not is_unresolved(name) and len(name) > longest - 2:
                found.append(
                    Problem(
                        "cluster_name",
                        name,
                        f"the gateways' default node names ('{name}-a', '{name}-b'{suffix}) "
                        f"would be {len(name) + 2 + revision} characters, over Trustgrid's {MAX_NAME}; shorten the "
                        f"name to {longest - 2} characters or give gateway_names.",
                    )
                )
            return
        names = list(self.gateway_names)
        if len(names) != 2 or names[0] == names[1]:
            found.append(Problem("gateway_names", names, "give two different node names, primary first."))
            return
        for index, node in enumerate(names):
            _rule(found, f"gateway_names[{index}]", node, contract.name_problem(node))
            if revision and isinstance(node, str) and not is_unresolved(node) and len(node) > longest:
                fix = f"with member_swap each gateway's node name ends in{SWAPPED}: give at most {longest} characters."
                found.append(Problem(f"gateway_names[{index}]", node, fix))
            if node == name and not is_unresolved(node):
                found.append(
                    Problem(
                        f"gateway_names[{index}]",
                        node,
                        "a node may not be named like its cluster: both would have the FQDN "
                        f"'{node}.<your org domain>'. Give the gateways names of their own, such as '{node}-a'.",
                    )
                )

    def _tables_once(self, found: list[Problem]) -> None:
        seen: set[str] = set()
        for name in ("route_table_ids", "extra_route_table_ids"):
            values = getattr(self, name) or ()
            for index, table in enumerate(() if is_unresolved(values) else values):
                if is_unresolved(table):
                    continue
                if table in seen:
                    found.append(
                        Problem(f"{name}[{index}]", table, "this route table is listed already; list it once.")
                    )
                seen.add(table)

    def _lan_apart_from_edges(self, found: list[Problem]) -> None:
        """A LAN-side network is local; an edge CIDR is remote: a LAN source inside an edge CIDR would be both. (A
        wider LAN source, such as a corporate 10.0.0.0/8 around an edge 10.50.0.0/16, only says who may send.)"""
        if self.lan_source_cidrs is None or is_unresolved(self.lan_source_cidrs):
            return
        edges = [e for e in self.edge_cidrs if not is_unresolved(e) and contract.cidr_problem(e) is None]
        for index, value in enumerate(self.lan_source_cidrs):
            if is_unresolved(value) or contract.cidr_problem(value, whole_internet=False) is not None:
                continue
            clash = next((e for e in edges if contract.cidr_inside(value, e)), None)
            if clash is not None:
                found.append(
                    Problem(
                        f"lan_source_cidrs[{index}]",
                        value,
                        f"it lies in the edge CIDR {clash}: an address is either on the LAN side or at the edge "
                        "sites. Give the LAN-side networks apart from the edge sites' space.",
                    )
                )

    # -- what an app and the documentation read ---------------------------------------------

    @classmethod
    def app_settings(cls, where: str = CLUSTER) -> Mapping[str, str]:
        """The settings an app gives in JSON ``where`` (a cluster entry, or the stack): cdk.json key -> keyword."""
        return {app_key(f): f.name for f in fields(cls) if f.metadata["app"] == where}

    @classmethod
    def kind_of(cls, name: str) -> Kind:
        kind: Kind = {f.name: f.metadata["kind"] for f in fields(cls)}[name]
        return kind


def app_key(spec: Any) -> str:
    """The cdk.json key of a setting's field."""
    return str(spec.metadata["key"] or _camel(spec.name))


def _rule(found: list[Problem], name: str, value: Any, problem: str | None) -> None:
    if problem is not None and not is_unresolved(value):
        found.append(Problem(name, value, problem))


def _field_rules(found: list[Problem], name: str, value: Any, metadata: Mapping[str, Any]) -> None:
    """A setting's own rules: on the value (``rule``), on a list's length (``listed``), on each item (``each``)."""
    if value is None or is_unresolved(value):
        return
    if metadata.get("rule") is not None:
        _rule(found, name, value, metadata["rule"](value))
    if metadata.get("listed") and not value:
        found.append(Problem(name, [], metadata["listed"]))
    if metadata.get("each") is not None:
        for index, item in enumerate(value):
            _rule(found, f"{name}[{index}]", item, metadata["each"](item))


def _seconds(duration: Duration) -> float | None:
    """A Duration in seconds (a token for a deploy-time amount given in seconds), or None when CDK cannot convert
    it (a deploy-time amount in another unit)."""
    try:
        return duration.to_seconds(integral=False)
    except RuntimeError:  # jsii: "Duration must be specified as 'Duration.seconds()' here since its value comes from
        return None  # a token and cannot be converted"


#: One label of a host name: letters, digits and inner hyphens.
HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: A network interface name as Linux gives it (``ens6``, ``enp40s0``): at most 15 characters.
INTERFACE_NAME = re.compile(r"[a-z][a-z0-9]{0,14}")
INTERFACE_NAME_FIX = "give a Linux interface name such as 'ens6': a letter, then letters and digits, 15 at most."
#: The health check's longest interval (the app's monitoringIntervalMinutes has the same limit).
MAX_MONITORING_SECONDS = 3600
#: Trustgrid names (clusters, nodes): at most this many characters.
MAX_NAME = 63
#: The list settings that may be a deploy-time list (a CommaDelimitedList parameter): the others make one security
#: group rule, IAM resource or API entry per item, at synth time.
DEPLOY_TIME_LISTS = frozenset({"edge_cidrs"})
DEPLOY_TIME_LIST_FIX = (
    "give the list itself (its items may be deploy-time values): one security group rule, permission or entry is "
    "made per item at synth time, which a deploy-time list such as a CommaDelimitedList parameter cannot give."
)
#: With member_swap, each gateway's node name ends in '-' and six hex digits of what makes it a new node.
SWAP_SUFFIX = 7
SWAPPED = " a revision ('-' and six hex digits of what makes it a new node)"


def _base(setting: str) -> str:
    return setting.split("[", 1)[0]


def _literal_list(value: Any) -> bool:
    return value is not None and not isinstance(value, str) and not is_unresolved(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
