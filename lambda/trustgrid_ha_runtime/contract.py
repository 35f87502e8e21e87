"""The contract between the construct and its custom-resource handler.

One module, standard library only, imported by both sides: the resource types,
the property names, the enum values, the rules a value must follow, and the
encoding of CloudFormation's string-typed properties in both directions. The
construct builds a property struct and calls :meth:`to_properties`; the handler
parses the same struct back with :meth:`parse`.

A new request is parsed strictly: every rule the construct applies at synth time
applies again here, so a value that was a token at synth time (a
``CfnParameter``, say) is checked at deploy time by the same rule. The *old*
properties of an update, and the properties of a delete, are parsed leniently:
a stack deployed by an older version of this library lacks the properties added
since, and its update or delete must still work. :data:`CONTRACT_VERSION` names
the version that wrote a request.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar, cast

#: Bumped whenever a property is added, renamed or changes meaning.
CONTRACT_VERSION = 2
VERSION_KEY = "ContractVersion"

CLUSTER_TYPE = "Custom::TrustgridCluster"
LICENSE_TYPE = "Custom::TrustgridNodeLicense"
IMAGE_TYPE = "Custom::TrustgridImage"
GUARD_TYPE = "Custom::TrustgridChangeGuard"
GATE_TYPE = "Custom::TrustgridMemberReady"
PROTECTION_TYPE = "Custom::TrustgridProtection"

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


class HeartbeatInterface(Enum):
    """The interface the members' TCP heartbeat uses."""

    LAN = "LAN"
    WAN = "WAN"


class FailbackMode(Enum):
    """What the cluster does when the configured active member is healthy again."""

    AUTO = "autoFailback"
    MANUAL = "manualFailback"


class LicenseSource(Enum):
    """Where a node license comes from."""

    MINT = "mint"
    SECRET = "secret"


class PropertyError(ValueError):
    """A custom resource property is missing or breaks a rule of the contract."""


# -- rules: each returns None when the value is fine, else the fix, as a sentence ---------------

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
ROUTE_TABLE_PATTERN = re.compile(r"^rtb-([0-9a-f]{8}|[0-9a-f]{17})$")


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


def heartbeat_port_problem(value: object, tunnel_port: object) -> str | None:
    """The heartbeat's TCP port: any port the appliance does not use itself (Trustgrid: "any unused TCP port")."""
    reserved = {SSH_PORT: "appliance's SSH port"}
    if isinstance(tunnel_port, int) and not isinstance(tunnel_port, bool):
        reserved[tunnel_port] = "tunnel port (tunnel_port)"
    return port_problem(value, reserved)


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


# -- encoding: CloudFormation hands every scalar to a custom resource as a string ----------------
#
# On the construct side a value may be an unresolved token, which the construct has already turned
# into a token *string*; the encoders pass such strings through unchanged.


