"""Pure functions for the configuration the cluster resource writes: LAN interface, heartbeat, gateway.

A PUT of a network config replaces the whole section, so the handler reads the
current config, replaces only the entries this project owns and writes the
result back: entries people made in the portal survive. Routes and AWS route
table entries are ours when their description starts with :data:`MARK`; route
table IDs are ours when the resource's (old or new) properties list them.

Node config sections are written back with only the fields the API documents as
writable: the server's own fields (version counters, timestamps) are never sent.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .contract import ClusterProperties, GatewayType, MemberProperties

MARK = "managed by trustgrid-ha-cluster"

#: ``PUT /node/{uid}/config/cluster``: the documented writable fields. ``updateTime``, ``versionCounter``,
#: ``masterVersion`` and ``shared`` are the server's.
HEARTBEAT_WRITABLE = frozenset({"enabled", "host", "port", "statusHost", "statusPort", "master"})
#: ``PUT /node/{uid}/config/gateway``: the fields of the published schema, plus ``paths`` and ``routes``,
#: which Trustgrid's Terraform provider writes to the same endpoint.
GATEWAY_WRITABLE = frozenset(
    {
        "enabled",
        "type",
        "host",
        "port",
        "udpEnabled",
        "udpPort",
        "maxmbps",
        "maxClientWriteMbps",
        "cert",
        "clients",
        "connectToPublic",
        "monitorHops",
        "paths",
        "routes",
    }
)


@dataclass(frozen=True)
class LanSubnet:
    """A member's LAN subnet as EC2 describes it."""

    subnet_id: str
    cidr: str
    availability_zone: str

    @property
    def router(self) -> str:
        """The VPC router of a subnet is its network address + 1."""
        return str(ipaddress.ip_network(self.cidr).network_address + 1)


def owned_routes(spec: ClusterProperties, subnets: Mapping[str, LanSubnet]) -> list[dict[str, str]]:
    """LAN routes that keep the heartbeat on the LAN when the members sit in different AZs.

    Each member's LAN subnet is reached through the VPC router of the *other*
    member's subnet, which is on-link for that member.
    """
    first, second = (subnets[m.lan_subnet_id] for m in spec.members)
    if first.availability_zone == second.availability_zone:
        return []
    return [
        {"route": second.cidr, "next": first.router, "description": f"{MARK}: heartbeat over the LAN"},
        {"route": first.cidr, "next": second.router, "description": f"{MARK}: heartbeat over the LAN"},
    ]


def owned_cloud_routes(spec: ClusterProperties) -> list[dict[str, str]]:
    return [{"route": cidr, "description": f"{MARK}: edge CIDR"} for cidr in spec.edge_cidrs]


def is_owned(entry: Any) -> bool:
    """Whether an entry (a route, a NAT, a policy) says it is this project's."""
    return isinstance(entry, dict) and MARK in str(entry.get("description") or "")


def merge_network(
    current: Mapping[str, Any] | None,
    spec: ClusterProperties,
    subnets: Mapping[str, LanSubnet],
    nic: str,
    previous: ClusterProperties | None = None,
) -> dict[str, Any]:
    """The cluster network config with this project's entries set to ``spec`` on interface ``nic``.

    Entries marked as ours, and the route tables that ``spec`` or ``previous``
    (the properties this resource wrote before) list, are removed from every
    interface first, so a changed interface name or route table list moves them.
    """
    network = copy.deepcopy(dict(current)) if current else {}
    interfaces = network.setdefault("interfaces", [])
    owned_tables = set(spec.route_table_ids) | set(previous.route_table_ids if previous else ())
    for interface in interfaces:
        interface["routes"] = [r for r in interface.get("routes") or [] if not is_owned(r)]
        interface["cloudRoutes"] = [r for r in interface.get("cloudRoutes") or [] if not is_owned(r)]
        interface["clusterRouteTables"] = [
            t for t in interface.get("clusterRouteTables") or [] if t not in owned_tables
        ]
    lan = next((i for i in interfaces if i.get("nic") == nic), None)
    if lan is None:
        lan = {"nic": nic, "routes": [], "cloudRoutes": [], "clusterRouteTables": []}
        interfaces.append(lan)
    lan["routes"].extend(owned_routes(spec, subnets))
    if spec.owns_routes:  # a successor before its cut-over (a predecessor after it) leaves the routes alone
        lan["cloudRoutes"].extend(owned_cloud_routes(spec))
        lan["clusterRouteTables"].extend(spec.route_table_ids)
    return network


def _writable(current: Any, allowed: Iterable[str]) -> dict[str, Any]:
    return {k: v for k, v in current.items() if k in allowed} if isinstance(current, dict) else {}


def matches(current: Any, desired: Mapping[str, Any]) -> bool:
    """True when ``current`` already holds every desired value (other keys are someone else's)."""
    return isinstance(current, dict) and all(current.get(k) == v for k, v in desired.items())


def heartbeat_config(spec: ClusterProperties, member: MemberProperties) -> dict[str, Any]:
    return {"enabled": True, "host": spec.heartbeat_host(member), "port": spec.heartbeat_port}


def heartbeat_body(current: Any, desired: Mapping[str, Any]) -> dict[str, Any]:
    """What to PUT: the writable fields people may have set (status host/port), then ours."""
    return {**_writable(current, HEARTBEAT_WRITABLE), **desired}


def gateway_config(spec: ClusterProperties, member: MemberProperties) -> dict[str, Any]:
    """The gateway service that makes a member a gateway edge nodes connect to: every node of the organisation
    (public), or the listed clients (private: the client list is ours; a public gateway keeps whatever list people
    set in the portal)."""
    config: dict[str, Any] = {
        "enabled": True,
        "type": spec.gateway_type.value,
        "host": member.public_ip,
        "port": spec.tunnel_port,
        "udpEnabled": spec.tunnel_udp,
        "udpPort": spec.tunnel_port,
    }
    if spec.max_ingress_mbps is not None:
        config["maxmbps"] = spec.max_ingress_mbps
    if spec.max_client_write_mbps is not None:
        config["maxClientWriteMbps"] = spec.max_client_write_mbps
    if spec.gateway_type is GatewayType.PRIVATE:
        config["clients"] = [{"name": client, "enabled": True} for client in spec.gateway_clients]
    return config


def gateway_body(current: Any, desired: Mapping[str, Any]) -> dict[str, Any]:
    """What to PUT: the writable fields already set (certificates, clients, paths), then ours."""
    return {**_writable(current, GATEWAY_WRITABLE), **desired}
