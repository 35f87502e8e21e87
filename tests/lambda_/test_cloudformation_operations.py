"""What CloudFormation and the Provider framework really send beyond the happy path
(``shared/cloudformation-facts.md``), against the real handler, the Trustgrid stand-in and moto: rollback Updates
to every updated resource including the failed one, a cancelled Create's Delete with a made-up id, duplicate and
concurrent delivery, a waiter that outlives its operation, a throttled DescribeStacks, a delete that retains a
resource. After each sequence the invariants hold: never both gateways down, no write to a cluster this stack
does not own, nothing left in Trustgrid after a rollback, nothing that only a person can free, protection as the
template says."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.lambda_.conftest import Deployed, World, mint_and_register
from tests.lambda_.test_lifecycle import FQDN, foreign, gate, guard, protected, request
from trustgrid_ha_runtime.cluster import OWNER_TAG, ForeignCluster
from trustgrid_ha_runtime.contract import (
    CLUSTER_TYPE,
    GATE_TYPE,
    GUARD_TYPE,
    LICENSE_TYPE,
    PROTECTION_TYPE,
    LicenseProperties,
    ProtectionProperties,
)
from trustgrid_ha_runtime.handler import StackStatusUnknown, handle_event, handle_is_complete
from trustgrid_ha_runtime.lifecycle import ChangeRefused, Superseded

#: What CloudFormation makes up as the physical id of a Create it cancelled (it never heard one from the handler).
MADE_UP_ID = "gateways-GatewaysCluster-1A2B3C4D5E6F"


class Throttled:
    """CloudFormation's API under load: DescribeStacks fails ``times`` times, then answers."""

    def __init__(self, real: Any, times: int) -> None:
        self.real, self.left, self.calls = real, times, 0

    def describe_stacks(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise RuntimeError("ThrottlingException: Rate exceeded")
        return self.real.describe_stacks(**kwargs)


def cluster_event(world: World, request_type: str, props: dict, **extra: Any) -> dict:
    return {"RequestType": request_type, "ResourceType": CLUSTER_TYPE, "ResourceProperties": props,
            "StackId": world.stack_id, "LogicalResourceId": "GatewaysCluster", **extra}  # fmt: skip


def writes_to(world: World, start: int, fqdn: str = FQDN) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in world.stub.requests[start:] if r.write and fqdn in r.path]


# -- rollback Updates, the failed resource included ---------------------------------------------------------------


def live_type(world: World, index: int) -> str:
    instance = world.instances[world.enis[world.subnets[index]]]
    reservation = world.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]
    return str(reservation["Instances"][0]["InstanceType"])


def rollback_of_a_timed_out_gate(world: World, deployed: Deployed, target: str) -> tuple[dict, Any]:
    world.stub.set_online(deployed.uids[0], False)  # the primary never comes back from its new instance type
    rt = world.runtime()
    new, old = gate(world, deployed, "c6i.xlarge"), gate(world, deployed, target)
    for props in (new, old):
        props["PartnerLanEniId"] = world.enis[world.subnets[1]]
    world.set_stack_status("UPDATE_IN_PROGRESS")
    forward = request(world, GATE_TYPE, "Update", new, old=old, PhysicalResourceId="gate-1")
    forward.update(handle_event(forward, rt))
    world.clock.t += 601
    with pytest.raises(TimeoutError):
        handle_is_complete(forward, rt)
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")  # the same resource gets an Update back, swapped
    back = request(world, GATE_TYPE, "Update", old, old=new, PhysicalResourceId="gate-1")
    back.update(handle_event(back, rt))
    return back, rt


def test_the_gate_that_timed_out_lets_its_own_rollback_through_at_once(world: World, deployed: Deployed) -> None:
    """The failed update never reached the secondary: its live type is the one rolled back to, so the rollback will
    not restart it, and nothing needs the first gateway back."""
    back, rt = rollback_of_a_timed_out_gate(world, deployed, target=live_type(world, 1))
    assert handle_is_complete(back, rt) == {"IsComplete": True}, "no second wait: UPDATE_ROLLBACK_COMPLETE"


def test_a_rollback_that_restarts_the_secondary_too_waits_for_the_primary_but_never_fails(
    world: World, deployed: Deployed
) -> None:
    back, rt = rollback_of_a_timed_out_gate(world, deployed, target="c6i.large")  # the secondary runs another type
    assert handle_is_complete(back, rt) == {"IsComplete": False}, "the secondary waits for the primary"
    world.clock.t += 601
    assert handle_is_complete(back, rt) == {"IsComplete": True}, "and the rollback goes on, never failing"


