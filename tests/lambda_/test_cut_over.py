"""A successor cluster takes over from its predecessor: built and verified without the routes, then a cut-over
that moves each route in one step, against the stand-in and moto. No managed table is ever without the route."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.lambda_.conftest import Deployed, World
from tests.lambda_.rolling import EDGE, SUCCESSOR, Watched, new_members, successor
from trustgrid_ha_runtime.contract import ClusterProperties
from trustgrid_ha_runtime.cutover import CutOverRefused


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
        world.ec2 = watched.real
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


def cut_over(world: World, members: list[dict[str, str]], props: dict[str, Any], fqdn: str) -> dict[str, Any]:
    cut = successor(world, members, owns_routes=True)
    world.cluster("Update", cut, old=props, physical=fqdn, logical_id="SuccessorCluster")
    world.between_polls()
    return cut


def test_a_rolled_back_cut_over_gives_the_routes_back_in_one_step_and_turning_it_off_is_refused(
    world: World, deployed: Deployed, built: tuple[list[dict[str, str]], dict[str, Any], str]
) -> None:
    members, props, fqdn = built
    predecessor_enis = {m["LanEniId"] for m in deployed.members}
    cut = cut_over(world, members, props, fqdn)
    with pytest.raises(CutOverRefused, match="turning the cut-over off would leave them to nobody"):
        world.cluster("Update", props, old=cut, physical=fqdn, logical_id="SuccessorCluster")
    watched = Watched(world.ec2, world.route_tables)
    world.ec2 = watched
    try:
        world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
        world.cluster("Update", props, old=cut, physical=fqdn, logical_id="SuccessorCluster")
        for _ in range(3):
            world.between_polls()
    finally:
        world.ec2 = watched.real
        world.set_stack_status("UPDATE_COMPLETE")
    assert targets(world) <= predecessor_enis and watched.windows == []
    assert cloud_routes(world, deployed.fqdn) and cloud_routes(world, fqdn) == []  # the predecessor manages them


def test_a_deleted_successor_gives_the_routes_back_and_a_predecessor_is_not_deleted_before_its_cut_over(
    world: World, deployed: Deployed, built: tuple[list[dict[str, str]], dict[str, Any], str]
) -> None:
    members, props, fqdn = built
    with pytest.raises(CutOverRefused, match="has not taken the routes over"):
        world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert deployed.fqdn in world.stub.clusters and targets(world) <= {m["LanEniId"] for m in deployed.members}
    cut = cut_over(world, members, props, fqdn)
    world.cluster("Delete", cut, physical=fqdn, logical_id="SuccessorCluster")
    world.between_polls()
    assert targets(world) <= {m["LanEniId"] for m in deployed.members} and None not in targets(world)
    assert cloud_routes(world, deployed.fqdn)


def test_a_successor_that_would_leave_a_route_of_its_predecessor_to_nobody_is_refused(
    world: World, deployed: Deployed
) -> None:
    members = new_members(world)
    narrow = {**successor(world, members, owns_routes=False), "RouteTableIds": [world.route_tables[0]]}
    fqdn = world.cluster("Create", narrow, logical_id="SuccessorCluster")["PhysicalResourceId"]
    with pytest.raises(CutOverRefused, match=f"also manages {EDGE} in {world.route_tables[1]}"):
        world.cluster("Update", {**narrow, "OwnsRoutes": "true"}, old=narrow, physical=fqdn,
                      logical_id="SuccessorCluster")  # fmt: skip


def test_the_successors_guard_allows_its_predecessors_routes_and_refuses_anyone_elses(
    world: World, deployed: Deployed
) -> None:
    from trustgrid_ha_runtime.contract import GUARD_TYPE, GuardProperties
    from trustgrid_ha_runtime.handler import handle_event
    from trustgrid_ha_runtime.lifecycle import ChangeRefused

    def create(predecessor: str) -> None:
        props = GuardProperties(SUCCESSOR, (), (EDGE,), tuple(world.route_tables), predecessor=predecessor)
        event = {"RequestType": "Create", "ResourceType": GUARD_TYPE, "ResourceProperties": props.to_properties(),
                 "StackId": world.stack_id, "LogicalResourceId": "SuccessorGuard"}  # fmt: skip
        handle_event(event, world.runtime())

    create("prod-gw")  # the predecessor's routes: the cut-over's to move
    with pytest.raises(ChangeRefused, match=r"already sends 172\.16\.0\.0/16"):
        create("")  # a plain new cluster on the same routes
