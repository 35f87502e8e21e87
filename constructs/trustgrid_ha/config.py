"""The construct's settings: one typed, frozen, token-aware object, validated once, every problem at once.

:class:`ClusterConfig` holds the settings of :class:`~trustgrid_ha.TrustgridHaCluster`
that are plain values (the ones an app can read from JSON); the construct builds
one from its keyword arguments and builds everything from it. Each setting is
checked for its type and then by the rule it shares with the custom-resource
handler (:mod:`trustgrid_ha_runtime.contract`). A value that is an unresolved
token (a ``CfnParameter``, an attribute of another resource) passes here and is
checked by the handler at deploy time with the same rule.

A problem is reported under the keyword name (``heartbeat_port``,
``edge_cidrs[1]``); :class:`TrustgridConfigError` carries all of them, so a user
sees every mistake in one synth.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from trustgrid_ha_runtime import contract
from trustgrid_ha_runtime.contract import FailbackMode, HeartbeatInterface

from .errors import Problem, TrustgridConfigError, is_unresolved
from .instance_types import generation_of

CONTROL_PLANE_CIDRS = ("35.171.100.16/28", "34.223.12.192/28")
ANYWHERE = ("0.0.0.0/0",)
AMI_ID = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$")
HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?$")


REQUIRED = ("cluster_name", "edge_cidrs")
PLACEHOLDERS: dict[str, Any] = {"cluster_name": "placeholder", "edge_cidrs": ("192.0.2.0/24",)}


class _Kind:
    """The type a setting takes, as words for an error message and a check."""

    def __init__(self, words: str, accepts: Callable[[Any], bool]) -> None:
        self.words = words
        self.accepts = accepts


STR = _Kind("a string", lambda v: isinstance(v, str))
INT = _Kind("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool))
BOOL = _Kind("true or false", lambda v: isinstance(v, bool))


def _strings(words: str) -> _Kind:
    return _Kind(
        words, lambda v: isinstance(v, Sequence) and not isinstance(v, str) and all(isinstance(i, str) for i in v)
    )


CIDRS = _strings("a list of CIDRs such as ['172.16.0.0/16']")
NAMES = _strings("a list of two node names")
TABLES = _strings("a list of route table IDs")
STRS = (CIDRS, NAMES, TABLES)


def _enum(enum: type[Enum]) -> _Kind:
    return _Kind(f"one of {', '.join(str(m.value) for m in enum)}", lambda v: isinstance(v, enum))


HEARTBEAT_INTERFACE = _enum(HeartbeatInterface)
FAILBACK_MODE = _enum(FailbackMode)


def setting(kind: _Kind, default: Any = None, *, optional: bool = False, app: bool = True) -> Any:
    """A field of :class:`ClusterConfig`: its kind, whether None is allowed, whether an app may set it."""
    return field(default=default, metadata={"kind": kind, "optional": optional or default is None, "app": app})


@dataclass(frozen=True)
class ClusterConfig:
    """The plain-value settings of one cluster. Build it with :meth:`validated`."""

    cluster_name: str = setting(STR)
    edge_cidrs: tuple[str, ...] = setting(CIDRS)
    gateway_names: tuple[str, ...] | None = setting(NAMES, optional=True)
    instance_type: str = setting(STR, "c6i.large")
    machine_image_id: str | None = setting(STR, optional=True)
    image_refresh_token: str | None = setting(STR, optional=True)
    heartbeat_port: int = setting(INT, contract.DEFAULT_HEARTBEAT_PORT)
    heartbeat_interface: HeartbeatInterface = setting(HEARTBEAT_INTERFACE, HeartbeatInterface.LAN)
    tunnel_port: int = setting(INT, contract.DEFAULT_TUNNEL_PORT)
    tunnel_udp: bool = setting(BOOL, True)
    max_ingress_mbps: int | None = setting(INT, optional=True)
    max_client_write_mbps: int | None = setting(INT, optional=True)
    edge_source_cidrs: tuple[str, ...] = setting(CIDRS, ANYWHERE)
    lan_source_cidrs: tuple[str, ...] | None = setting(CIDRS, optional=True)
    control_plane_cidrs: tuple[str, ...] = setting(CIDRS, CONTROL_PLANE_CIDRS)
    https_egress_cidrs: tuple[str, ...] = setting(CIDRS, ANYWHERE)
    package_mirror_cidrs: tuple[str, ...] = setting(CIDRS, ANYWHERE)
    dns_server_cidrs: tuple[str, ...] = setting(CIDRS, ())
    route_table_ids: tuple[str, ...] | None = setting(TABLES, optional=True)
    extra_route_table_ids: tuple[str, ...] = setting(TABLES, ())
    failback_mode: FailbackMode = setting(FAILBACK_MODE, FailbackMode.AUTO)
    termination_protection: bool = setting(BOOL, True)
    root_volume_size_gib: int = setting(INT, 30)
    api_url: str = setting(STR, contract.DEFAULT_API_URL)
    enroll_endpoint: str = setting(STR, contract.DEFAULT_ENROLL_ENDPOINT)
    verify_health: bool = setting(BOOL, True)
    verify_routes: bool = setting(BOOL, True)
    wait_timeout_seconds: int = setting(INT, contract.DEFAULT_WAIT_SECONDS, app=False)

    @classmethod
    def validated(cls, **values: Any) -> ClusterConfig:
        """A config from these settings, or :class:`TrustgridConfigError` listing every problem."""
        known = {f.name: f for f in fields(cls)}
        problems = [
            Problem(name, values[name], f"unknown setting; known settings are {', '.join(known)}.")
            for name in sorted(set(values) - set(known))
        ]
        problems += [Problem(name, None, "this setting is required.") for name in REQUIRED if values.get(name) is None]
        given: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known or value is None:
                continue
            kind = known[name].metadata["kind"]
            if is_unresolved(value) or kind.accepts(value):
                given[name] = tuple(value) if kind in STRS and _literal_list(value) else value
            else:
                problems.append(Problem(name, value, f"give {kind.words}."))
        # every other setting is still checked: a wrong or missing one stands in as a valid placeholder
        config = cls(**{**PLACEHOLDERS, **given})
        skipped = {p.setting for p in problems}
        problems += [p for p in config.problems() if _base(p.setting) not in skipped]
        if problems:
            raise TrustgridConfigError.of(problems)
        return config

    @property
    def node_names(self) -> tuple[str, str]:
        names = self.gateway_names or (f"{self.cluster_name}-a", f"{self.cluster_name}-b")
        return names[0], names[1]

    # -- the rules --------------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        found: list[Problem] = []

        def rule(name: str, value: Any, problem: str | None) -> None:
            if problem is not None and not is_unresolved(value):
                found.append(Problem(name, value, problem))

        rule("cluster_name", self.cluster_name, contract.name_problem(self.cluster_name))
        self._names(rule, found)
        self._cidrs(rule, found)
        rule("tunnel_port", self.tunnel_port, contract.appliance_port_problem(self.tunnel_port))
        rule("heartbeat_port", self.heartbeat_port, contract.appliance_port_problem(self.heartbeat_port))
        self._across(found)
        rule("max_ingress_mbps", self.max_ingress_mbps, contract.mbps_problem(self.max_ingress_mbps))
        rule("max_client_write_mbps", self.max_client_write_mbps, contract.mbps_problem(self.max_client_write_mbps))
        for name in ("route_table_ids", "extra_route_table_ids"):
            for index, table in enumerate(getattr(self, name) or ()):
                rule(f"{name}[{index}]", table, contract.route_table_problem(table))
        if self.route_table_ids is not None and not is_unresolved(self.route_table_ids) and not self.route_table_ids:
            found.append(Problem("route_table_ids", [], "give at least one route table, or leave it unset."))
        self._tables_once(found)
        self._machine(rule, found)
        rule("api_url", self.api_url, _https_problem(self.api_url, "the API key would travel in clear"))
        rule("enroll_endpoint", self.enroll_endpoint, _https_problem(self.enroll_endpoint, "it runs in a root shell"))
        if is_unresolved(self.enroll_endpoint):  # nothing could check it before the gateway's root shell runs it
            found.append(
                Problem(
                    "enroll_endpoint",
                    "(a deploy-time value)",
                    "give the URL itself, such as 'https://keymaster.trustgrid.io/v2/enroll': it is written into the "
                    "gateways' first-boot script, which runs as root, so it must be checked before deployment.",
                )
            )
        rule("wait_timeout", f"{self.wait_timeout_seconds} s", contract.wait_problem(self.wait_timeout_seconds))
        return found

    def _across(self, found: list[Problem]) -> None:
        """The contract's rules across settings (the handler applies them again at deploy time)."""
        known = {f.name: getattr(self, f.name) for f in fields(self) if not is_unresolved(getattr(self, f.name))}
        for check in contract.CLUSTER_RULES:
            for finding in check(known):
                item = "" if finding.index is None else f"[{finding.index}]"
                found.append(Problem(finding.field + item, finding.value, finding.fix))

    def _machine(self, rule: Callable[[str, Any, str | None], None], found: list[Problem]) -> None:
        """The instance: its type, its image and its root volume."""
        try:
            generation_of(self.instance_type)
        except TrustgridConfigError as exc:
            found += exc.problems
        if self.image_refresh_token == "":
            found.append(Problem("image_refresh_token", "", "give a token that names the refresh, such as '2027-01'."))
        if self.machine_image_id is not None:
            rule("machine_image_id", self.machine_image_id, _ami_problem(self.machine_image_id))
            if self.image_refresh_token is not None:
                found.append(
                    Problem(
                        "image_refresh_token",
                        self.image_refresh_token,
                        "it asks to resolve the newest vendor image again, and machine_image_id names the image; "
                        "give one of the two.",
                    )
                )
        if not is_unresolved(self.root_volume_size_gib) and not 8 <= self.root_volume_size_gib <= 16384:
            found.append(
                Problem("root_volume_size_gib", self.root_volume_size_gib, "give 8 to 16384 GiB (default 30).")
            )

    def _names(self, rule: Callable[[str, Any, str | None], None], found: list[Problem]) -> None:
        name = self.cluster_name
        if self.gateway_names is None:
            if isinstance(name, str) and not is_unresolved(name) and len(name) > MAX_NAME - 2:
                found.append(
                    Problem(
                        "cluster_name",
                        name,
                        f"the gateways' default node names ('{name}-a', '{name}-b') would be {len(name) + 2} "
                        f"characters, over Trustgrid's {MAX_NAME}; shorten the name to {MAX_NAME - 2} characters or "
                        "give gateway_names.",
                    )
                )
            return
        names = list(self.gateway_names)
        if len(names) != 2 or names[0] == names[1]:
            found.append(Problem("gateway_names", names, "give two different node names, primary first."))
            return
        for index, node in enumerate(names):
            rule(f"gateway_names[{index}]", node, contract.name_problem(node))
            if node == name and not is_unresolved(node):
                found.append(
                    Problem(
                        f"gateway_names[{index}]",
                        node,
                        "a node may not be named like its cluster: both would have the FQDN "
                        f"'{node}.<your org domain>'. Give the gateways names of their own, such as '{node}-a'.",
                    )
                )

    def _cidrs(self, rule: Callable[[str, Any, str | None], None], found: list[Problem]) -> None:
        lists: list[tuple[str, Sequence[str] | None, bool]] = [
            ("edge_cidrs", self.edge_cidrs, False),
            ("edge_source_cidrs", self.edge_source_cidrs, False),
            ("lan_source_cidrs", self.lan_source_cidrs, False),
            ("control_plane_cidrs", self.control_plane_cidrs, False),
            ("https_egress_cidrs", self.https_egress_cidrs, False),
            ("package_mirror_cidrs", self.package_mirror_cidrs, False),
            ("dns_server_cidrs", self.dns_server_cidrs, True),
        ]
        for name, values, may_be_empty in lists:
            if values is None or is_unresolved(values):
                continue
            if not values and not may_be_empty:
                found.append(Problem(name, [], "give at least one CIDR, for example ['172.16.0.0/16']."))
            ipv4_only = name == "lan_source_cidrs"  # edge CIDRs: the contract's rule says so
            for index, value in enumerate(values):
                problem = contract.edge_cidr_problem(value) if name == "edge_cidrs" else contract.cidr_problem(value)
                if problem is None and ipv4_only and ":" in value:
                    problem = (
                        "IPv6 is not supported here: Trustgrid's AWS route-table entries and the LAN security "
                        "group rules are IPv4. Give an IPv4 network."
                    )
                rule(f"{name}[{index}]", value, problem)
        self._lan_apart_from_edges(found)

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

    @classmethod
    def app_settings(cls) -> Mapping[str, str]:
        """The settings an app may read from JSON: camelCase spelling -> keyword name."""
        return {_camel(f.name): f.name for f in fields(cls) if f.metadata["app"]}

    @classmethod
    def kind_of(cls, name: str) -> _Kind:
        kind: _Kind = {f.name: f.metadata["kind"] for f in fields(cls)}[name]
        return kind


#: Trustgrid names (clusters, nodes): at most this many characters.
MAX_NAME = 63


def _base(setting: str) -> str:
    return setting.split("[", 1)[0]


def _literal_list(value: Any) -> bool:
    return value is not None and not isinstance(value, str) and not is_unresolved(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _ami_problem(value: str) -> str | None:
    return None if AMI_ID.match(value) else "give an AMI ID such as 'ami-0123456789abcdef0'."


def _https_problem(value: str, why: str) -> str | None:
    if not HTTPS_URL.match(value):
        return f"give a plain https:// URL such as 'https://api.trustgrid.io' ({why} otherwise)."
    return None
