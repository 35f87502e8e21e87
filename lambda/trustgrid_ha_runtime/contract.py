"""The contract between the construct and its custom-resource handler.

One module, standard library only, imported by both sides: the resource types, the property structs, the enum
values, the rules a value must follow, the Lambda environment and the metric names. Each property struct is
declared once, as a frozen dataclass whose fields carry their wire key, default and rule (:func:`prop`); one
generic codec turns a struct into CloudFormation's string-typed properties (:meth:`Struct.to_properties`) and
back into values of their real types (:meth:`Struct.parse`).

A new request is parsed strictly: every rule the construct applies at synth time applies again here (the field
rules and :data:`CLUSTER_RULES`, which the construct's config calls too), so a value that was a token at synth
time (a ``CfnParameter``, say) is checked at deploy time by the same rule. The *old* properties of an update, and
the properties of a delete, are parsed leniently: a stack deployed by an older version of this library lacks the
properties added since, and its update or delete must still work. :data:`CONTRACT_VERSION` names the version that
wrote a request.
"""

from __future__ import annotations

import ipaddress
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar, TypeVar

#: Bumped whenever a property is added, renamed or changes meaning.
CONTRACT_VERSION = 2
VERSION_KEY = "ContractVersion"

CLUSTER_TYPE = "Custom::TrustgridCluster"
LICENSE_TYPE = "Custom::TrustgridNodeLicense"
IMAGE_TYPE = "Custom::TrustgridImage"
GUARD_TYPE = "Custom::TrustgridChangeGuard"
GATE_TYPE = "Custom::TrustgridMemberReady"
PROTECTION_TYPE = "Custom::TrustgridProtection"
VIRTUAL_NETWORK_TYPE = "Custom::TrustgridVirtualNetwork"
SEAT_TYPE = "Custom::TrustgridSeat"
MEMBER_TYPE = "Custom::TrustgridMember"

DEFAULT_API_URL = "https://api.trustgrid.io"
DEFAULT_ENROLL_ENDPOINT = "https://keymaster.trustgrid.io/v2/enroll"
#: Where the first-boot script on each gateway logs, and where the vendor playbook writes its output.
FIRST_BOOT_LOG = "/var/log/trustgrid-first-boot.log"
PLAYBOOK_LOG = "/bootstrap.out"
#: The namespace of the scheduled health check's CloudWatch metrics.
METRICS_NAMESPACE = "Trustgrid/HA"
DEFAULT_HEARTBEAT_PORT = 9000
DEFAULT_TUNNEL_PORT = 8443
#: How long a cluster waits at most: the Provider framework gives up at 55 minutes, CloudFormation at 60.
MIN_WAIT_SECONDS = 60
MAX_WAIT_SECONDS = 3000
DEFAULT_WAIT_SECONDS = 2700

#: The Lambda environment of the handler and the scheduled check: where the API key is, and the API's URL.
API_SECRET_ENV = "TRUSTGRID_API_SECRET_ARN"
API_URL_ENV = "TRUSTGRID_API_URL"
#: The scheduled check's metrics (namespace :data:`METRICS_NAMESPACE`, dimension :data:`METRICS_DIMENSION`).
METRIC_CLUSTER_HEALTHY = "ClusterHealthy"
METRIC_ROUTES_ON_ACTIVE = "RoutesOnActiveMember"
METRIC_MEMBERS_ONLINE = "MembersOnline"
METRIC_GATEWAY_SERVICE = "GatewayServiceEnabled"
METRICS = (METRIC_CLUSTER_HEALTHY, METRIC_ROUTES_ON_ACTIVE, METRIC_MEMBERS_ONLINE, METRIC_GATEWAY_SERVICE)
#: Published only for a cluster attached to a virtual network by the construct: 1 while it stays attached.
METRIC_NETWORK_ATTACHED = "VirtualNetworkAttached"
METRICS_DIMENSION = "ClusterName"


class HeartbeatInterface(Enum):
    """The interface the members' TCP heartbeat uses."""

    LAN = "LAN"
    WAN = "WAN"


class FailbackMode(Enum):
    """What the cluster does when the configured active member is healthy again."""

    AUTO = "autoFailback"
    MANUAL = "manualFailback"


class GatewayType(Enum):
    """Who may open tunnels to the gateways: every node of the organisation (``public``), or the listed clients."""

    PUBLIC = "public"
    PRIVATE = "private"


class LicenseSource(Enum):
    """Where a node license comes from."""

    MINT = "mint"
    SECRET = "secret"


class PropertyError(ValueError):
    """A custom resource property is missing or breaks a rule of the contract. A broken rule says which property
    (``key``, its wire path such as ``InsideNats[0].NetworkCidr``), its ``value`` and the ``fix``."""

    def __init__(self, message: str, *, key: str = "", value: object = None, fix: str = "") -> None:
        super().__init__(message)
        self.key, self.value, self.fix = key, value, fix


# -- rules: each returns None when the value is fine, else the fix, as a sentence ---------------

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
ROUTE_TABLE_PATTERN = re.compile(r"^rtb-([0-9a-f]{8}|[0-9a-f]{17})\Z")