@pytest.mark.parametrize("throttled", [0, 3, 7])
def test_the_guard_never_refuses_its_own_rollback_even_when_describe_stacks_is_throttled(
    world: World, throttled: int
) -> None:
    rt = world.runtime()
    rt.cloudformation = Throttled(world.cloudformation, throttled)
    world.set_stack_status("UPDATE_IN_PROGRESS")
    forward = request(world, GUARD_TYPE, "Update", guard(generation="gen3"), old=guard(), PhysicalResourceId="g-1")
    with pytest.raises(ChangeRefused):
        handle_event(forward, rt)
    rt.cloudformation = Throttled(world.cloudformation, throttled)
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
    back = request(world, GUARD_TYPE, "Update", guard(), old=guard(generation="gen3"), PhysicalResourceId="g-1")
    assert handle_event(back, rt) == {"PhysicalResourceId": "g-1"}
    assert rt.cloudformation.calls == throttled + 1
    assert len(world.sleeps) == 2 * throttled, "backed off between the tries"


def test_a_guard_that_cannot_read_the_stack_asks_again_while_it_waits_and_never_refuses_a_rollback(
    world: World,
) -> None:
    rt = world.runtime()
    throttled = Throttled(world.cloudformation, 8 + 2 * 3)  # on_event: eight tries; three polls: two calls each
    rt.cloudformation = throttled
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
    event = request(world, GUARD_TYPE, "Update", guard(), old=guard(generation="gen3"), PhysicalResourceId="g-1")
    event.update(handle_event(event, rt))
    assert event["Data"]["Decide"] == "true", "not decided on an error"
    for _ in range(3):
        assert handle_is_complete(event, rt) == {"IsComplete": False}
    assert handle_is_complete(event, rt) == {"IsComplete": True}, "a rollback, once CloudFormation answers"
    rt.cloudformation = Throttled(world.cloudformation, 100)
    world.set_stack_status("UPDATE_IN_PROGRESS")
    forward = request(world, GUARD_TYPE, "Update", guard(generation="gen3"), old=guard(), PhysicalResourceId="g-1")
    forward.update(handle_event(forward, rt))
    world.clock.t += 901
    with pytest.raises(StackStatusUnknown, match="cannot tell a rollback from a new change"):
        handle_is_complete(forward, rt)  # after 15 minutes without an answer: an error, not a refusal
    same = request(world, GUARD_TYPE, "Update", guard(), old=guard(), PhysicalResourceId="g-1")
    assert handle_event(same, rt) == {"PhysicalResourceId": "g-1"}, "a harmless change never asks"


# -- a cancelled Create, and a redeploy -------------------------------------------------------------------------------


def test_a_cancelled_create_leaves_no_cluster_and_no_license_and_a_redeploy_converges(world: World) -> None:
    world.set_stack_status("CREATE_IN_PROGRESS")
    members = mint_and_register(world)
    props = world.cluster_props(members)
    rt = world.runtime()
    event = cluster_event(world, "Create", props)
    event.update(handle_event(event, rt))
    handle_is_complete(event, rt)  # the first poll made the cluster ...
    assert FQDN in world.stub.clusters
    world.set_stack_status("ROLLBACK_IN_PROGRESS")  # ... then a sibling failed: CloudFormation cancels this Create
    start = len(world.stub.requests)
    with pytest.raises(Superseded):
        handle_is_complete(event, rt)  # the waiter's next poll stops without writing
    assert writes_to(world, start) == []
    world.cluster("Delete", props, physical=MADE_UP_ID)  # the Delete carries an id CloudFormation made up
    assert FQDN not in world.stub.clusters, "the cluster the cancelled Create made is gone"
    for index, member in enumerate(members):  # and so are the licenses the rollback deletes
        world.license("Delete", member["Name"], index, physical=f"gateways-License{index}-ZZZ")
    assert not any(world.stub.knows(m["Uid"]) for m in members), "the names are free again"

    world.set_stack_status("CREATE_IN_PROGRESS")  # the redeploy
    again = mint_and_register(world)
    world.cluster("Create", world.cluster_props(again))
    assert world.stub.snapshot()["clusters"][FQDN]["health"] == "healthy"


