"""A successor cluster takes over from its predecessor: built and verified without the routes, then a cut-over
that moves each route in one step, against the stand-in and moto. No managed table is ever without the route."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.lambda_.conftest import Deployed, World, register
from trustgrid_ha_runtime.contract import ClusterProperties, MemberProperties
from trustgrid_ha_runtime.cutover import CutOverRefused

EDGE = "172.16.0.0/16"
SUCCESSOR = "prod-gw2"


class Watched:
    """EC2 as the handler and the members use it, checking after every route write that every managed table still
    has a route for the edge CIDR (a window would be a gap in traffic)."""

    def __init__(self, ec2: Any, tables: list[str]) -> None:
        self._ec2, self._tables = ec2, tables
        self.windows: list[str] = []
        self.route_writes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._ec2, name)
        if name not in ("create_route", "replace_route", "delete_route"):
            return call

        def watched(**kwargs: Any) -> Any:
            answer = call(**kwargs)
            self.route_writes.append(name)
            for table in self._tables:
                routes = self._ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
                if not any(r.get("DestinationCidrBlock") == EDGE for r in routes):
                    self.windows.append(f"{name} left {table} without {EDGE}")
            return answer

        return watched


def new_members(world: World) -> list[dict[str, str]]:
    """Two new gateways (their own LAN interfaces and instances) in the same subnets, registered and online."""
    members = []
    for index, name in enumerate((f"{SUCCESSOR}-a", f"{SUCCESSOR}-b")):
        subnet = world.subnets[index]
        eni = world.ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
        instance = world.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet)
        instance_id = instance["Instances"][0]["InstanceId"]
        world.ec2.attach_network_interface(
            NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=instance_id, DeviceIndex=1
        )
        world.instances[eni["NetworkInterfaceId"]] = instance_id
        uid = world.license("Create", name, index)["PhysicalResourceId"]
        member = MemberProperties(
            uid, name, eni["NetworkInterfaceId"], eni["PrivateIpAddress"], f"10.0.{110 + index}.10",
            f"198.51.100.{20 + index}", subnet,
        ).to_properties()  # fmt: skip
        register(world, member)
        members.append(member)
    return members


def successor(world: World, members: list[dict[str, str]], *, owns_routes: bool) -> dict[str, Any]:
    return ClusterProperties(
        name=SUCCESSOR,
        members=tuple(MemberProperties.parse(m) for m in members),
        edge_cidrs=(EDGE,),
        route_table_ids=tuple(world.route_tables),
        lan_interface_name="ens6",
        wait_timeout_seconds=600,
        owns_routes=owns_routes,
        predecessor="prod-gw",
    ).to_properties()


def targets(world: World) -> set[str | None]:
    found = set()
    for table in world.route_tables:
        routes = world.ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        found |= {r.get("NetworkInterfaceId") for r in routes if r.get("DestinationCidrBlock") == EDGE}
    return found


def cloud_routes(world: World, fqdn: str) -> list[Any]:
    interfaces = world.stub.clusters[fqdn]["config"]["network"]["interfaces"]
    return [r for i in interfaces for r in i.get("cloudRoutes", [])] + [
        t for i in interfaces for t in i.get("clusterRouteTables", [])
    ]


@pytest.fixture
def built(world: World, deployed: Deployed) -> tuple[list[dict[str, str]], dict[str, Any], str]:
    """The successor, built and verified next to the running predecessor, without the routes."""
    before = targets(world)
    members = new_members(world)
    props = successor(world, members, owns_routes=False)
    fqdn = world.cluster("Create", props, logical_id="SuccessorCluster")["PhysicalResourceId"]
    assert cloud_routes(world, fqdn) == []  # its members never touch the routes
    assert targets(world) == before  # still the predecessor's
    return members, props, fqdn


def test_the_cut_over_moves_each_route_in_one_step_and_the_predecessor_lets_go(
    world: World, deployed: Deployed, built: tuple[list[dict[str, str]], dict[str, Any], str]
) -> None:
    members, props, fqdn = built
    watched = Watched(world.ec2, world.route_tables)
    world.ec2 = watched
    try:
        world.cluster("Update", successor(world, members, owns_routes=True), old=props, physical=fqdn,
                      logical_id="SuccessorCluster")  # fmt: skip
        for _ in range(3):  # the members of both clusters keep acting afterwards
            world.between_polls()
    finally:
        world.ec2 = watched._ec2
    active = next(m for m in members if world.stub.clusters[fqdn]["active"] == m["Uid"])
    assert targets(world) == {active["LanEniId"]}
    assert watched.windows == []  # no managed table was ever without the route
    assert watched.route_writes.count("replace_route") == len(world.route_tables)  # one move per table, no more
    assert "delete_route" not in watched.route_writes
    assert cloud_routes(world, deployed.fqdn) == []  # the predecessor no longer manages them
    assert len(cloud_routes(world, fqdn)) == 1 + len(world.route_tables)
    # the predecessor, superseded, updates and is deleted without touching the routes
    superseded = {**deployed.props, "OwnsRoutes": "false"}
    world.cluster("Update", superseded, old=deployed.props, physical=deployed.fqdn)
    world.cluster("Delete", superseded, physical=deployed.fqdn)
    assert deployed.fqdn not in world.stub.clusters and targets(world) == {active["LanEniId"]}
    # a repeated cut-over moves nothing
    world.cluster("Update", successor(world, members, owns_routes=True), old=props, physical=fqdn,
                  logical_id="SuccessorCluster")  # fmt: skip
    assert targets(world) == {active["LanEniId"]}


def test_a_route_to_something_else_or_a_successor_not_whole_is_refused_before_any_route_moves(
    world: World, deployed: Deployed, built: tuple[list[dict[str, str]], dict[str, Any], str]
) -> None:
    members, props, fqdn = built
    cut = successor(world, members, owns_routes=True)
    before = targets(world)
    world.stub.nodes[members[1]["Uid"]]["online"] = False  # the update waits for it, and moves nothing meanwhile
    with pytest.raises(AssertionError, match="not complete"):
        world.cluster("Update", cut, old=props, physical=fqdn, logical_id="SuccessorCluster", max_polls=3)
    assert targets(world) == before
    from trustgrid_ha_runtime.cutover import CutOver

    nodes = {m["Uid"]: world.stub.nodes[m["Uid"]] for m in members}
    with pytest.raises(
        CutOverRefused, match=f"the successor is not whole \\(gateway {SUCCESSOR}-b is registered, offline"
    ):
        CutOver(world.runtime().api(), world.ec2, world.runtime().log).run(
            ClusterProperties.parse(cut), "healthy", nodes
        )
    world.stub.nodes[members[1]["Uid"]]["online"] = True
    table = world.route_tables[0]
    stranger = world.ec2.create_network_interface(SubnetId=world.subnets[0])["NetworkInterface"]["NetworkInterfaceId"]
    world.ec2.replace_route(RouteTableId=table, DestinationCidrBlock=EDGE, NetworkInterfaceId=stranger)
    with pytest.raises(CutOverRefused, match=f"route table {table} sends {EDGE} to {stranger}, which is neither"):
        world.cluster("Update", cut, old=props, physical=fqdn, logical_id="SuccessorCluster")
    assert stranger in targets(world) and cloud_routes(world, fqdn) == []  # nothing moved


def test_a_successor_declared_with_its_cut_over_takes_the_routes_once_it_is_whole(
    world: World, deployed: Deployed
) -> None:
    members = new_members(world)
    world.stub.nodes[members[0]["Uid"]]["online"] = False  # still booting
    props = successor(world, members, owns_routes=True)
    world.stub.boot(members[0]["Uid"], register_in=0, online_in=2)
    fqdn = world.cluster("Create", props, logical_id="SuccessorCluster", max_polls=12)["PhysicalResourceId"]
    active = next(m for m in members if world.stub.clusters[fqdn]["active"] == m["Uid"])
    assert targets(world) == {active["LanEniId"]}
    assert cloud_routes(world, deployed.fqdn) == []


def test_the_successors_plan_and_verification_follow_the_routes_it_owns() -> None:
    from trustgrid_ha_runtime.cluster import plan_update

    base = ClusterProperties("prod-gw2", (), ("172.16.0.0/16",), (), "ens6", owns_routes=False, predecessor="prod-gw")
    assert plan_update(base, replace(base, owns_routes=True)).network
    assert not plan_update(base, base).network