def name_problem(value: object) -> str | None:
    if isinstance(value, str) and NAME_PATTERN.match(value):
        return None
    return (
        "use 1 to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit "
        "(for example 'prod-gw-cluster')."
    )


def port_problem(value: object, reserved: Mapping[int, str] | None = None) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return "give a TCP port from 1 to 65535."
    if reserved and value in reserved:
        return f"port {value} is the {reserved[value]}; choose another port."
    return None


#: The appliance's own SSH server.
SSH_PORT = 22


def appliance_port_problem(value: object) -> str | None:
    """A port the appliance listens on for us (the tunnel, the heartbeat): any but its own SSH port."""
    return port_problem(value, {SSH_PORT: "appliance's SSH port"})


def cidr_problem(value: object, *, whole_internet: bool = True) -> str | None:
    """Problems of a network in CIDR notation; ``whole_internet=False`` also refuses 0.0.0.0/0 and ::/0."""
    if not isinstance(value, str) or "/" not in value:
        return "give a network in CIDR notation with no host bits set, for example '172.16.0.0/16'."
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return "give a network in CIDR notation with no host bits set, for example '172.16.0.0/16'."
    if not whole_internet and network.prefixlen == 0:
        return "a default route would send all traffic to the edge sites; give the edge sites' own network space."
    return None