def test_the_delete_of_a_cancelled_create_that_made_nothing_touches_nothing(world: World) -> None:
    members = mint_and_register(world)
    foreign(world, tags={OWNER_TAG: "another-stack"})  # a cluster of that name, someone else's
    start = len(world.stub.requests)
    world.cluster("Delete", world.cluster_props(members), physical=MADE_UP_ID)
    assert writes_to(world, start) == [] and FQDN in world.stub.clusters


# -- duplicate and concurrent delivery --------------------------------------------------------------------------------


def test_a_create_delivered_twice_at_once_converges_to_one_cluster(world: World) -> None:
    members = mint_and_register(world)
    props = world.cluster_props(members)
    rt = world.runtime()
    first, second = (cluster_event(world, "Create", props) for _ in range(2))
    first.update(handle_event(first, rt))
    second.update(handle_event(second, rt))
    done = [False, False]
    for _ in range(10):  # the two waiters poll in turn
        for index, event in enumerate((first, second)):
            if not done[index]:
                done[index] = handle_is_complete(event, rt)["IsComplete"]
        if all(done):
            break
        world.between_polls()
    assert all(done)
    assert list(world.stub.clusters) == [FQDN] and world.stub.snapshot()["clusters"][FQDN]["health"] == "healthy"
    assert sum(1 for r in world.stub.requests if r.method == "POST" and r.path == "/cluster") == 1


def test_a_license_create_delivered_twice_sequentially_or_concurrently_makes_one_license(world: World) -> None:
    first = world.license("Create", "prod-gw-a", 0)
    assert world.license("Create", "prod-gw-a", 0) == first, "sequential: adopted from the secret"

    stored = threading.Event()
    secrets = world.secrets

    class SlowStore:  # the first delivery minted; its put reaches Secrets Manager only after the second minted
        def get_secret_value(self, **kwargs: Any) -> Any:
            return secrets.get_secret_value(**kwargs)

        def put_secret_value(self, **kwargs: Any) -> Any:
            stored.wait(5)
            return secrets.put_secret_value(**kwargs)

    results: list[Any] = []
    rt_first = world.runtime()
    rt_first.secrets = SlowStore()
    props = LicenseProperties("prod-gw-b", world.license_secrets[1]).to_properties()
    event = {"RequestType": "Create", "ResourceType": LICENSE_TYPE, "StackId": world.stack_id,
             "ResourceProperties": props}  # fmt: skip
    thread = threading.Thread(target=lambda: results.append(handle_event(event, rt_first)))
    thread.start()
    while not world.stub.reservations or "prod-gw-b" not in world.stub.reservations.values():
        time.sleep(0.01)
    rt_second = world.runtime()
    rt_second.sleep = lambda seconds: (stored.set(), thread.join(5))  # type: ignore[assignment,func-returns-value]
    second = handle_event(event, rt_second)  # its mint answers 422; it waits for the secret, then adopts
    thread.join(5)
    assert results == [second], "both deliveries answer the same node"
    assert list(world.stub.reservations.values()).count("prod-gw-b") == 1


# -- protection as the template says ----------------------------------------------------------------------------------


def instance_ids(world: World) -> list[str]:
    return list(world.instances.values())


def protection(world: World, request_type: str, ids: list[str], enabled: bool = True) -> dict:
    props = ProtectionProperties(tuple(ids), enabled).to_properties()
    return handle_event(request(world, PROTECTION_TYPE, request_type, props, PhysicalResourceId="p-1"), world.runtime())


def test_protection_that_fails_half_way_releases_what_it_protected_so_the_rollback_completes(world: World) -> None:
    good = instance_ids(world)[0]
    with pytest.raises(Exception, match="InvalidInstanceID"):
        protection(world, "Create", [good, "i-0000000000000dead"])
    assert not protected(world, good)
    world.set_stack_status("ROLLBACK_IN_PROGRESS")
    protection(world, "Delete", [good, "i-0000000000000dead"])  # the rollback's Delete, if it reaches us


def test_a_failed_upgrades_rollback_cleanup_keeps_the_instances_protected(world: World) -> None:
    ids = instance_ids(world)
    protection(world, "Create", ids)  # the new version's resource protected them; then the update failed
    world.set_stack_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    protection(world, "Delete", ids)
    assert all(protected(world, i) for i in ids), "the rolled-back template protects them in the instance"
    world.set_stack_status("ROLLBACK_IN_PROGRESS")  # a failed first create: the instances go, so does protection
    protection(world, "Delete", ids)
    assert not any(protected(world, i) for i in ids)


