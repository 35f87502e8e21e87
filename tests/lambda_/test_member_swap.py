"""Member swaps, one position at a time, run end to end against the handler, the stand-in and moto
(tests/lambda_/swapping.py): for each change kind, one position or both, and failures part-way."""

from __future__ import annotations

import pytest

from tests.lambda_.conftest import Deployed, World
from tests.lambda_.swapping import FQDN, KINDS, SwapWorld


def assert_whole(sw: SwapWorld) -> None:
    """The pair as the gateways now in the template have it: both members in the cluster, online and healthy, the
    role on one of them, every edge route at its LAN interface, each position's address on its WAN interface."""
    world = sw.world
    for _ in range(3):
        world.between_polls()
    stub = world.stub
    members = sorted(n["uid"] for n in stub.nodes.values() if n.get("cluster") == FQDN)
    assert members == sorted(g.uid for g in sw.gateways)
    assert all(stub.nodes[uid]["online"] for uid in members)
    assert stub.snapshot()["clusters"][FQDN]["health"] == "healthy"
    holder = stub.clusters[FQDN]["active"]
    assert holder in members
    eni = stub.lan_enis[holder]
    for table in world.route_tables:
        routes = world.ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        assert [r["NetworkInterfaceId"] for r in routes if r.get("DestinationCidrBlock") == "172.16.0.0/16"] == [eni]
    for allocation, gateway in zip(sw.addresses, sw.gateways, strict=True):
        address = world.ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]
        assert address["NetworkInterfaceId"] == gateway.wan_eni, "each position keeps its Elastic IP"


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_swap_of_both_members_keeps_one_working_member_and_moves_the_role_gracefully(
    world: World, deployed: Deployed, kind: str
) -> None:
    sw = SwapWorld(world, deployed)
    old = list(sw.gateways)
    run = sw.swap((0, 1), KINDS[kind])
    assert run.failure is None
    assert_whole(sw)
    assert run.ungraceful_failovers == 0
    assert run.handler_route_writes == 0, "the routes move with the role, by the members themselves"
    assert run.most_down_at_once == 1, "never both gateways down"
    assert run.graceful_moves == 2  # away from the old primary, then to the new primary before the old secondary goes
    for gateway in old:
        assert gateway.uid not in world.stub.nodes, "the old node records are removed"
        attribute = world.ec2.describe_instance_attribute(
            InstanceId=gateway.instance, Attribute="disableApiTermination"
        )
        assert attribute["DisableApiTermination"]["Value"] is False, "protection released for exactly the old ones"
    for gateway in sw.gateways:
        attribute = world.ec2.describe_instance_attribute(
            InstanceId=gateway.instance, Attribute="disableApiTermination"
        )
        assert attribute["DisableApiTermination"]["Value"] is True


def test_a_swap_of_the_standby_moves_no_role(world: World, deployed: Deployed) -> None:
    sw = SwapWorld(world, deployed)
    run = sw.swap((1,), KINDS["root volume"])
    assert run.failure is None
    assert_whole(sw)
    assert (run.graceful_moves, run.ungraceful_failovers, run.most_down_at_once) == (0, 0, 1)


def test_a_swap_of_the_member_that_holds_the_role_hands_it_over_once(world: World, deployed: Deployed) -> None:
    sw = SwapWorld(world, deployed)
    run = sw.swap((0,), KINDS["image"])
    assert run.failure is None
    assert_whole(sw)
    assert (run.graceful_moves, run.ungraceful_failovers) == (1, 0)
    assert world.stub.clusters[FQDN]["configured"] == deployed.uids[1], "the member that holds the role is configured"


@pytest.mark.parametrize("fail_at", [0, 1])
def test_a_swap_that_fails_part_way_rolls_back_to_the_old_members(
    world: World, deployed: Deployed, fail_at: int
) -> None:
    sw = SwapWorld(world, deployed)
    old = list(sw.gateways)
    run = sw.swap((0, 1), KINDS["image refresh"], fail_at=fail_at)
    assert run.failure is not None and "did not come online" in run.failure
    assert sw.gateways == old
    assert_whole(sw)
    assert run.ungraceful_failovers == 0 and run.handler_route_writes == 0
    assert run.most_down_at_once == 1
    assert sorted(world.stub.nodes) == sorted(g.uid for g in old), "nothing of the failed swap is left in Trustgrid"