#: Address space that no route table can send to the edge sites, and why.
NOT_ROUTABLE = (
    ("0.0.0.0/8", "the 'this network' block"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local: the instance metadata service and the VPC's DNS resolver live there"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
#: The appliance's own container bridge: the vendor says to keep the networks a node uses out of it.
APPLIANCE_BRIDGE = "172.18.0.0/16"


def edge_cidr_problem(value: object) -> str | None:
    """An edge CIDR: the edge sites' own unicast network space, which the VPC's route tables send to the gateways."""
    problem = cidr_problem(value, whole_internet=False)
    if problem is not None:
        return problem
    if ":" in str(value):
        return (
            "IPv6 is not supported here: Trustgrid's AWS route-table entries and the LAN security group rules are "
            "IPv4. Give an IPv4 network."
        )
    # a wider network that contains one of these is fine: the more specific local route keeps its own part
    for network, what in NOT_ROUTABLE:
        if cidr_inside(str(value), network):
            return f"it lies in {network} ({what}); give the edge sites' own unicast network space."
    if cidr_inside(str(value), APPLIANCE_BRIDGE):
        return (
            f"it lies in {APPLIANCE_BRIDGE}, the gateway appliance's own container bridge, which Trustgrid says to "
            "keep out of the networks a node uses; give the edge sites' network space outside it (or its virtual, "
            "NATed space)."
        )
    return None


def cidr_inside(inner: str, outer: str) -> bool:
    """Whether network ``inner`` lies within ``outer`` (or is it); False for values that are not networks."""
    try:
        a, b = ipaddress.ip_network(inner, strict=False), ipaddress.ip_network(outer, strict=False)
    except ValueError:
        return False
    return a.version == b.version and a.subnet_of(b)  # type: ignore[arg-type]


def cidrs_overlap(a: str, b: str) -> bool:
    """Whether two networks share addresses (networks of different IP versions never do). A value that is not
    a network (checked elsewhere) overlaps nothing."""
    try:
        first, second = ipaddress.ip_network(a, strict=False), ipaddress.ip_network(b, strict=False)
    except ValueError:
        return False
    return first.version == second.version and first.overlaps(second)


def route_table_problem(value: object) -> str | None:
    if isinstance(value, str) and ROUTE_TABLE_PATTERN.match(value):
        return None
    return "give a route table ID such as 'rtb-0123456789abcdef0'."


def wait_problem(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and MIN_WAIT_SECONDS <= value <= MAX_WAIT_SECONDS:
        return None
    return (
        f"give between {MIN_WAIT_SECONDS // 60} and {MAX_WAIT_SECONDS // 60} minutes "
        "(the Provider framework gives up after 55 minutes, CloudFormation after one hour)."
    )


def mbps_problem(value: object) -> str | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100_000):
        return None
    return "give a whole number of Mbit/s from 1 to 100000, or leave it unset for no limit."


def listed_problem(what: str) -> Callable[[object], str | None]:
    """A rule for a list that must not be empty."""

    def problem(value: object) -> str | None:
        return None if value else f"give at least one {what}."

    return problem


# -- rules across fields: the construct's config and the handler's strict parse call the same ones ------------


@dataclass(frozen=True)
class Finding:
    """A problem a rule across fields found: the field (by its Python name), the item of a list, the value, the
    fix. The construct reports it under its keyword (``edge_cidrs[1]``), the handler under the wire key."""

    field: str
    index: int | None
    value: object
    fix: str


def _plain_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def ports_apart(values: Mapping[str, Any]) -> Iterator[Finding]:
    """The heartbeat cannot use the tunnel's port."""
    heartbeat, tunnel = values.get("heartbeat_port"), values.get("tunnel_port")
    if _plain_int(heartbeat) and heartbeat == tunnel:
        yield Finding("heartbeat_port", None, heartbeat, f"port {heartbeat} is the tunnel port (tunnel_port); choose "
                      "another port.")  # fmt: skip


def edges_apart(values: Mapping[str, Any]) -> Iterator[Finding]:
    """Each edge network once: a route table holds one route per destination, and overlaps would shadow."""
    cidrs = values.get("edge_cidrs")
    if not isinstance(cidrs, Sequence) or isinstance(cidrs, str):
        return
    valid = [(i, c) for i, c in enumerate(cidrs) if cidr_problem(c, whole_internet=False) is None]
    for position, (index, cidr) in enumerate(valid):
        for other_index, other in valid[:position]:
            if cidrs_overlap(cidr, other):
                fix = f"it overlaps edge_cidrs[{other_index}] ({other}); give each edge network once."
                yield Finding("edge_cidrs", index, cidr, fix)


def clients_fit_the_type(values: Mapping[str, Any]) -> Iterator[Finding]:
    """A private gateway names the clients that may connect; a public one accepts every node and names none."""
    kind, clients = values.get("gateway_type"), values.get("gateway_clients")
    if not isinstance(clients, Sequence) or isinstance(clients, str) or kind is None:
        return
    if kind is GatewayType.PRIVATE and not clients:
        yield Finding("gateway_clients", None, list(clients), "a private gateway accepts only the nodes or clusters "
                      "listed here: name at least one, or make the gateway public.")  # fmt: skip
    if kind is GatewayType.PUBLIC and clients:
        fix = "a public gateway accepts every node of the organisation and keeps no client list: remove it, or set "
        yield Finding("gateway_clients", None, list(clients), fix + "the gateway type to private.")


#: Given the values it knows (a value still a token at synth time is left out), each yields what is wrong.
CrossRule = Callable[[Mapping[str, Any]], Iterator[Finding]]
CLUSTER_RULES: tuple[CrossRule, ...] = (ports_apart, edges_apart, clients_fit_the_type)


def client_name_problem(value: object) -> str | None:
    """A private gateway's client: a node's or a cluster's name (Trustgrid's portal picks them by name)."""
    if isinstance(value, str) and re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", value):
        return None
    return "give the name of a node or a cluster of your organisation, such as 'branch-01'."


def network_name_problem(value: object) -> str | None:
    """A Trustgrid virtual network's name, as the portal shows it."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
        return None
    return "give the name of an existing virtual network, such as 'corp-vnet' (letters, digits, '.', '_', '-')."


def nat_problem(network_cidr: object, local_cidr: object) -> str | None:
    """A NAT maps a network of the same size: its virtual (network) CIDR onto its local CIDR."""
    for value in (network_cidr, local_cidr):
        problem = cidr_problem(value, whole_internet=False)
        if problem is not None:
            return problem
    a, b = ipaddress.ip_network(str(network_cidr)), ipaddress.ip_network(str(local_cidr))
    if a.prefixlen != b.prefixlen:
        return f"networkCidr {a} and localCidr {b} must have the same prefix length: a NAT maps one onto the other."
    return None


def metric_problem(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 200:
        return None
    return "give a metric from 1 to 200 (a lower metric wins)."


# -- the codec: CloudFormation hands every scalar to a custom resource as a string --------------------------
#
# On the construct side a value may be an unresolved token, which the construct has already turned into a token
# *string*; encoding passes every string through unchanged.


def _encoded(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Struct):
        return value.to_properties()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, list)):
        return [_encoded(item) for item in value]
    raise TypeError(f"a property value cannot be {type(value).__name__}: {value!r}")


def decode_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise PropertyError(f"property {key} must be a whole number, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise PropertyError(f"property {key} must be a whole number, got {value!r}") from None


def decode_bool(key: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise PropertyError(f"property {key} must be true or false, got {value!r}")
    return text == "true"


def decode_str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise PropertyError(f"property {key} must be a non-empty string, got {value!r}")
    return value


def decode_list(key: str, value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PropertyError(f"property {key} must be a list of strings, got {value!r}")
    return tuple(value)


E = TypeVar("E", bound=Enum)


def decode_enum(key: str, value: Any, enum: type[E]) -> E:
    for member in enum:
        if member.value == value:
            return member
    raise PropertyError(f"property {key} must be one of {', '.join(str(m.value) for m in enum)}, got {value!r}")


def _decoder(annotation: Any, optional_text: bool) -> Callable[[str, Any, bool], Any]:
    """How a field of this type is read from its wire value (its name, the value, strictness)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # X | None: "" is None (a text: leniently)
        inner, text = _decoder(args[0], False), args[0] is str
        return lambda key, value, strict: (
            None if value in (None, "") and not (text and strict) else inner(key, value, strict)
        )
    if annotation is str:
        return (lambda key, value, strict: str(value or "")) if optional_text else (lambda k, v, s: decode_str(k, v))
    if annotation is int:
        return lambda key, value, strict: decode_int(key, value)
    if annotation is bool:
        return lambda key, value, strict: decode_bool(key, value)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return lambda key, value, strict: decode_enum(key, value, annotation)
    if typing.get_origin(annotation) is tuple and isinstance(args[0], type) and issubclass(args[0], Struct):
        return _struct_list(args[0])
    if typing.get_origin(annotation) is tuple:
        return lambda key, value, strict: decode_list(key, value)
    return lambda key, value, strict: types.MappingProxyType(dict(value) if isinstance(value, Mapping) else {})


def _struct_list(struct: type[Struct]) -> Callable[[str, Any, bool], Any]:
    def decode(key: str, value: Any, strict: bool) -> tuple[Struct, ...]:
        items = [] if value in (None, "") else value
        if not isinstance(items, list):
            raise PropertyError(f"property {key} must be a list of objects, got {value!r}")
        return tuple(struct.parse(item, strict=strict, where=f"{key}[{index}].") for index, item in enumerate(items))

    return decode


def _check(key: str, value: Any, problem: str | None) -> None:
    if problem is not None:
        raise PropertyError(f"property {key}={value!r} is invalid: {problem}", key=key, value=value, fix=problem)


# -- the property structs -----------------------------------------------------------------------------------


def prop(
    key: str,
    default: Any = MISSING,
    *,
    rule: Callable[[Any], str | None] | None = None,
    each: Callable[[Any], str | None] | None = None,
    count: tuple[int, str] | None = None,
    absent: Any = MISSING,
) -> Any:
    """A field of a property struct: its wire ``key``, its ``default`` (none: required), the ``rule`` its value
    follows (or ``each`` item of a list), and for a list of structs the ``count`` (how many, of what) it must have.
    A rule returns None when the value is fine, else the fix as a sentence. ``absent``: what a required field is
    when its key is missing from the properties (the rules then judge it)."""
    metadata = {"key": key, "rule": rule, "each": each, "count": count, "absent": absent}
    if isinstance(default, Mapping):  # an object: each struct its own read-only copy
        return field(default_factory=lambda: types.MappingProxyType(dict(default)), metadata=metadata)
    return field(default=default, metadata=metadata)


def version_prop() -> Any:
    """The version of the library that wrote a request: always written as :data:`CONTRACT_VERSION`, read back as
    None when it is missing (a request of 0.1.0)."""
    return field(default=CONTRACT_VERSION, kw_only=True, metadata={"key": VERSION_KEY, "version": True})


S = TypeVar("S", bound="Struct")


@dataclass(frozen=True)
class Struct:
    """A property struct: fields declared with :func:`prop`, encoded and parsed by one codec."""

    #: The rules across fields a strict parse applies (after each field's own).
    RULES: ClassVar[tuple[CrossRule, ...]] = ()

    def to_properties(self) -> dict[str, Any]:
        """The properties CloudFormation sends the handler: every value a string, a list or an object."""
        encoded: dict[str, Any] = {}
        for spec in fields(self):
            meta = spec.metadata
            value = CONTRACT_VERSION if meta.get("version") else getattr(self, spec.name)
            encoded[meta["key"]] = _encoded(value)
        return encoded

    @classmethod
    def parse(cls: type[S], props: Any, *, strict: bool = True, where: str = "") -> S:
        """The struct from its properties: strictly (every required key, every rule) or leniently (a missing or
        bad value is its default, or None). ``where`` prefixes the keys in messages (``Members[0].``)."""
        if not isinstance(props, Mapping):
            raise PropertyError(f"properties{where and ' of ' + where.rstrip('.')} must be an object, got {props!r}")
        hints = _hints(cls)
        values = {spec.name: _read(spec, hints[spec.name], props, strict, where) for spec in fields(cls)}
        parsed = cls(**values)
        if strict and not where:
            parsed.validate()
        return parsed

    def validate(self, where: str = "") -> None:
        """Every rule of every field (nested structs too), then the rules across fields."""
        keys: dict[str, str] = {}
        for spec in fields(self):
            meta, value = spec.metadata, getattr(self, spec.name)
            key = keys[spec.name] = where + meta["key"]
            if meta.get("rule") is not None:
                _check(key, value, meta["rule"](value))
            for index, item in enumerate(value if isinstance(value, tuple) else ()):
                if meta.get("each") is not None:
                    _check(key, item, meta["each"](item))
                if isinstance(item, Struct):
                    item.validate(f"{key}[{index}].")
        values = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        for rule in self.RULES:
            for finding in rule(values):
                item = "" if finding.index is None else f"[{finding.index}]"
                _check(keys[finding.field] + item, finding.value, finding.fix)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _read(spec: Any, annotation: Any, props: Mapping[str, Any], strict: bool, where: str) -> Any:
    """One field from the properties: required and valid when strict; else its default, or None."""
    meta = spec.metadata
    key, name = meta["key"], where + meta["key"]
    if meta.get("version"):
        return _version(name, props.get(key))
    required = spec.default is MISSING and spec.default_factory is MISSING
    default = _fallback(spec)
    count = meta.get("count")
    value = props.get(key)
    if count is not None and (not isinstance(value, list) or len(value) != count[0]):  # even leniently
        raise PropertyError(f"property {name} must list exactly {count[1]}, got {value!r}")
    if key not in props:
        if strict and required and meta["absent"] is MISSING:
            raise PropertyError(f"property {name} is missing")
        return default
    try:
        return _decoder(annotation, spec.default == "")(name, value, strict)
    except PropertyError:
        if strict:
            raise
        return default


def _version(name: str, value: Any) -> int | None:
    """The version that wrote a request; None for 0.1.0, which wrote none."""
    try:
        return decode_int(name, value) or None
    except PropertyError:
        return None


def _fallback(spec: Any) -> Any:
    """What a field is when its key is missing (or, leniently, bad): ``absent``, else its default, else None."""
    if spec.metadata["absent"] is not MISSING:
        return spec.metadata["absent"]
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return None if spec.default is MISSING else spec.default


def _members_apart(values: Mapping[str, Any]) -> Iterator[Finding]:
    members = values["members"]
    if members[0].uid == members[1].uid:
        yield Finding("members", None, members[0].uid, "it names one node twice; a cluster needs two nodes.")


@dataclass(frozen=True)
class MemberProperties(Struct):
    """One gateway as the cluster resource sees it."""

    uid: str = prop("Uid")
    name: str = prop("Name", rule=name_problem)
    lan_eni_id: str = prop("LanEniId")
    lan_ip: str = prop("LanIp")
    wan_ip: str = prop("WanIp")
    #: None only in a request of 0.1.0, parsed leniently.
    public_ip: str | None = prop("PublicIp")
    lan_subnet_id: str = prop("LanSubnetId")


@dataclass(frozen=True)
class ClusterProperties(Struct):
    """What the cluster resource must make true in Trustgrid. The tunnel settings are each member's gateway
    service: where edge nodes open their tunnels."""

    RULES = (*CLUSTER_RULES, _members_apart)

    name: str = prop("ClusterName", rule=name_problem)
    members: tuple[MemberProperties, ...] = prop("Members", count=(2, "two gateways"))
    edge_cidrs: tuple[str, ...] = prop("EdgeCidrs", absent=(), rule=listed_problem("CIDR"), each=edge_cidr_problem)
    route_table_ids: tuple[str, ...] = prop("RouteTableIds", absent=(), each=route_table_problem)
    lan_interface_name: str = prop("LanInterfaceName")
    lan_interface_override: bool = prop("LanInterfaceOverride", False)
    heartbeat_interface: HeartbeatInterface = prop("HeartbeatInterface", HeartbeatInterface.LAN)
    heartbeat_port: int = prop("HeartbeatPort", DEFAULT_HEARTBEAT_PORT, rule=appliance_port_problem)
    tunnel_port: int = prop("TunnelPort", DEFAULT_TUNNEL_PORT, rule=appliance_port_problem)
    tunnel_udp: bool = prop("TunnelUdp", True)
    max_ingress_mbps: int | None = prop("MaxIngressMbps", None, rule=mbps_problem)
    max_client_write_mbps: int | None = prop("MaxClientWriteMbps", None, rule=mbps_problem)
    gateway_type: GatewayType = prop("GatewayType", GatewayType.PUBLIC)
    gateway_clients: tuple[str, ...] = prop("GatewayClients", (), each=client_name_problem)
    failback_mode: FailbackMode = prop("FailbackMode", FailbackMode.AUTO)
    verify_health: bool = prop("VerifyHealth", True)
    verify_routes: bool = prop("VerifyRoutes", True)
    wait_timeout_seconds: int = prop("WaitTimeoutSeconds", DEFAULT_WAIT_SECONDS, rule=wait_problem)
    #: The ``ClusterName`` dimension of the scheduled check's metrics; when set, a create or update that verified
    #: publishes the first data points itself, so that the alarms never start on missing data.
    metrics_name: str = prop("MetricsName", "")
    #: Whether the cluster owns the AWS route-table entries of its edge CIDRs (a successor before its cut-over, and a
    #: predecessor after it, do not).
    owns_routes: bool = prop("OwnsRoutes", True)
    #: The cluster this one succeeds (its name): turning ``owns_routes`` on moves the routes from it, in one step.
    predecessor: str = prop("Predecessor", "", rule=lambda v: None if v == "" else name_problem(v))
    version: int | None = version_prop()

    @property
    def cuts_over(self) -> bool:
        """A successor that owns the routes: they move from its predecessor (once; repeated, nothing moves)."""
        return bool(self.predecessor) and self.owns_routes

    @property
    def primary(self) -> MemberProperties:
        return self.members[0]

    @property
    def tunnel(self) -> tuple[Any, ...]:
        """The gateway service's settings together: a change of any of them restarts it."""
        return (
            self.tunnel_port, self.tunnel_udp, self.max_ingress_mbps, self.max_client_write_mbps, self.gateway_type,
            self.gateway_clients,
        )  # fmt: skip

    def heartbeat_host(self, member: MemberProperties) -> str:
        return member.lan_ip if self.heartbeat_interface is HeartbeatInterface.LAN else member.wan_ip


@dataclass(frozen=True)
class LicenseProperties(Struct):
    """One gateway's node license: minted through the API or supplied by the user."""

    node_name: str = prop("NodeName", rule=name_problem)
    license_secret_arn: str = prop("LicenseSecretArn")
    source: LicenseSource = prop("Source", LicenseSource.MINT)
    remove_node_on_delete: bool = prop("RemoveNodeOnDelete", False)
    #: The cluster of a gateway that member swaps replace: when an update replaced it (its Delete arrives in the
    #: update's cleanup) and that cluster still exists without it, its node record goes too (a cluster removed by
    #: the update keeps its records, as RemoveNodeOnDelete says).
    swap_cluster: str = prop("SwapCluster", "")
    version: int | None = version_prop()


@dataclass(frozen=True)
class ImageProperties(Struct):
    """Which vendor image to resolve; resolving again happens only when this changes."""

    owner: str = prop("Owner")
    name_pattern: str = prop("NamePattern")
    interface_naming: str = prop("InterfaceNaming", "")
    refresh_token: str = prop("RefreshToken", "")
    version: int | None = version_prop()


@dataclass(frozen=True)
class GuardedGateway(Struct):
    """What a gateway cannot change in place: each of these replaces its instance, ENIs or license."""

    slot: str = prop("Slot")
    node_name: str = prop("NodeName")
    generation: str = prop("Generation")
    image: str = prop("Image")
    root_volume_gib: int = prop("RootVolumeGib")
    wan_subnet_id: str = prop("WanSubnetId")
    lan_subnet_id: str = prop("LanSubnetId")


EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True)
class GuardProperties(Struct):
    """The change guard: everything else of a cluster depends on it, so it sees an update first and refuses
    one that would replace a running gateway, before anything changes."""

    cluster_name: str = prop("ClusterName")
    gateways: tuple[GuardedGateway, ...] = prop("Gateways", ())
    #: The edge CIDRs and the route tables the cluster will own: a create (or an update that adds either) is
    #: refused while a managed table routes an edge CIDR somewhere else (one route per destination).
    edge_cidrs: tuple[str, ...] = prop("EdgeCidrs", ())
    route_table_ids: tuple[str, ...] = prop("RouteTableIds", ())
    #: What stops and starts both gateways in place (their instance type, their user data): when it changes, the
    #: pair must be whole, and the role is handed away from the primary before CloudFormation stops it.
    restart: Mapping[str, Any] = prop("Restart", EMPTY)
    #: The cluster this one succeeds: routes to its members are not a conflict (the cut-over moves them).
    predecessor: str = prop("Predecessor", "")
    #: The cluster swaps a member for a new gateway when one of the properties that need a new node changes (its
    #: node name then changes too): such an update is let through, from a whole pair.
    member_swap: bool = prop("MemberSwap", False)
    version: int | None = version_prop()

    def restarts(self, old: GuardProperties) -> bool:
        """Whether an update from ``old`` stops and starts the gateways (unknown for an older version: no)."""
        return bool(old.restart) and dict(old.restart) != dict(self.restart)


@dataclass(frozen=True)
class GateProperties(Struct):
    """The gate between the two gateways: on an update it waits until the first is back and the cluster is
    healthy; the second gateway's instance depends on it. ``fingerprint`` holds the first instance's
    interrupting properties, so that any change of them updates the gate."""

    cluster_name: str = prop("ClusterName")
    node_uid: str = prop("NodeUid")
    node_name: str = prop("NodeName")
    instance_id: str = prop("InstanceId")
    fingerprint: Mapping[str, Any] = prop("Fingerprint", EMPTY)
    wait_timeout_seconds: int = prop("WaitTimeoutSeconds", DEFAULT_WAIT_SECONDS)
    #: The first gateway's LAN interface, the second gateway (uid, name), and the routes the role owns: before
    #: CloudFormation stops the second gateway, the role is handed back to the first, and every route follows.
    lan_eni_id: str = prop("LanEniId", "")
    partner_uid: str = prop("PartnerUid", "")
    partner_name: str = prop("PartnerName", "")
    edge_cidrs: tuple[str, ...] = prop("EdgeCidrs", ())
    route_table_ids: tuple[str, ...] = prop("RouteTableIds", ())
    #: The second gateway's LAN interface: in a rollback, its instance's live type tells whether the rollback
    #: restarts it too (and so whether the gate must wait for the first).
    partner_lan_eni_id: str = prop("PartnerLanEniId", "")
    version: int | None = version_prop()


@dataclass(frozen=True)
class ProtectionProperties(Struct):
    """EC2 termination protection of the gateways, applied once the cluster has verified. Deleted first on a
    stack delete (it depends on everything else of the cluster), it refuses that delete while enabled."""

    instance_ids: tuple[str, ...] = prop("InstanceIds", ())
    enabled: bool = prop("Enabled", True)
    version: int | None = version_prop()


@dataclass(frozen=True)
class SeatProperties(Struct):
    """One position of a cluster that swaps members (``member_swap``): its Elastic IP, which stays with the
    position, and the gateway that holds it now. The new gateway's instance depends on it: before the address
    moves to the new gateway's WAN interface, the role leaves the member it replaces (from a whole pair)."""

    cluster_name: str = prop("ClusterName", rule=name_problem)
    node_name: str = prop("NodeName", rule=name_problem)
    allocation_id: str = prop("AllocationId")
    wan_eni_id: str = prop("WanEniId")
    #: The routes the role owns: a hand-over is done when every one points at the other member.
    edge_cidrs: tuple[str, ...] = prop("EdgeCidrs", ())
    route_table_ids: tuple[str, ...] = prop("RouteTableIds", ())
    owns_routes: bool = prop("OwnsRoutes", True)
    wait_timeout_seconds: int = prop("WaitTimeoutSeconds", DEFAULT_WAIT_SECONDS, rule=wait_problem)
    version: int | None = version_prop()


@dataclass(frozen=True)
class SwapProperties(ClusterProperties):
    """The member of one position of a cluster that swaps members (``member_swap``), with the cluster's properties
    as the cluster resource has them. On an update that gives the position a new node, the new node takes the old
    one's place in the cluster (old out, new in, heartbeat, LAN routes) and the cluster is healthy again before the
    next position starts; a rollback puts the old one back."""

    position: int = prop("Position", 0, rule=lambda v: None if v in (0, 1) else "give 0 (primary) or 1 (secondary).")
    #: Both positions' addresses and their gateways' WAN interfaces, primary first: a rollback restores the pair.
    allocation_ids: tuple[str, ...] = prop("AllocationIds", ())
    wan_eni_ids: tuple[str, ...] = prop("WanEniIds", ())


def _nat_fits(values: Mapping[str, Any]) -> Iterator[Finding]:
    problem = nat_problem(values["network_cidr"], values["local_cidr"])
    if problem is not None:
        local_wrong = cidr_problem(values["local_cidr"], whole_internet=False) is not None
        wrong = (
            "local_cidr"
            if local_wrong and not cidr_problem(values["network_cidr"], whole_internet=False)
            else ("network_cidr")
        )
        yield Finding(wrong, None, values[wrong], problem)


@dataclass(frozen=True)
class NatProperties(Struct):
    """One NAT of the cluster's LAN interface in the network, in Trustgrid's terms: ``network_cidr`` (virtual)
    is ``local_cidr`` (local) on this side."""

    RULES = (_nat_fits,)

    network_cidr: str = prop("NetworkCidr")
    local_cidr: str = prop("LocalCidr")
    description: str = prop("Description", "")
    proxy_arp: bool = prop("ProxyArp", False)


@dataclass(frozen=True)
class VpnRouteProperties(Struct):
    """One of the cluster's VPN static routes: ``network_cidr`` of the virtual network via ``node``."""

    network_cidr: str = prop("NetworkCidr", rule=lambda v: cidr_problem(v, whole_internet=True))
    node: str = prop("Node", "", rule=lambda v: None if v == "" else name_problem(v))
    metric: int = prop("Metric", 1, rule=metric_problem)
    description: str = prop("Description", "")


PORTS = re.compile(r"^\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*\Z")


def ports_problem(value: object) -> str | None:
    """Ports of an access policy: empty (all), or ports and ranges such as ``443`` or ``8000-8100,9000``."""
    if value == "":
        return None
    parts = value.split(",") if isinstance(value, str) and PORTS.match(value) else []
    ranges = [[int(n) for n in part.split("-")] for part in parts]
    if not ranges or not all(1 <= r[0] <= r[-1] <= 65535 for r in ranges):
        return (
            "give ports and ranges from 1 to 65535, low to high, such as '443' or '8000-8100,9000', or leave it empty "
            "for all."
        )
    return None


def _ports_need_a_protocol(values: Mapping[str, Any]) -> Iterator[Finding]:
    if values["ports"] and values["protocol"] not in ("tcp", "udp"):
        yield Finding("ports", None, values["ports"], f"ports apply to tcp or udp, not to {values['protocol']}: set "
                      "protocol tcp or udp, or leave ports empty.")  # fmt: skip


@dataclass(frozen=True)
class AccessPolicyProperties(Struct):
    """One access policy of the network (a domain-level object): ``action`` traffic from ``source`` to ``dest``."""

    RULES = (_ports_need_a_protocol,)

    source: str = prop("Source", rule=lambda v: cidr_problem(v))
    dest: str = prop("Dest", rule=lambda v: cidr_problem(v))
    action: str = prop("Action", "allow", rule=lambda v: None if v in ("allow", "reject", "drop") else ACTION_FIX)
    protocol: str = prop("Protocol", "any", rule=lambda v: None if v in ("any", "tcp", "udp", "icmp") else PROTO_FIX)
    ports: str = prop("Ports", "", rule=ports_problem)
    line_number: int = prop("LineNumber", 100, rule=lambda v: None if 1 <= v <= 65535 else "give 1 to 65535.")
    description: str = prop("Description", "")


ACTION_FIX = "give allow, reject or drop."
DEFAULT_NETWORK_ROUTE_METRIC = 10
PROTO_FIX = "give any, tcp, udp or icmp."


def _one_default_route(values: Mapping[str, Any]) -> Iterator[Finding]:
    if values["in_default_route"] and values["out_default_route"]:
        yield Finding("out_default_route", None, True, "inDefaultRoute and outDefaultRoute are mutually exclusive: "
                      "set at most one of them.")  # fmt: skip


def _each_once(values: Mapping[str, Any]) -> Iterator[Finding]:
    """No NAT network twice, no route twice, no line number twice; proxy ARP on outside NATs only."""
    for name, key in (("inside_nats", "network_cidr"), ("outside_nats", "network_cidr"), ("routes", "network_cidr"),
                      ("access_policies", "line_number")):  # fmt: skip
        seen: set[object] = set()
        for index, item in enumerate(values[name]):
            value = getattr(item, key)
            if value in seen:
                yield Finding(name, index, value, "it is given twice in this list; give each once.")
            seen.add(value)
    for index, nat in enumerate(values["inside_nats"]):
        if nat.proxy_arp:
            yield Finding("inside_nats", index, True, "proxyArp applies to an outside NAT; remove it here.")
    yield from _nats_apart(values)


def _nats_apart(values: Mapping[str, Any]) -> Iterator[Finding]:
    """Two NATs of the interface map apart virtual networks (an inside and an outside one included)."""
    seen: list[tuple[str, str]] = []
    for name in ("inside_nats", "outside_nats"):
        for index, nat in enumerate(values[name]):
            cidr = nat.network_cidr
            if cidr_problem(cidr, whole_internet=False) is None:
                for other_list, other in seen:
                    if cidrs_overlap(cidr, other) and not (other_list == name and other == cidr):
                        yield Finding(name, index, cidr, f"it overlaps the NAT network {other} of {_wire(other_list)}; "
                                      "give each NAT its own virtual network.")  # fmt: skip
                        break
                seen.append((name, cidr))


def _wire(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _published_only(values: Mapping[str, Any]) -> Iterator[Finding]:
    """Access policies and the network route are domain-level objects written only with publish."""
    if values["publish"]:
        return
    if values["access_policies"]:
        yield Finding("access_policies", None, "(given)", "access policies are written only with publish: true; set "
                      "publish, or leave them to the network team.")  # fmt: skip
    if values["network_route_metric"] != DEFAULT_NETWORK_ROUTE_METRIC:
        yield Finding("network_route_metric", None, values["network_route_metric"], "the network route is written "
                      "only with publish: true; set publish, or leave the metric out.")  # fmt: skip


@dataclass(frozen=True)
class VirtualNetworkProperties(Struct):
    """The cluster's attachment to a Trustgrid virtual network: the network with the cluster's validation route
    (its virtual subnet), the LAN interface with its NATs, and the cluster's VPN static routes. With ``publish``,
    also the domain-level objects (the network route of the cluster's subnet to the cluster, access policies),
    published through the network's validate-and-commit, which is refused while others' changes are staged."""

    RULES = (_one_default_route, _each_once, _published_only)

    cluster_fqdn: str = prop("ClusterFqdn")
    cluster_name: str = prop("ClusterName", rule=name_problem)
    network_name: str = prop("NetworkName", rule=network_name_problem)
    route: str = prop("Route", rule=lambda v: cidr_problem(v, whole_internet=False))
    #: The cluster's edge CIDRs: with a NAT network they must lie in its virtual space (or an outside NAT's local
    #: side), which only the network, read at deploy time, tells.
    edge_cidrs: tuple[str, ...] = prop("EdgeCidrs", ())
    #: The construct's name for the LAN interface (the cluster's configuration, written from what the nodes
    #: report, wins).
    lan_interface_name: str = prop("LanInterfaceName", "")
    inside_nats: tuple[NatProperties, ...] = prop("InsideNats", ())
    outside_nats: tuple[NatProperties, ...] = prop("OutsideNats", ())
    in_default_route: bool = prop("InDefaultRoute", False)
    out_default_route: bool = prop("OutDefaultRoute", False)
    routes: tuple[VpnRouteProperties, ...] = prop("Routes", ())
    publish: bool = prop("Publish", False)
    network_route_metric: int = prop("NetworkRouteMetric", DEFAULT_NETWORK_ROUTE_METRIC, rule=metric_problem)
    access_policies: tuple[AccessPolicyProperties, ...] = prop("AccessPolicies", ())
    version: int | None = version_prop()


PROPERTY_STRUCTS: dict[str, type[Struct]] = {
    CLUSTER_TYPE: ClusterProperties,
    LICENSE_TYPE: LicenseProperties,
    IMAGE_TYPE: ImageProperties,
    GUARD_TYPE: GuardProperties,
    GATE_TYPE: GateProperties,
    PROTECTION_TYPE: ProtectionProperties,
    VIRTUAL_NETWORK_TYPE: VirtualNetworkProperties,
    SEAT_TYPE: SeatProperties,
    MEMBER_TYPE: SwapProperties,
}


def property_names(struct: type) -> Sequence[str]:
    """The wire keys of a property struct (for documentation and tests)."""
    return [f.metadata["key"] for f in fields(struct)]
