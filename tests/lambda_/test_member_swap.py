"""Member swaps, one position at a time, run end to end against the handler, the stand-in and moto
(tests/lambda_/swapping.py): for each change kind, one position or both, and failures part-way."""

from __future__ import annotations

import botocore.exceptions
import pytest

from tests.lambda_.conftest import Deployed, World
from tests.lambda_.swapping import FQDN, KINDS, SwapWorld
from trustgrid_ha_runtime.contract import GATE_TYPE, SEAT_TYPE
from trustgrid_ha_runtime.handler import handle_event, handle_is_complete


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


@pytest.mark.parametrize("order", ["dependency", "reverse"])
@pytest.mark.parametrize("fail_at", [0, 1, "crash0", "crash1", "after"])
def test_a_swap_that_fails_part_way_rolls_back_to_the_old_members_in_either_order(
    world: World, deployed: Deployed, fail_at: int | str, order: str
) -> None:
    """Whether the new primary never comes up, the new secondary never comes up (the new primary then holds the
    role and the old secondary is cut off), or something fails after both swapped: whichever order CloudFormation
    rolls the positions back in, the old pair comes back whole, with at most one member out at any time and no
    ungraceful failover, and nothing of the failed swap is left in Trustgrid."""
    sw = SwapWorld(world, deployed)
    old = list(sw.gateways)
    run = sw.swap((0, 1), KINDS["image refresh"], fail_at=fail_at, rollback_order=order)
    assert run.failure is not None
    assert fail_at == "after" or "did not come online" in run.failure or "did not verify" in run.failure
    assert sw.gateways == old
    assert_whole(sw)
    assert run.ungraceful_failovers == 0 and run.handler_route_writes == 0
    assert run.most_down_at_once == 1
    assert sorted(world.stub.nodes) == sorted(g.uid for g in old), "nothing of the failed swap is left in Trustgrid"


def test_the_gate_passes_a_swap_of_either_position_that_restarts_nothing(world: World, deployed: Deployed) -> None:
    """Swapping the secondary alone changes the gate's partner: it must not wait for a healthy cluster, which the
    secondary's own seat is about to make unhealthy (the new secondary's instance waits for the gate)."""
    from tests.lambda_.rolling import gate

    props = gate(world, deployed, "c6i.large")
    swapped = {**props, "PartnerUid": "new-secondary-uid", "PartnerName": "prod-gw-b-0"}
    world.stub.set_online(deployed.uids[1], False)  # the old secondary is cut off already
    event = {"RequestType": "Update", "ResourceType": GATE_TYPE, "ResourceProperties": swapped,
             "OldResourceProperties": props, "PhysicalResourceId": "gate", "StackId": world.stack_id}  # fmt: skip
    response = handle_event(event, world.runtime())
    assert handle_is_complete({**event, **response}, world.runtime())["IsComplete"] is True
    restarted = {**swapped, "Fingerprint": {"InstanceType": "c6i.xlarge"}}
    response = handle_event({**event, "ResourceProperties": restarted}, world.runtime())
    assert "WaitDeadline" in response["Data"], "a restart still waits at the gate"


def test_removing_a_swapping_cluster_keeps_its_node_records_as_the_removal_policy_says(
    world: World, deployed: Deployed
) -> None:
    """A license's delete in an update's cleanup removes the record of a swapped-out node only while its cluster
    still exists: an update that removes the whole cluster deletes the cluster first, and then RETAIN holds."""
    sw = SwapWorld(world, deployed)
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    world.set_stack_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    for gateway in sw.gateways:
        sw.delete_license(gateway)
    assert all(uid in world.stub.nodes for uid in deployed.uids)


def test_a_swap_step_that_cannot_tell_a_rollback_asks_again_and_never_acts_first(
    world: World, deployed: Deployed
) -> None:
    """DescribeStacks does not answer: the seat neither refuses nor moves anything until CloudFormation says which
    operation this is; then a rollback is handled as one."""
    from tests.lambda_.test_cloudformation_operations import Throttled

    sw = SwapWorld(world, deployed)
    old = sw.gateways[0]
    new = sw.new_gateway(0, "prod-gw-a-0")
    world.ec2.associate_address(AllocationId=sw.addresses[0], NetworkInterfaceId=new.wan_eni, AllowReassociation=True)
    rt = world.runtime()
    rt.cloudformation = Throttled(world.cloudformation, 8)  # every try of on_event fails
    event = {"RequestType": "Update", "ResourceType": SEAT_TYPE, "ResourceProperties": sw.seat(old, 0),
             "OldResourceProperties": sw.seat(new, 0), "PhysicalResourceId": "s",
             "StackId": world.stack_id}  # fmt: skip
    event.update(handle_event(event, rt))
    assert event["Data"]["Decide"] == "true"
    rt.cloudformation = Throttled(world.cloudformation, 2)  # the waiter's own look, and the decision's
    start = len(world.stub.requests)
    assert handle_is_complete(event, rt)["IsComplete"] is False
    assert world.stub.requests[start:] == [], "nothing asked or written while undecided"
    address = world.ec2.describe_addresses(AllocationIds=[sw.addresses[0]])["Addresses"][0]
    assert address["NetworkInterfaceId"] == new.wan_eni
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
    for _ in range(5):
        if handle_is_complete(event, rt)["IsComplete"]:
            break
        world.between_polls()
    address = world.ec2.describe_addresses(AllocationIds=[sw.addresses[0]])["Addresses"][0]
    assert address["NetworkInterfaceId"] == old.wan_eni


