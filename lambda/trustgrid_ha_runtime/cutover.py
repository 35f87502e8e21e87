"""The cut-over from a cluster to its successor: the edge routes move in one step each, never leaving a gap.

A successor (a new cluster that declares the one it succeeds: a generation change, a rename) is built and verified
while its predecessor keeps the routes; its network configuration names no AWS route-table entries, so its members
never touch them. The cut-over (the successor's ``OwnsRoutes`` turned on) then, on a whole successor pair:

1. checks that each managed table's route for each edge CIDR points at a predecessor member (or at the successor,
   or nowhere); a route to anything else is refused, as the change guard refuses it;
2. points each such route at the LAN interface of the successor member that holds the role, with one
   ``ReplaceRoute`` (``CreateRoute`` when there is none): traffic moves at once and no table is ever without the
   route;
3. removes those entries from the predecessor's cluster configuration, so its members stop managing them (the
   routes no longer point at them);
4. the successor's own configuration then names them, and its active member owns them from then on.

Each step reads before it writes, so a repeated or resumed cut-over converges.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .api import TrustgridClient
from .contract import ClusterProperties
from .handover import pair_problems
from .log import JsonLogger
from .network import MARK
from .nodes import holds_role


class CutOverRefused(RuntimeError):
    """The cut-over cannot be made safely now; no route was changed."""


#: The tag a successor puts on its predecessor: the predecessor refuses to be deleted while it still owns routes.
SUCCESSOR_TAG = "trustgrid-ha-cluster-successor"


def managed_pairs(network: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The (route table, edge CIDR) pairs a cluster's configuration has its members manage (this project's)."""
    return {
        (table, str(route.get("route")))
        for interface in network.get("interfaces") or []
        for table in interface.get("clusterRouteTables") or []
        for route in interface.get("cloudRoutes") or []
        if str(route.get("description", "")).startswith(MARK)
    }


@dataclass(frozen=True)
class Predecessor:
    fqdn: str
    cluster: Mapping[str, Any]
    lan_enis: frozenset[str]


def lan_interfaces(ec2: Any, names: list[str], route_table_ids: tuple[str, ...]) -> list[str]:
    """The LAN interfaces of these gateways (the construct describes each as ``Trustgrid <node> LAN``), in the VPC
    of the managed route tables."""
    if not names:
        return []
    filters = [{"Name": "description", "Values": [f"Trustgrid {name} LAN" for name in names]}]
    if route_table_ids:
        table = ec2.describe_route_tables(RouteTableIds=[route_table_ids[0]])["RouteTables"][0]
        filters.append({"Name": "vpc-id", "Values": [table["VpcId"]]})
    return [str(i["NetworkInterfaceId"]) for i in ec2.describe_network_interfaces(Filters=filters)["NetworkInterfaces"]]


def find_predecessor(client: TrustgridClient, ec2: Any, spec: ClusterProperties) -> Predecessor | None:
    """The predecessor cluster and its members' LAN interfaces."""
    fqdn = f"{spec.predecessor}.{client.org_domain()}"
    cluster = client.find_cluster(fqdn)
    if cluster is None:
        return None
    names = [str(n.get("name")) for n in client.list_cluster_nodes(fqdn)]
    return Predecessor(fqdn, cluster, frozenset(lan_interfaces(ec2, names, spec.route_table_ids)))


def route_moves(
    tables: list[Mapping[str, Any]], spec: ClusterProperties, ours: set[str], theirs: frozenset[str], to: str
) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    """(the routes to point at ``to``: table, CIDR, current target or None; the routes that belong to someone
    else, as sentences). ``ours``: the successor's LAN interfaces; ``theirs``: the predecessor's."""
    moves, foreign = [], []
    by_id = {t["RouteTableId"]: t for t in tables}
    for table in spec.route_table_ids:
        routes = {r.get("DestinationCidrBlock"): r for r in by_id.get(table, {}).get("Routes", [])}
        for cidr in spec.edge_cidrs:
            route = routes.get(cidr)
            target = (route or {}).get("NetworkInterfaceId")
            if route is not None and target not in ours | theirs:
                other = target or route.get("GatewayId") or route.get("InstanceId") or "another target"
                foreign.append(f"route table {table} sends {cidr} to {other}, which is neither cluster's")
            elif target != to or (route or {}).get("State") == "blackhole":
                moves.append((table, cidr, target))
    return moves, foreign