def test_a_delete_that_retains_the_protection_leaves_the_running_pair_whole(world: World, deployed: Deployed) -> None:
    ids = instance_ids(world)
    protection(world, "Create", ids)
    world.set_stack_status("DELETE_IN_PROGRESS")
    with pytest.raises(ChangeRefused):
        protection(world, "Delete", ids)
    # the console's "retain" option: everything else is deleted, the cluster resource first
    start = len(world.stub.requests)
    with pytest.raises(ChangeRefused, match="still run with termination protection on"):
        world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert writes_to(world, start) == [] and world.stub.snapshot()["clusters"][FQDN]["health"] == "healthy"
    protection(world, "Update", ids, enabled=False)  # what the message says: turn it off, deploy, delete
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert FQDN not in world.stub.clusters


# -- ownership --------------------------------------------------------------------------------------------------------


def test_a_refused_create_is_followed_by_a_rollback_delete_that_leaves_the_portals_cluster_alone(world: World) -> None:
    members = mint_and_register(world)
    outsider = world.stub.add_node("portal-node")
    foreign(world)  # made in the portal: no tag ...
    world.stub.nodes[outsider]["cluster"] = FQDN  # ... with a member that is not ours, and no network config
    start = len(world.stub.requests)
    with pytest.raises(ForeignCluster):
        world.cluster("Create", world.cluster_props(members))
    world.set_stack_status("ROLLBACK_IN_PROGRESS")
    world.cluster("Delete", world.cluster_props(members), physical=FQDN)  # the Delete that follows the failure
    assert writes_to(world, start) == [], "never adopted, never changed, never deleted"
    assert world.stub.nodes[outsider]["cluster"] == FQDN


def test_of_two_stacks_racing_for_one_name_exactly_one_wins_and_the_other_writes_nothing(world: World) -> None:
    members = mint_and_register(world)
    props = world.cluster_props(members)
    rt = world.runtime()
    winner = cluster_event(world, "Create", props, LogicalResourceId="OtherStacksCluster")
    winner.update(handle_event(winner, rt))
    loser = cluster_event(world, "Create", props)
    loser.update(handle_event(loser, rt))
    # the loser's POST comes right after the winner's, before the winner tagged: it sees an untagged empty cluster
    world.stub.clusters[FQDN] = {"name": "prod-gw", "fqdn": FQDN, "mode": "autoFailback", "config": {},
                                 "active": None, "configured": None, "tags": {}}  # fmt: skip
    winner_tags = lambda _s: world.stub.clusters[FQDN]["tags"].update({OWNER_TAG: "the-winner"})  # noqa: E731
    rt.sleep = winner_tags  # type: ignore[assignment]  # while the loser lets the claim settle, the winner tags
    start = len(world.stub.requests)
    with pytest.raises(ForeignCluster, match="another owner"):
        handle_is_complete(loser, rt)
    assert writes_to(world, start) == [], "refused before writing"


# -- renames and route conflicts ---------------------------------------------------------------------------------------


def guard_with_routes(world: World, **changes: Any) -> dict:
    props = guard(**changes)
    props.update(EdgeCidrs=["172.16.0.0/16"], RouteTableIds=list(world.route_tables))
    return props


def test_a_create_whose_edge_cidr_is_routed_elsewhere_is_refused_in_seconds_naming_table_cidr_and_target(
    world: World, deployed: Deployed
) -> None:
    """A rename in cdk.json: a new cluster (new logical IDs) on the route tables and edge CIDRs of the old one,
    whose active member owns the routes. Its guard is created first; every instance depends on it."""
    old_eni = deployed.members[0]["LanEniId"]
    world.set_stack_status("UPDATE_IN_PROGRESS")
    renamed = guard_with_routes(world, cluster_name="prod-gw2", node_name="prod-gw2-a")  # the default names follow
    event = request(world, GUARD_TYPE, "Create", renamed)
    start = len(world.stub.requests)
    with pytest.raises(ChangeRefused) as refused:
        handle_event(event, world.runtime())
    message = str(refused.value)
    for table in world.route_tables:
        assert f"route table {table} already sends 172.16.0.0/16 (edge CIDR 172.16.0.0/16) to {old_eni}" in message
    assert "no instance was launched" in message and "keep the old name" in message
    assert world.stub.requests[start:] == [], "not a single Trustgrid call"


