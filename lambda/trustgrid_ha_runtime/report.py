"""What Trustgrid and EC2 say about a cluster: its health and mode, each member, and every managed route table's
edge routes, with what is wrong as sentences. Read only. The scheduled check (:mod:`trustgrid_ha_runtime.monitor`)
publishes it as metrics; the operator tools (``trustgrid_ha_tools``: status, drill, the pipeline's health step)
print it.

"Active" is the role a member reports holding now (``shadow.reported["cluster.master"]``); the configured
(preferred) active member (``config.cluster.master``) is shown beside it and may differ after a failover.

Everything comes from Trustgrid and EC2: the members and their state from the API, the edge CIDRs and managed route
tables from the cluster's network configuration, each member's LAN interface from EC2 (the construct names it
``Trustgrid <node> LAN``), the routes from ``ec2:DescribeRouteTables``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .api import ApiError, Credentials, NotFound, TrustgridClient
from .log import JsonLogger
from .network import is_owned
from .nodes import configured_active, holds_role, section


@dataclass
class MemberStatus:
    name: str
    uid: str
    online: bool
    gateway_enabled: bool
    #: holds the active role now (``shadow.reported["cluster.master"]``): carries traffic, owns the routes
    active: bool
    #: the configured (preferred) active member (``config.cluster.master``)
    configured_active: bool
    lan_eni: str | None
    #: ``public`` (every node of the organisation may connect) or ``private`` (only its clients); None if unset
    gateway_type: str | None = None


@dataclass
class RouteStatus:
    route_table: str
    cidr: str
    target: str | None
    on_active_member: bool


@dataclass
class NetworkStatus:
    """A virtual network attached to the cluster: its validation route and the interfaces in it."""

    name: str
    route: str | None
    interfaces: list[str] = field(default_factory=list)


@dataclass
class ClusterStatus:
    fqdn: str
    health: str | None
    mode: str | None
    members: list[MemberStatus] = field(default_factory=list)
    routes: list[RouteStatus] = field(default_factory=list)
    #: the attached virtual networks (None: not read, or not readable with this API key)
    networks: list[NetworkStatus] | None = None
    #: the network the cluster must stay attached to (its construct attached it), if any
    expected_network: str | None = None
    #: the cluster's LAN interface (the one its configuration carries this project's entries on)
    lan_interface: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def network_attached(self) -> bool:
        """The expected network is attached, with an interface in it."""
        found = [n for n in self.networks or [] if n.name == self.expected_network]
        nics = [i.split(" ", 1)[0] for i in found[0].interfaces] if found else []
        return bool(nics) and (self.lan_interface is None or self.lan_interface in nics)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def active(self) -> MemberStatus | None:
        actives = [m for m in self.members if m.active]
        return actives[0] if len(actives) == 1 else None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def _lan_eni(ec2: Any, node: dict[str, Any], vpc_id: str | None) -> str | None:
    """The member's LAN interface: the ENI the construct described as its LAN, else the one holding its
    heartbeat address, in the cluster's VPC (None without EC2 access)."""
    if ec2 is None:
        return None
    host = str(section(node, "cluster").get("host"))
    scope = [{"Name": "vpc-id", "Values": [vpc_id]}] if vpc_id else []
    for query in (
        [{"Name": "description", "Values": [f"Trustgrid {node.get('name')} LAN"]}, *scope],
        [{"Name": "private-ip-address", "Values": [host]}, *scope],
    ):
        found = ec2.describe_network_interfaces(Filters=query).get("NetworkInterfaces", [])
        if len(found) == 1:
            return str(found[0]["NetworkInterfaceId"])
    return None


def _member(client: TrustgridClient, ec2: Any, summary: dict[str, Any], vpc_id: str | None) -> MemberStatus:
    node = client.get_node(str(summary["uid"]))
    return MemberStatus(
        name=str(node.get("name")),
        uid=str(node.get("uid")),
        online=bool(node.get("online")),
        gateway_enabled=bool(section(node, "gateway").get("enabled")),
        active=holds_role(node),
        configured_active=configured_active(node),
        lan_eni=_lan_eni(ec2, node, vpc_id),
        gateway_type=section(node, "gateway").get("type"),
    )