def test_a_seats_first_create_waits_for_its_fresh_permissions(world: World, deployed: Deployed) -> None:
    """The address policy is created just before the seat: IAM may refuse the first calls for a few seconds."""
    sw = SwapWorld(world, deployed)
    new = sw.new_gateway(0, "prod-gw-a-0")
    rt = world.runtime()

    class NotYet:
        def __init__(self, real: object) -> None:
            self.real, self.refusals = real, 2

        def __getattr__(self, name: str) -> object:
            call = getattr(self.real, name)
            if name != "associate_address":
                return call

            def refused(**kwargs: object) -> object:
                if self.refusals:
                    self.refusals -= 1
                    error = {"Error": {"Code": "UnauthorizedOperation", "Message": "not authorized"}}
                    raise botocore.exceptions.ClientError(error, "AssociateAddress")  # type: ignore[arg-type]
                return call(**kwargs)

            return refused

    rt.ec2 = NotYet(world.ec2)
    event = {"RequestType": "Create", "ResourceType": SEAT_TYPE, "ResourceProperties": sw.seat(new, 0),
             "StackId": world.stack_id, "LogicalResourceId": "PrimarySeat"}  # fmt: skip
    handle_event(event, rt)
    address = world.ec2.describe_addresses(AllocationIds=[sw.addresses[0]])["Addresses"][0]
    assert address["NetworkInterfaceId"] == new.wan_eni and len(world.sleeps) == 2


def seat_request(world: World, request: str, props: dict, old: dict | None = None) -> dict:
    event = {"RequestType": request, "ResourceType": SEAT_TYPE, "ResourceProperties": props, "StackId": world.stack_id,
             "LogicalResourceId": "PrimarySeat", "PhysicalResourceId": "seat"}  # fmt: skip
    if old is not None:
        event["OldResourceProperties"] = old
    event.update(handle_event(event, world.runtime()))
    return event


def test_a_seats_delete_takes_its_address_off_its_own_interface_only(world: World, deployed: Deployed) -> None:
    sw = SwapWorld(world, deployed)
    old, new = sw.gateways[0], sw.new_gateway(0, "prod-gw-a-0")
    seat_request(world, "Delete", sw.seat(new, 0))  # a cancelled create's: the address is on the running gateway
    address = world.ec2.describe_addresses(AllocationIds=[sw.addresses[0]])["Addresses"][0]
    assert address["NetworkInterfaceId"] == old.wan_eni, "a running gateway keeps its address"
    seat_request(world, "Delete", sw.seat(old, 0))
    seat_request(world, "Delete", sw.seat(old, 0))  # delivered twice
    assert not world.ec2.describe_addresses(AllocationIds=[sw.addresses[0]])["Addresses"][0].get("NetworkInterfaceId")


def test_a_swap_of_a_degraded_pair_is_refused_before_anything_moves(world: World, deployed: Deployed) -> None:
    from trustgrid_ha_runtime.handover import DegradedPair

    sw = SwapWorld(world, deployed)
    old, new = sw.gateways[1], sw.new_gateway(1, "prod-gw-b-0")
    world.stub.set_online(deployed.uids[0], False)  # the primary is down: swapping the secondary would leave none
    with pytest.raises(DegradedPair, match="prod-gw-a"):
        seat_request(world, "Update", sw.seat(new, 1), old=sw.seat(old, 1))
    address = world.ec2.describe_addresses(AllocationIds=[sw.addresses[1]])["Addresses"][0]
    assert address["NetworkInterfaceId"] == old.wan_eni


def test_a_hand_over_that_never_happens_fails_the_swap_with_nothing_moved(world: World, deployed: Deployed) -> None:
    from trustgrid_ha_runtime.swap import SwapTimeout

    sw = SwapWorld(world, deployed)
    old, new = sw.gateways[0], sw.new_gateway(0, "prod-gw-a-0")
    event = seat_request(world, "Update", sw.seat(new, 0), old=sw.seat(old, 0))
    world.stub.role_lag = 10_000  # the role never moves
    with pytest.raises(SwapTimeout, match="nothing of the pair changed"):
        for _ in range(40):
            if handle_is_complete(event, world.runtime())["IsComplete"]:
                break
            world.between_polls()
    address = world.ec2.describe_addresses(AllocationIds=[sw.addresses[0]])["Addresses"][0]
    assert address["NetworkInterfaceId"] == old.wan_eni


def test_a_repeated_swap_request_after_the_address_moved_is_not_refused(world: World, deployed: Deployed) -> None:
    """The old member is cut off once the address moved: a duplicate delivery must not read that as a degraded pair."""
    sw = SwapWorld(world, deployed)
    old, new = sw.gateways[1], sw.new_gateway(1, "prod-gw-b-0")
    world.ec2.associate_address(AllocationId=sw.addresses[1], NetworkInterfaceId=new.wan_eni, AllowReassociation=True)
    world.between_polls()  # the old secondary goes offline
    event = seat_request(world, "Update", sw.seat(new, 1), old=sw.seat(old, 1))
    assert handle_is_complete(event, world.runtime())["IsComplete"] is True