def without_routes(network: Mapping[str, Any], spec: ClusterProperties) -> dict[str, Any]:
    """The predecessor's network configuration without the edge routes and tables the successor takes over."""
    released = copy.deepcopy(dict(network))
    for interface in released.get("interfaces") or []:
        interface["cloudRoutes"] = [
            r
            for r in interface.get("cloudRoutes") or []
            if not (str(r.get("description", "")).startswith(MARK) and r.get("route") in spec.edge_cidrs)
        ]
        interface["clusterRouteTables"] = [
            t for t in interface.get("clusterRouteTables") or [] if t not in spec.route_table_ids
        ]
    return released


def with_routes(network: Mapping[str, Any], spec: ClusterProperties) -> dict[str, Any]:
    """The predecessor's network configuration managing the edge routes again (on the interface that carries this
    project's entries, else the first)."""
    restored = copy.deepcopy(dict(network))
    interfaces = restored.setdefault("interfaces", [])
    if not interfaces:
        return restored
    lan = next(
        (i for i in interfaces if any(str(r.get("description", "")).startswith(MARK) for r in i.get("routes") or [])),
        interfaces[0],
    )
    have = {str(r.get("route")) for r in lan.get("cloudRoutes") or []}
    lan["cloudRoutes"] = list(lan.get("cloudRoutes") or []) + [
        {"route": cidr, "description": f"{MARK}: edge CIDR"} for cidr in spec.edge_cidrs if cidr not in have
    ]
    lan["clusterRouteTables"] = list(lan.get("clusterRouteTables") or []) + [
        t for t in spec.route_table_ids if t not in (lan.get("clusterRouteTables") or [])
    ]
    return restored