def test_routes_to_this_clusters_own_gateways_and_wider_routes_are_no_conflict(
    world: World, deployed: Deployed
) -> None:
    for member in deployed.members:  # the construct's descriptions of its LAN interfaces
        world.ec2.modify_network_interface_attribute(
            NetworkInterfaceId=member["LanEniId"], Description={"Value": f"Trustgrid {member['Name']} LAN"}
        )
    for table in world.route_tables:  # a default route and a wider private route lose to the edge CIDR's own
        world.ec2.create_route(RouteTableId=table, DestinationCidrBlock="172.16.0.0/12", GatewayId=igw(world))
    old = guard(**{})
    event = request(world, GUARD_TYPE, "Update", guard_with_routes(world), old=old, PhysicalResourceId="g-1")
    assert handle_event(event, world.runtime()) == {"PhysicalResourceId": "g-1"}


def test_a_more_specific_route_inside_an_edge_cidr_is_a_conflict(world: World) -> None:
    table = world.route_tables[0]
    world.ec2.create_route(RouteTableId=table, DestinationCidrBlock="172.16.5.0/24", GatewayId=igw(world))
    with pytest.raises(ChangeRefused, match=f"route table {table} already sends 172.16.5.0/24"):
        handle_event(request(world, GUARD_TYPE, "Create", guard_with_routes(world)), world.runtime())


def igw(world: World) -> str:
    gateway = world.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    world.ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=world.vpc_id)
    return str(gateway)


def test_a_deleted_cluster_leaves_no_blackhole_route_and_the_next_cluster_for_those_cidrs_converges(
    world: World, deployed: Deployed
) -> None:
    routes = lambda: [  # noqa: E731
        r for t in world.ec2.describe_route_tables(RouteTableIds=world.route_tables)["RouteTables"]
        for r in t["Routes"] if r.get("DestinationCidrBlock") == "172.16.0.0/16"
    ]  # fmt: skip
    assert len(routes()) == 2
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert routes() == [], "the routes to its own gateways went with it"
    assert handle_event(request(world, GUARD_TYPE, "Create", guard_with_routes(world)), world.runtime())


def test_a_verified_cluster_publishes_its_first_data_points(world: World) -> None:
    import boto3

    from tests.lambda_.conftest import REGION

    members = mint_and_register(world)
    name = f"first-{world.vpc_id}"
    world.cluster("Create", world.cluster_props(members, MetricsName=name))
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    found = cloudwatch.list_metrics(Namespace="Trustgrid/HA", Dimensions=[{"Name": "ClusterName", "Value": name}])
    assert sorted(m["MetricName"] for m in found["Metrics"]) == sorted(
        ["ClusterHealthy", "RoutesOnActiveMember", "MembersOnline", "GatewayServiceEnabled"]
    )


def test_every_lifecycle_request_delivered_twice_answers_the_same_and_changes_nothing_more(
    world: World, deployed: Deployed
) -> None:
    """At-least-once delivery: the second delivery of each request converges to the first one's answer."""
    ids = instance_ids(world)
    rt = world.runtime()
    requests = [
        request(world, GUARD_TYPE, "Create", guard_with_routes(world, cluster_name="other", node_name="other-a")),
        request(world, GATE_TYPE, "Update", gate(world, deployed, "c6i.xlarge"), old=gate(world, deployed, "c6i.large"),
                PhysicalResourceId="gate-1"),
        request(world, PROTECTION_TYPE, "Create", ProtectionProperties(tuple(ids), True).to_properties()),
    ]  # fmt: skip
    guard_create, *others = requests
    for _ in range(2):  # another cluster's routes are there: refused both times, the same way
        with pytest.raises(ChangeRefused, match=r"already sends 172\.16\.0\.0/16"):
            handle_event(dict(guard_create), rt)
    for event in others:
        first, second = handle_event(dict(event), rt), handle_event(dict(event), rt)
        assert {k: v for k, v in first.items() if k != "Data"} == {k: v for k, v in second.items() if k != "Data"}
    assert all(protected(world, i) for i in ids)
    start = len(world.stub.requests)
    for _ in range(2):  # the stack delete's cluster Delete, twice (protection released first)
        protection(world, "Update", ids, enabled=False)
        world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert FQDN not in world.stub.clusters
    assert sum(1 for r in world.stub.requests[start:] if r.method == "DELETE" and "/cluster/" in r.path) == 1