def encode_int(value: int | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(int(value))


def encode_bool(value: bool | str) -> str:
    return value if isinstance(value, str) else ("true" if value else "false")


def decode_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise PropertyError(f"property {key} must be a whole number, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise PropertyError(f"property {key} must be a whole number, got {value!r}") from None


def decode_optional_int(key: str, value: Any) -> int | None:
    return None if value in (None, "") else decode_int(key, value)


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


def _mapping(props: Any, key: str) -> dict[str, Any]:
    value = props.get(key) if isinstance(props, Mapping) else None
    return dict(value) if isinstance(value, Mapping) else {}


def _check(key: str, value: Any, problem: str | None) -> None:
    if problem is not None:
        raise PropertyError(f"property {key}={value!r} is invalid: {problem}")


# -- the property structs -----------------------------------------------------------------------

T = TypeVar("T")


_REQUIRED: Any = object()


class _Reader:
    """Reads properties strictly (a required key present, every value valid) or leniently (a missing or bad
    value is its default, or None)."""

    def __init__(self, props: Mapping[str, Any], strict: bool, where: str = "") -> None:
        if not isinstance(props, Mapping):
            raise PropertyError(f"properties{where and ' of ' + where} must be an object, got {props!r}")
        self.props = props
        self.strict = strict
        self.where = where

    def get(self, key: str, decode: Callable[[str, Any], T], default: Any = _REQUIRED) -> T:
        name = f"{self.where}{key}"
        fallback = None if default is _REQUIRED else default
        if key not in self.props:
            if self.strict and default is _REQUIRED:
                raise PropertyError(f"property {name} is missing")
            return cast(T, fallback)
        try:
            return decode(name, self.props[key])
        except PropertyError:
            if self.strict:
                raise
            return cast(T, fallback)


@dataclass(frozen=True)
class MemberProperties:
    """One gateway as the cluster resource sees it."""

    uid: str
    name: str
    lan_eni_id: str
    lan_ip: str
    wan_ip: str
    public_ip: str | None
    lan_subnet_id: str

    def to_properties(self) -> dict[str, Any]:
        return {
            "Uid": self.uid,
            "Name": self.name,
            "LanEniId": self.lan_eni_id,
            "LanIp": self.lan_ip,
            "WanIp": self.wan_ip,
            "PublicIp": self.public_ip or "",
            "LanSubnetId": self.lan_subnet_id,
        }

    @classmethod
    def parse(cls, raw: Any, index: int, *, strict: bool) -> MemberProperties:
        read = _Reader(raw, strict, f"Members[{index}].")
        return cls(
            uid=read.get("Uid", decode_str),
            name=read.get("Name", decode_str),
            lan_eni_id=read.get("LanEniId", decode_str),
            lan_ip=read.get("LanIp", decode_str),
            wan_ip=read.get("WanIp", decode_str),
            public_ip=read.get("PublicIp", decode_str),
            lan_subnet_id=read.get("LanSubnetId", decode_str),
        )


@dataclass(frozen=True)
class TunnelProperties:
    """The gateway service each member runs: where edge nodes open their tunnels."""

    port: int | str = DEFAULT_TUNNEL_PORT
    udp: bool | str = True
    max_ingress_mbps: int | str | None = None
    max_client_write_mbps: int | str | None = None


@dataclass(frozen=True)
class ClusterProperties:
    """What the cluster resource must make true in Trustgrid."""

    name: str
    members: tuple[MemberProperties, ...]
    edge_cidrs: tuple[str, ...]
    route_table_ids: tuple[str, ...]
    lan_interface_name: str
    lan_interface_override: bool | str = False
    heartbeat_interface: HeartbeatInterface = HeartbeatInterface.LAN
    heartbeat_port: int | str = DEFAULT_HEARTBEAT_PORT
    tunnel: TunnelProperties = field(default_factory=TunnelProperties)
    failback_mode: FailbackMode = FailbackMode.AUTO
    verify_health: bool | str = True
    verify_routes: bool | str = True
    wait_timeout_seconds: int | str = DEFAULT_WAIT_SECONDS
    #: The ``ClusterName`` dimension of the scheduled check's metrics; when set, a create or update that verified
    #: publishes the first data points itself, so that the alarms never start on missing data.
    metrics_name: str = ""
    #: The contract version of the request this was parsed from (None: older than version 2).
    version: int | None = CONTRACT_VERSION

    def to_properties(self) -> dict[str, Any]:
        return {
            VERSION_KEY: str(CONTRACT_VERSION),
            "ClusterName": self.name,
            "MetricsName": self.metrics_name,
            "Members": [m.to_properties() for m in self.members],
            "EdgeCidrs": list(self.edge_cidrs),
            "RouteTableIds": list(self.route_table_ids),
            "LanInterfaceName": self.lan_interface_name,
            "LanInterfaceOverride": encode_bool(self.lan_interface_override),
            "HeartbeatInterface": self.heartbeat_interface.value,
            "HeartbeatPort": encode_int(self.heartbeat_port),
            "TunnelPort": encode_int(self.tunnel.port),
            "TunnelUdp": encode_bool(self.tunnel.udp),
            "MaxIngressMbps": encode_int(self.tunnel.max_ingress_mbps),
            "MaxClientWriteMbps": encode_int(self.tunnel.max_client_write_mbps),
            "FailbackMode": self.failback_mode.value,
            "VerifyHealth": encode_bool(self.verify_health),
            "VerifyRoutes": encode_bool(self.verify_routes),
            "WaitTimeoutSeconds": encode_int(self.wait_timeout_seconds),
        }

    @classmethod
    def parse(cls, props: Mapping[str, Any], *, strict: bool = True) -> ClusterProperties:
        read = _Reader(props, strict)
        raw_members = props.get("Members") if isinstance(props, Mapping) else None
        if not isinstance(raw_members, list) or len(raw_members) != 2:
            raise PropertyError(f"property Members must list exactly two gateways, got {raw_members!r}")
        members = tuple(MemberProperties.parse(m, i, strict=strict) for i, m in enumerate(raw_members))
        version = read.get(VERSION_KEY, decode_int, default=0) or None
        spec = cls(
            name=read.get("ClusterName", decode_str),
            members=members,
            edge_cidrs=read.get("EdgeCidrs", decode_list, default=()),
            route_table_ids=read.get("RouteTableIds", decode_list, default=()),
            lan_interface_name=read.get("LanInterfaceName", decode_str),
            lan_interface_override=read.get("LanInterfaceOverride", decode_bool, default=False),
            heartbeat_interface=read.get(
                "HeartbeatInterface", lambda k, v: decode_enum(k, v, HeartbeatInterface), default=HeartbeatInterface.LAN
            ),
            heartbeat_port=read.get("HeartbeatPort", decode_int, default=DEFAULT_HEARTBEAT_PORT),
            tunnel=TunnelProperties(
                port=read.get("TunnelPort", decode_int, default=DEFAULT_TUNNEL_PORT),
                udp=read.get("TunnelUdp", decode_bool, default=True),
                max_ingress_mbps=read.get("MaxIngressMbps", decode_optional_int, default=None),
                max_client_write_mbps=read.get("MaxClientWriteMbps", decode_optional_int, default=None),
            ),
            failback_mode=read.get(
                "FailbackMode", lambda k, v: decode_enum(k, v, FailbackMode), default=FailbackMode.AUTO
            ),
            verify_health=read.get("VerifyHealth", decode_bool, default=True),
            verify_routes=read.get("VerifyRoutes", decode_bool, default=True),
            wait_timeout_seconds=read.get("WaitTimeoutSeconds", decode_int, default=DEFAULT_WAIT_SECONDS),
            metrics_name=str(props.get("MetricsName") or ""),
            version=version,
        )
        if strict:
            spec.validate()
        return spec

    def validate(self) -> None:
        """The deploy-time half of the synth-time checks (for values that were tokens at synth)."""
        _check("ClusterName", self.name, name_problem(self.name))
        for member in self.members:
            _check("Members[].Name", member.name, name_problem(member.name))
        if self.members[0].uid == self.members[1].uid:
            raise PropertyError(f"property Members names node {self.members[0].uid} twice; a cluster needs two nodes")
        if not self.edge_cidrs:
            raise PropertyError("property EdgeCidrs must list at least one CIDR")
        for cidr in self.edge_cidrs:
            _check("EdgeCidrs", cidr, edge_cidr_problem(cidr))
        for table in self.route_table_ids:
            _check("RouteTableIds", table, route_table_problem(table))
        _check("TunnelPort", self.tunnel.port, port_problem(self.tunnel.port))
        _check("HeartbeatPort", self.heartbeat_port, heartbeat_port_problem(self.heartbeat_port, self.tunnel.port))
        _check("MaxIngressMbps", self.tunnel.max_ingress_mbps, mbps_problem(self.tunnel.max_ingress_mbps))
        _check("MaxClientWriteMbps", self.tunnel.max_client_write_mbps, mbps_problem(self.tunnel.max_client_write_mbps))
        _check("WaitTimeoutSeconds", self.wait_timeout_seconds, wait_problem(self.wait_timeout_seconds))

    @property
    def primary(self) -> MemberProperties:
        return self.members[0]

    def heartbeat_host(self, member: MemberProperties) -> str:
        return member.lan_ip if self.heartbeat_interface is HeartbeatInterface.LAN else member.wan_ip


@dataclass(frozen=True)
class LicenseProperties:
    """One gateway's node license: minted through the API or supplied by the user."""

    node_name: str
    license_secret_arn: str
    source: LicenseSource = LicenseSource.MINT
    remove_node_on_delete: bool | str = False
    version: int | None = CONTRACT_VERSION

    def to_properties(self) -> dict[str, Any]:
        return {
            VERSION_KEY: str(CONTRACT_VERSION),
            "NodeName": self.node_name,
            "Source": self.source.value,
            "LicenseSecretArn": self.license_secret_arn,
            "RemoveNodeOnDelete": encode_bool(self.remove_node_on_delete),
        }

    @classmethod
    def parse(cls, props: Mapping[str, Any], *, strict: bool = True) -> LicenseProperties:
        read = _Reader(props, strict)
        spec = cls(
            node_name=read.get("NodeName", decode_str),
            license_secret_arn=read.get("LicenseSecretArn", decode_str),
            source=read.get("Source", lambda k, v: decode_enum(k, v, LicenseSource), default=LicenseSource.MINT),
            remove_node_on_delete=read.get("RemoveNodeOnDelete", decode_bool, default=False),
            version=read.get(VERSION_KEY, decode_int, default=0) or None,
        )
        if strict:
            _check("NodeName", spec.node_name, name_problem(spec.node_name))
        return spec


@dataclass(frozen=True)
class ImageProperties:
    """Which vendor image to resolve; resolving again happens only when this changes."""

    owner: str
    name_pattern: str
    interface_naming: str
    refresh_token: str = ""

    def to_properties(self) -> dict[str, Any]:
        return {
            VERSION_KEY: str(CONTRACT_VERSION),
            "Owner": self.owner,
            "NamePattern": self.name_pattern,
            "InterfaceNaming": self.interface_naming,
            "RefreshToken": self.refresh_token,
        }

    @classmethod
    def parse(cls, props: Mapping[str, Any], *, strict: bool = True) -> ImageProperties:
        read = _Reader(props, strict)
        return cls(
            owner=read.get("Owner", decode_str),
            name_pattern=read.get("NamePattern", decode_str),
            interface_naming=read.get("InterfaceNaming", decode_str, default=""),
            refresh_token=str(props.get("RefreshToken") or ""),
        )


@dataclass(frozen=True)
class GuardedGateway:
    """What a gateway cannot change in place: each of these replaces its instance, ENIs or license."""

    slot: str
    node_name: str
    generation: str
    image: str
    root_volume_gib: int | str
    wan_subnet_id: str
    lan_subnet_id: str

    def to_properties(self) -> dict[str, Any]:
        return {
            "Slot": self.slot,
            "NodeName": self.node_name,
            "Generation": self.generation,
            "Image": self.image,
            "RootVolumeGib": encode_int(self.root_volume_gib),
            "WanSubnetId": self.wan_subnet_id,
            "LanSubnetId": self.lan_subnet_id,
        }

    @classmethod
    def parse(cls, raw: Any, index: int, *, strict: bool) -> GuardedGateway:
        read = _Reader(raw, strict, f"Gateways[{index}].")
        return cls(
            slot=read.get("Slot", decode_str),
            node_name=read.get("NodeName", decode_str),
            generation=read.get("Generation", decode_str),
            image=read.get("Image", decode_str),
            root_volume_gib=read.get("RootVolumeGib", decode_int),
            wan_subnet_id=read.get("WanSubnetId", decode_str),
            lan_subnet_id=read.get("LanSubnetId", decode_str),
        )


@dataclass(frozen=True)
class GuardProperties:
    """The change guard: everything else of a cluster depends on it, so it sees an update first and refuses
    one that would replace a running gateway, before anything changes."""

    cluster_name: str
    gateways: tuple[GuardedGateway, ...]
    #: The edge CIDRs and the route tables the cluster will own: a create (or an update that adds either) is
    #: refused while a managed table routes an edge CIDR somewhere else (one route per destination).
    edge_cidrs: tuple[str, ...] = ()
    route_table_ids: tuple[str, ...] = ()
    #: What stops and starts both gateways in place (their instance type, their user data): when it changes, the
    #: pair must be whole, and the role is handed away from the primary before CloudFormation stops it.
    restart: Mapping[str, Any] = field(default_factory=dict)

    def to_properties(self) -> dict[str, Any]:
        return {
            VERSION_KEY: str(CONTRACT_VERSION),
            "ClusterName": self.cluster_name,
            "Gateways": [g.to_properties() for g in self.gateways],
            "EdgeCidrs": list(self.edge_cidrs),
            "RouteTableIds": list(self.route_table_ids),
            "Restart": dict(self.restart),
        }

    @classmethod
    def parse(cls, props: Mapping[str, Any], *, strict: bool = True) -> GuardProperties:
        read = _Reader(props, strict)
        raw = props.get("Gateways") if isinstance(props, Mapping) else None
        gateways = tuple(GuardedGateway.parse(g, i, strict=strict) for i, g in enumerate(raw or []))
        return cls(
            cluster_name=read.get("ClusterName", decode_str),
            gateways=gateways,
            edge_cidrs=read.get("EdgeCidrs", decode_list, default=()),
            route_table_ids=read.get("RouteTableIds", decode_list, default=()),
            restart=_mapping(props, "Restart"),
        )

    def restarts(self, old: GuardProperties) -> bool:
        """Whether an update from ``old`` stops and starts the gateways (unknown for an older version: no)."""
        return bool(old.restart) and dict(old.restart) != dict(self.restart)


@dataclass(frozen=True)
class GateProperties:
    """The gate between the two gateways: on an update it waits until the first is back and the cluster is
    healthy; the second gateway's instance depends on it. ``fingerprint`` holds the first instance's
    interrupting properties, so that any change of them updates the gate."""

    cluster_name: str
    node_uid: str
    node_name: str
    instance_id: str
    fingerprint: Mapping[str, Any]
    wait_timeout_seconds: int | str = DEFAULT_WAIT_SECONDS
    #: The first gateway's LAN interface, the second gateway (uid, name), and the routes the role owns: before
    #: CloudFormation stops the second gateway, the role is handed back to the first, and every route follows.
    lan_eni_id: str = ""
    partner_uid: str = ""
    partner_name: str = ""
    edge_cidrs: tuple[str, ...] = ()
    route_table_ids: tuple[str, ...] = ()
    #: The second gateway's LAN interface: in a rollback, its instance's live type tells whether the rollback
    #: restarts it too (and so whether the gate must wait for the first).
    partner_lan_eni_id: str = ""

    def to_properties(self) -> dict[str, Any]:
        return {
            VERSION_KEY: str(CONTRACT_VERSION),
            "ClusterName": self.cluster_name,
            "NodeUid": self.node_uid,
            "NodeName": self.node_name,
            "InstanceId": self.instance_id,
            "Fingerprint": dict(self.fingerprint),
            "WaitTimeoutSeconds": encode_int(self.wait_timeout_seconds),
            "LanEniId": self.lan_eni_id,
            "PartnerUid": self.partner_uid,
            "PartnerName": self.partner_name,
            "PartnerLanEniId": self.partner_lan_eni_id,
            "EdgeCidrs": list(self.edge_cidrs),
            "RouteTableIds": list(self.route_table_ids),
        }

    @classmethod
    def parse(cls, props: Mapping[str, Any], *, strict: bool = True) -> GateProperties:
        read = _Reader(props, strict)
        fingerprint = props.get("Fingerprint") if isinstance(props, Mapping) else None
        return cls(
            cluster_name=read.get("ClusterName", decode_str),
            node_uid=read.get("NodeUid", decode_str),
            node_name=read.get("NodeName", decode_str),
            instance_id=read.get("InstanceId", decode_str),
            fingerprint=fingerprint if isinstance(fingerprint, Mapping) else {},
            wait_timeout_seconds=read.get("WaitTimeoutSeconds", decode_int, default=DEFAULT_WAIT_SECONDS),
            lan_eni_id=str(props.get("LanEniId") or ""),
            partner_uid=str(props.get("PartnerUid") or ""),
            partner_name=str(props.get("PartnerName") or ""),
            partner_lan_eni_id=str(props.get("PartnerLanEniId") or ""),
            edge_cidrs=read.get("EdgeCidrs", decode_list, default=()),
            route_table_ids=read.get("RouteTableIds", decode_list, default=()),
        )


@dataclass(frozen=True)
class ProtectionProperties:
    """EC2 termination protection of the gateways, applied once the cluster has verified. Deleted first on a
    stack delete (it depends on everything else of the cluster), it refuses that delete while enabled."""

    instance_ids: tuple[str, ...]
    enabled: bool | str = True

    def to_properties(self) -> dict[str, Any]:
        return {
            VERSION_KEY: str(CONTRACT_VERSION),
            "InstanceIds": list(self.instance_ids),
            "Enabled": encode_bool(self.enabled),
        }

    @classmethod
    def parse(cls, props: Mapping[str, Any], *, strict: bool = True) -> ProtectionProperties:
        read = _Reader(props, strict)
        return cls(
            instance_ids=read.get("InstanceIds", decode_list, default=()),
            enabled=read.get("Enabled", decode_bool, default=True),
        )


PROPERTY_STRUCTS: dict[str, Any] = {
    CLUSTER_TYPE: ClusterProperties,
    LICENSE_TYPE: LicenseProperties,
    IMAGE_TYPE: ImageProperties,
    GUARD_TYPE: GuardProperties,
    GATE_TYPE: GateProperties,
    PROTECTION_TYPE: ProtectionProperties,
}


def property_names(struct: type) -> Sequence[str]:
    """The dataclass field names of a property struct (for documentation and tests)."""
    return [f.name for f in fields(struct)]