def _tables(ec2: Any, network: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tables = [t for i in network.get("interfaces") or [] for t in i.get("clusterRouteTables") or []]
    if not tables or ec2 is None:
        return {}
    return {t["RouteTableId"]: t for t in ec2.describe_route_tables(RouteTableIds=tables)["RouteTables"]}


def _routes(network: dict[str, Any], described: dict[str, Any], active: MemberStatus | None) -> list[RouteStatus]:
    cidrs = [r["route"] for i in network.get("interfaces") or [] for r in i.get("cloudRoutes") or []]
    tables = [t for i in network.get("interfaces") or [] for t in i.get("clusterRouteTables") or []]
    found = []
    for table in tables:
        routes = {r.get("DestinationCidrBlock"): r for r in described.get(table, {}).get("Routes", [])}
        for cidr in cidrs:
            route = routes.get(cidr) or {}
            target = route.get("NetworkInterfaceId") or route.get("GatewayId") or route.get("InstanceId")
            on_active = active is not None and target is not None and target == active.lan_eni
            found.append(RouteStatus(table, cidr, target, on_active and route.get("State") != "blackhole"))
    return found


def _networks(client: TrustgridClient, fqdn: str, expected: str | None) -> list[NetworkStatus] | None:
    """The attached networks with their interfaces. An API key that may not read them gives None (judged only when
    a network is expected)."""
    try:
        attached = client.list_vpn_attachments(fqdn)
        names = [str(a.get("networkName") or a.get("name")) for a in attached]
        routes = {n: a.get("route") for n, a in zip(names, attached, strict=True)}
        return [NetworkStatus(n, routes[n], _interfaces(client.list_vpn_interfaces(fqdn, n))) for n in names]
    except NotFound:
        return []
    except ApiError:
        if expected:
            raise
        return None


def _carries_ours(interface: dict[str, Any]) -> bool:
    return any(is_owned(e) for e in [*(interface.get("routes") or []), *(interface.get("cloudRoutes") or [])])


def _interfaces(found: list[dict[str, Any]]) -> list[str]:
    """Each interface in a network with its NATs, as words: ``ens6 (NAT 100.64.10.0/24=10.0.0.0/24)``."""
    words = []
    for interface in found:
        nats = [
            f"{kind} {n.get('networkCidr')}={n.get('localCidr')}"
            for kind, key in (("inside", "insideNats"), ("outside", "outsideNats"))
            for n in interface.get(key) or []
        ]
        words.append(f"{interface.get('interfaceName')}" + (f" ({', '.join(nats)})" if nats else ""))
    return words


def cluster_status(client: TrustgridClient, ec2: Any, fqdn: str, network: str | None = None) -> ClusterStatus:
    """What Trustgrid and EC2 say about one cluster, and what is wrong with it, as sentences. With ``ec2`` None
    (no access to the cluster's account) the routes are not read and not judged; with ``network``, the cluster
    must be attached to that virtual network with an interface in it."""
    try:
        cluster = client.get_cluster(fqdn)
    except NotFound:
        return ClusterStatus(fqdn, None, None, problems=[f"Trustgrid has no cluster {fqdn} (check the FQDN)"])
    status = ClusterStatus(fqdn, cluster.get("health"), cluster.get("mode"))
    network_config = (cluster.get("config") or {}).get("network") or {}
    described = _tables(ec2, network_config)
    vpc_id = next((t.get("VpcId") for t in described.values()), None)
    status.members = [_member(client, ec2, m, vpc_id) for m in client.list_cluster_nodes(fqdn)]
    status.routes = _routes(network_config, described, status.active) if ec2 is not None else []
    status.expected_network = network
    status.lan_interface = next(
        (str(i["nic"]) for i in network_config.get("interfaces") or [] if i.get("nic") and _carries_ours(i)), None
    )
    status.networks = _networks(client, fqdn, network)
    status.problems = _problems(status)
    return status


def _problems(status: ClusterStatus) -> list[str]:
    problems = [] if status.health == "healthy" else [f"health is {status.health!r}"]
    if len(status.members) != 2:
        problems.append(f"{len(status.members)} member(s), not 2")
    problems += [p for member in status.members for p in _member_problems(member)]
    if status.active is None:
        problems.append(f"{sum(m.active for m in status.members)} members hold the active role, not 1")
    problems += [
        f"{route.route_table} sends {route.cidr} to {route.target or 'nothing'}, not to the active member"
        for route in status.routes
        if not route.on_active_member
    ]
    if status.expected_network and not status.network_attached:
        problems.append(f"the virtual network {status.expected_network} (or the LAN interface in it) is not attached")
    return problems


def _member_problems(member: MemberStatus) -> list[str]:
    problems = [] if member.online else [f"{member.name} is offline"]
    if not member.gateway_enabled:
        problems.append(f"{member.name}'s gateway service is not enabled")
    return problems


def client_from_secret(secrets: Any, secret_id: str, api_url: str, log: JsonLogger) -> TrustgridClient:
    secret = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    return TrustgridClient(api_url, Credentials.from_secret_string(secret), logger=log)