def test_a_late_duplicate_create_that_fails_leaves_the_running_cluster_alone(world: World, deployed: Deployed) -> None:
    """The Create was delivered twice; the second one's waiter fails (a member went down meanwhile). Its failure
    is ignored by CloudFormation, which completed the resource long ago: it must not undo anything."""
    world.stub.set_online(deployed.uids[1], False)
    with pytest.raises(Exception, match="did not come online"):
        world.cluster("Create", {**deployed.props, "WaitTimeoutSeconds": "60"}, max_polls=4)
    assert FQDN in world.stub.clusters and all(world.stub.nodes[u].get("cluster") == FQDN for u in deployed.uids)


def test_the_rollback_of_a_failed_gateway_service_change_completes_on_a_degraded_pair(
    world: World, deployed: Deployed
) -> None:
    world.stub.restart_polls = 50  # a gateway service that restarts and does not come back
    new = {**deployed.props, "TunnelPort": "9443", "WaitTimeoutSeconds": "120"}
    world.set_stack_status("UPDATE_IN_PROGRESS")
    with pytest.raises(Exception, match="deadline"):
        world.cluster("Update", new, old=deployed.props, physical=deployed.fqdn)
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")  # the Update back, to the resource that failed
    world.cluster("Update", deployed.props, old=new, physical=deployed.fqdn, max_polls=30)
    assert world.stub.most_members_down[FQDN] == 1, "never both"


def test_a_cluster_made_by_version_0_1_0_is_claimed_on_its_first_update_and_deleted_with_the_stack(
    world: World, deployed: Deployed
) -> None:
    world.stub.clusters[FQDN]["tags"] = {}  # 0.1.0 wrote no owner tag
    legacy = {k: v for k, v in deployed.props.items() if k not in ("ContractVersion", "TunnelPort", "TunnelUdp")}
    world.cluster("Update", deployed.props, old=legacy, physical=deployed.fqdn)
    assert world.stub.clusters[FQDN]["tags"] == {OWNER_TAG: world.owner}
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert FQDN not in world.stub.clusters


def test_a_license_delete_of_a_cancelled_create_that_stored_nothing_calls_nothing(world: World) -> None:
    world.set_stack_status("ROLLBACK_IN_PROGRESS")
    start = len(world.stub.requests)
    world.license("Delete", "prod-gw-a", 0, physical="gateways-License0-QQQ")
    assert world.stub.requests[start:] == []


def test_the_gate_waits_for_ec2_too_trustgrid_can_report_a_restarted_node_online_too_early(
    world: World, deployed: Deployed
) -> None:
    instance = world.instances[world.enis[world.subnets[0]]]
    world.ec2.stop_instances(InstanceIds=[instance])  # EC2 still stopping it; Trustgrid's record lags
    rt = world.runtime()
    new, old = gate(world, deployed, "c6i.xlarge"), gate(world, deployed, "c6i.large")
    event = request(world, GATE_TYPE, "Update", new, old=old, PhysicalResourceId="gate-1")
    event.update(handle_event(event, rt))
    assert handle_is_complete(event, rt) == {"IsComplete": False}
    world.ec2.start_instances(InstanceIds=[instance])
    assert handle_is_complete(event, rt) == {"IsComplete": True}


def test_a_rollback_puts_back_properties_a_newer_rule_would_refuse(world: World, deployed: Deployed) -> None:
    """An earlier version accepted this heartbeat port (now the appliance's SSH port is refused): the rollback
    Update that puts it back parses it leniently, while a new update with it is refused."""
    from trustgrid_ha_runtime.contract import PropertyError

    older = {**deployed.props, "HeartbeatPort": "22"}
    world.set_stack_status("UPDATE_IN_PROGRESS")
    with pytest.raises(PropertyError, match="SSH"):
        handle_event(cluster_event(world, "Update", older, OldResourceProperties=deployed.props,
                                   PhysicalResourceId=deployed.fqdn), world.runtime())  # fmt: skip
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
    event = cluster_event(
        world, "Update", older, OldResourceProperties=deployed.props, PhysicalResourceId=deployed.fqdn
    )
    event.update(handle_event(event, world.runtime()))
    assert event["Data"]["Phase"] == "UPDATE_ROLLBACK_IN_PROGRESS"
