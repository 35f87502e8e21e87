"""Pure functions for the cluster's LAN interface configuration.

A PUT of a network config replaces the whole section, so the handler reads the
current config, replaces only the entries this project owns and writes the
result back: entries people made in the portal survive. Routes and AWS route
table entries are ours when their description starts with :data:`MARK`; route
table IDs are ours when the resource's (old or new) properties list them.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass
from typing import Any

from .props import ClusterSpec

MARK = "managed by trustgrid-ha-cluster"


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


def owned_routes(spec: ClusterSpec, subnets: dict[str, LanSubnet]) -> list[dict[str, str]]:
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


def owned_cloud_routes(spec: ClusterSpec) -> list[dict[str, str]]:
    return [{"route": cidr, "description": f"{MARK}: edge CIDR"} for cidr in spec.edge_cidrs]


def _is_owned(entry: Any) -> bool:
    return isinstance(entry, dict) and str(entry.get("description", "")).startswith(MARK)


def merge_network(
    current: dict[str, Any] | None,
    spec: ClusterSpec,
    subnets: dict[str, LanSubnet],
    previous: ClusterSpec | None = None,
) -> dict[str, Any]:
    """The cluster network config with this project's entries set to ``spec``.

    ``previous`` is the spec this resource wrote before (on an update): its
    route tables are released; entries marked as ours are replaced everywhere.
    """
    network = copy.deepcopy(current) if current else {}
    interfaces = network.setdefault("interfaces", [])
    released = set(previous.route_table_ids) if previous else set()
    for interface in interfaces:
        interface["routes"] = [r for r in interface.get("routes") or [] if not _is_owned(r)]
        interface["cloudRoutes"] = [r for r in interface.get("cloudRoutes") or [] if not _is_owned(r)]
        interface["clusterRouteTables"] = [t for t in interface.get("clusterRouteTables") or [] if t not in released]
    lan = next((i for i in interfaces if i.get("nic") == spec.lan_interface_name), None)
    if lan is None:
        lan = {"nic": spec.lan_interface_name, "routes": [], "cloudRoutes": [], "clusterRouteTables": []}
        interfaces.append(lan)
    lan["routes"].extend(owned_routes(spec, subnets))
    lan["cloudRoutes"].extend(owned_cloud_routes(spec))
    lan["clusterRouteTables"].extend(t for t in spec.route_table_ids if t not in lan["clusterRouteTables"])
    return network


def heartbeat_config(spec: ClusterSpec, host: str) -> dict[str, Any]:
    return {"enabled": True, "host": host, "port": spec.heartbeat_port}


def heartbeat_matches(current: Any, desired: dict[str, Any]) -> bool:
    """True when the node's cluster config already has the desired heartbeat (other keys are kept)."""
    return isinstance(current, dict) and all(current.get(k) == v for k, v in desired.items())
