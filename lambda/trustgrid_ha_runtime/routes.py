"""Verification of the AWS route-table entries the active member maintains."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def route_problems(
    route_tables: Iterable[dict[str, Any]],
    expected_table_ids: Iterable[str],
    edge_cidrs: Iterable[str],
    member_enis: Iterable[str],
) -> list[str]:
    """What is wrong with the edge-CIDR routes, as sentences; empty when every table is right.

    ``route_tables`` is the ``RouteTables`` list of ``ec2:DescribeRouteTables``.
    Every expected table must send every edge CIDR to one of the members' LAN
    ENIs, and the route must be active (not a blackhole).
    """
    enis = sorted(set(member_enis))
    by_id = {t["RouteTableId"]: t for t in route_tables}
    problems = []
    for table_id in expected_table_ids:
        table = by_id.get(table_id)
        if table is None:
            problems.append(f"route table {table_id} was not found in this account and region")
            continue
        routes = {r.get("DestinationCidrBlock"): r for r in table.get("Routes", [])}
        for cidr in edge_cidrs:
            route = routes.get(cidr)
            if route is None:
                problems.append(f"route table {table_id} has no route for {cidr} yet (the active member creates it)")
            elif route.get("NetworkInterfaceId") not in enis:
                target = (
                    route.get("NetworkInterfaceId")
                    or route.get("GatewayId")
                    or route.get("InstanceId")
                    or "another target"
                )
                problems.append(
                    f"route table {table_id} sends {cidr} to {target}, not to a cluster member's LAN interface "
                    f"({', '.join(enis)}); remove that route so the active member can own it"
                )
            elif route.get("State") == "blackhole":
                problems.append(f"route table {table_id} has a blackhole route for {cidr}")
    return problems