class CutOver:
    """Moves the edge routes from the predecessor to the successor (``spec``)."""

    def __init__(self, client: TrustgridClient, ec2: Any, log: JsonLogger) -> None:
        self._client = client
        self._ec2 = ec2
        self._log = log.bind(step="cut_over")

    def tag_predecessor(self, spec: ClusterProperties) -> None:
        """Mark the predecessor with this successor's name: it refuses to be deleted while it still owns routes."""
        fqdn = f"{spec.predecessor}.{self._client.org_domain()}"
        cluster = self._client.find_cluster(fqdn)
        if cluster is not None and (cluster.get("tags") or {}).get(SUCCESSOR_TAG) != spec.name:
            self._log.info("cut_over.tag_predecessor", predecessor=fqdn)
            self._client.set_cluster_tag(fqdn, SUCCESSOR_TAG, spec.name)

    @staticmethod
    def not_ready(
        spec: ClusterProperties, health: str | None, nodes: Mapping[str, Mapping[str, Any] | None]
    ) -> list[str]:
        """Why the successor cannot take the routes now (it is not whole), one sentence each."""
        return pair_problems(health, {m.name: nodes.get(m.uid) for m in spec.members})

    def run(self, spec: ClusterProperties, health: str | None, nodes: Mapping[str, Mapping[str, Any] | None]) -> int:
        """Steps 1 to 3; the number of routes it moved."""
        problems = self.not_ready(spec, health, nodes)
        if problems:
            raise CutOverRefused(
                "Refused before any route moved: the successor is not whole (" + "; ".join(problems) + "), and the "
                "edge routes would go to it. Bring it back, then deploy again; the predecessor keeps the traffic."
            )
        active = next(m for m in spec.members if holds_role(nodes.get(m.uid)))
        predecessor = find_predecessor(self._client, self._ec2, spec)
        theirs = predecessor.lan_enis if predecessor else frozenset()
        if predecessor is not None:
            self._refuse_partial(predecessor, spec)
        tables = self._ec2.describe_route_tables(RouteTableIds=list(spec.route_table_ids))["RouteTables"]
        moves, foreign = route_moves(tables, spec, {m.lan_eni_id for m in spec.members}, theirs, active.lan_eni_id)
        if foreign:
            raise CutOverRefused("Refused before any route moved: " + "; ".join(foreign) + ".")
        for table, cidr, current in moves:
            self._log.info("cut_over.route", route_table=table, cidr=cidr, was=current, to=active.lan_eni_id)
            if current is None:
                self._ec2.create_route(
                    RouteTableId=table, DestinationCidrBlock=cidr, NetworkInterfaceId=active.lan_eni_id
                )
            else:
                self._ec2.replace_route(
                    RouteTableId=table, DestinationCidrBlock=cidr, NetworkInterfaceId=active.lan_eni_id
                )
        if predecessor is not None:
            self._release(predecessor, spec)
        return len(moves)

    def _refuse_partial(self, predecessor: Predecessor, spec: ClusterProperties) -> None:
        """The successor takes over every route the predecessor manages, or none: a pair it left behind would be
        managed by nobody once the predecessor lets go."""
        network = (predecessor.cluster.get("config") or {}).get("network") or {}
        left = sorted(managed_pairs(network) - {(t, c) for t in spec.route_table_ids for c in spec.edge_cidrs})
        if left:
            words = ", ".join(f"{cidr} in {table}" for table, cidr in left)
            raise CutOverRefused(
                f"Refused before any route moved: the predecessor {predecessor.fqdn} also manages {words}, which "
                "this cluster does not list. Give the successor every edge CIDR and route table of its predecessor."
            )

    def back(self, spec: ClusterProperties) -> bool:
        """A cut-over undone (a rollback, or a successor deleted): the routes go back to the predecessor's member
        that holds the role, in one step each, and its configuration manages them again. False when there is no
        predecessor able to take them (the routes then stay where they are)."""
        predecessor = find_predecessor(self._client, self._ec2, spec)
        if predecessor is None:
            return False
        members = self._client.list_cluster_nodes(predecessor.fqdn)
        records = [self._client.find_node(str(m.get("uid"))) for m in members]
        holder = next((r for r in records if holds_role(r)), None)
        enis = lan_interfaces(self._ec2, [str(holder.get("name"))], spec.route_table_ids) if holder else []
        if not enis:
            self._log.warning(
                "cut_over.back_impossible", predecessor=predecessor.fqdn, reason="no member holds the role"
            )
            return False
        tables = self._ec2.describe_route_tables(RouteTableIds=list(spec.route_table_ids))["RouteTables"]
        moves, _ = route_moves(tables, spec, {m.lan_eni_id for m in spec.members}, predecessor.lan_enis, enis[0])
        for table, cidr, current in moves:
            self._log.info("cut_over.route_back", route_table=table, cidr=cidr, was=current, to=enis[0])
            call = self._ec2.create_route if current is None else self._ec2.replace_route
            call(RouteTableId=table, DestinationCidrBlock=cidr, NetworkInterfaceId=enis[0])
        network = (predecessor.cluster.get("config") or {}).get("network") or {}
        restored = with_routes(network, spec)
        if restored != network:
            self._log.info("cut_over.restore_predecessor", predecessor=predecessor.fqdn)
            self._client.put_cluster_network(predecessor.fqdn, restored)
        return True

    def _release(self, predecessor: Predecessor, spec: ClusterProperties) -> None:
        network = (predecessor.cluster.get("config") or {}).get("network") or {}
        released = without_routes(network, spec)
        if released != network:
            self._log.info("cut_over.release_predecessor", predecessor=predecessor.fqdn)
            self._client.put_cluster_network(predecessor.fqdn, released)
