"""The lifecycle resources and the handler's behaviour around CloudFormation: the change guard, the gate between
the gateways, termination protection, stale waiters, foreign clusters and brittle deletes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.lambda_.conftest import Deployed, World, mint_and_register
from tests.lambda_.trustgrid_stub import error
from trustgrid_ha_runtime.api import ApiError
from trustgrid_ha_runtime.cluster import OWNER_TAG, ForeignCluster
from trustgrid_ha_runtime.contract import (
    GATE_TYPE,
    GUARD_TYPE,
    PROTECTION_TYPE,
    GateProperties,
    GuardedGateway,
    GuardProperties,
    ProtectionProperties,
)
from trustgrid_ha_runtime.handler import handle_event, handle_is_complete
from trustgrid_ha_runtime.handover import DegradedPair
from trustgrid_ha_runtime.lifecycle import ChangeRefused, Superseded

FQDN = "prod-gw.acme.trustgrid.io"


def guard(**changes: Any) -> dict[str, Any]:
    primary = {
        "slot": "Primary", "node_name": "prod-gw-a", "generation": "gen2", "image": "resolved:trustgrid-node-2204-*:",
        "root_volume_gib": 30, "wan_subnet_id": "subnet-w1", "lan_subnet_id": "subnet-l1",
    }  # fmt: skip
    secondary = {**primary, "slot": "Secondary", "node_name": "prod-gw-b", "wan_subnet_id": "subnet-w2",
                 "lan_subnet_id": "subnet-l2"}  # fmt: skip
    name = changes.pop("cluster_name", "prod-gw")
    primary.update(changes)
    gateways = (GuardedGateway(**primary), GuardedGateway(**secondary))
    return GuardProperties(name, gateways).to_properties()


def request(world: World, kind: str, kind_request: str, props: dict, old: dict | None = None, **extra: Any) -> dict:
    event = {"RequestType": kind_request, "ResourceType": kind, "ResourceProperties": props,
             "StackId": world.stack_id, "LogicalResourceId": "Gateways" + kind.split("::")[1], **extra}  # fmt: skip
    if old is not None:
        event["OldResourceProperties"] = old
    return event


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"cluster_name": "prod-gw2"}, "renaming the cluster 'prod-gw' to 'prod-gw2'"),
        ({"node_name": "prod-gw-x"}, "renaming the primary gateway 'prod-gw-a' to 'prod-gw-x' needs a new one-time"),
        ({"generation": "gen3"}, "changing its instance generation (gen2 to gen3) replaces the primary gateway"),
        ({"image": "resolved:trustgrid-node-2204-*:2026-12"}, "changing its image replaces"),
        ({"image": "ami-0123456789abcdef0"}, "changing its image replaces"),
        ({"root_volume_gib": 40}, "changing its root volume"),
        ({"wan_subnet_id": "subnet-w9"}, "changing its WAN subnet"),
        ({"lan_subnet_id": "subnet-l9"}, "changing its LAN subnet"),
    ],
)
def test_the_guard_refuses_a_change_that_would_replace_or_rename_before_anything_changes(
    world: World, change: dict, words: str
) -> None:
    event = request(world, GUARD_TYPE, "Update", guard(**change), old=guard(), PhysicalResourceId="guard-1")
    with pytest.raises(ChangeRefused) as failure:
        handle_event(event, world.runtime())
    message = str(failure.value)
    assert message.startswith("Refused before anything changed: ") and words in message
    assert "succeeds: '<this cluster>'" in message and "cutOver: true" in message  # the path that works
    assert len(message) < 4000


def test_the_guard_lets_in_place_changes_and_rollbacks_through(world: World) -> None:
    assert handle_event(request(world, GUARD_TYPE, "Create", guard()), world.runtime())["PhysicalResourceId"]
    same = request(world, GUARD_TYPE, "Update", guard(), old=guard(), PhysicalResourceId="guard-1")
    assert handle_event(same, world.runtime()) == {"PhysicalResourceId": "guard-1"}
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")  # going back to what runs is always allowed
    back = request(world, GUARD_TYPE, "Update", guard(), old=guard(generation="gen3"), PhysicalResourceId="guard-1")
    assert handle_event(back, world.runtime()) == {"PhysicalResourceId": "guard-1"}


def gate(world: World, deployed: Deployed, fingerprint: str) -> dict:
    instance = world.instances[world.enis[world.subnets[0]]]
    return GateProperties(
        "prod-gw", deployed.uids[0], "prod-gw-a", instance, {"InstanceType": fingerprint}, 600
    ).to_properties()


def test_the_gate_waits_until_the_first_gateway_is_back_and_the_cluster_healthy(
    world: World, deployed: Deployed
) -> None:
    rt = world.runtime()
    created = handle_event(request(world, GATE_TYPE, "Create", gate(world, deployed, "c6i.large")), rt)
    assert handle_is_complete(
        request(world, GATE_TYPE, "Create", gate(world, deployed, "c6i.large"), **created), rt
    ) == {"IsComplete": True}  # the pair is up: nothing to wait for
    world.stub.set_online(deployed.uids[0], False)  # CloudFormation stopped the first gateway for its new type
    new, old = gate(world, deployed, "c6i.xlarge"), gate(world, deployed, "c6i.large")
    event = request(world, GATE_TYPE, "Update", new, old=old, PhysicalResourceId=created["PhysicalResourceId"])
    event.update(handle_event(event, rt))
    assert handle_is_complete(event, rt) == {"IsComplete": False}
    world.stub.set_online(deployed.uids[0])
    world.route_agent()
    assert handle_is_complete(event, rt) == {"IsComplete": True}
    checks = [line for line in world.log_lines() if line["event"] == "gate.check"]
    assert [c["state"] for c in checks] == ["online", "registered, offline", "online"]
    assert {c["instance"] for c in checks} == {"ok"}


def test_a_gate_new_to_a_running_pair_waits_too_but_not_for_a_pair_that_is_booting(world: World) -> None:
    """Updating a stack of version 0.1.0 creates the gate in the same update that restarts the primary."""
    members = mint_and_register(world)
    deployed = Deployed([m["Uid"] for m in members], members, {}, FQDN)
    world.cluster("Create", world.cluster_props(members))
    rt = world.runtime()
    world.stub.set_online(deployed.uids[0], False)
    event = request(world, GATE_TYPE, "Create", gate(world, deployed, "c6i.large"))
    event.update(handle_event(event, rt))
    assert handle_is_complete(event, rt) == {"IsComplete": False}
    world.stub.set_online(deployed.uids[0])
    assert handle_is_complete(event, rt) == {"IsComplete": True}
    booting = GateProperties("prod-gw", "not-registered-yet", "prod-gw-a", "i-1", {}, 600).to_properties()
    fresh = request(world, GATE_TYPE, "Create", booting)
    fresh.update(handle_event(fresh, rt))
    assert handle_is_complete(fresh, rt) == {"IsComplete": True}


def test_the_gate_times_out_and_leaves_the_second_gateway_alone(world: World, deployed: Deployed) -> None:
    world.stub.set_online(deployed.uids[0], False)
    rt = world.runtime()
    new, old = gate(world, deployed, "c6i.xlarge"), gate(world, deployed, "c6i.large")
    event = request(world, GATE_TYPE, "Update", new, old=old, PhysicalResourceId="gate-1")
    event.update(handle_event(event, rt))
    world.clock.t += 601
    with pytest.raises(TimeoutError, match="so the other gateway was left untouched"):
        handle_is_complete(event, rt)


@pytest.fixture
def instances(world: World) -> list[str]:
    made = world.ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2)["Instances"]
    return [i["InstanceId"] for i in made]


def protected(world: World, instance_id: str) -> bool:
    answer = world.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
    return bool(answer["DisableApiTermination"]["Value"])


def protection(world: World, kind_request: str, instances: list[str], enabled: bool) -> dict:
    props = ProtectionProperties(tuple(instances), enabled).to_properties()
    return handle_event(request(world, PROTECTION_TYPE, kind_request, props, PhysicalResourceId="p-1"), world.runtime())


def test_protection_is_applied_once_verified_and_refuses_a_stack_delete_before_anything_is_removed(
    world: World, instances: list[str]
) -> None:
    protection(world, "Create", instances, True)
    assert all(protected(world, i) for i in instances)
    world.set_stack_status("DELETE_IN_PROGRESS")
    with pytest.raises(ChangeRefused, match="Set termination_protection=False"):
        protection(world, "Delete", instances, True)
    assert all(protected(world, i) for i in instances), "nothing released"


@pytest.mark.parametrize(("status", "enabled"), [("ROLLBACK_IN_PROGRESS", True), ("DELETE_IN_PROGRESS", False)])
def test_protection_is_released_for_a_rollback_or_when_turned_off(
    world: World, instances: list[str], status: str, enabled: bool
) -> None:
    protection(world, "Create", instances, True)
    world.set_stack_status(status)
    protection(world, "Delete", instances, enabled)
    assert not any(protected(world, i) for i in instances)


def test_releasing_protection_of_an_instance_that_is_gone_succeeds(world: World, instances: list[str]) -> None:
    world.set_stack_status("ROLLBACK_IN_PROGRESS")
    protection(world, "Delete", [*instances, "i-0000000000000dead"], True)


def test_a_stale_waiter_stops_without_writing(world: World, deployed: Deployed) -> None:
    world.set_stack_status("UPDATE_IN_PROGRESS")
    new = {**deployed.props, "EdgeCidrs": ["172.16.0.0/16", "172.30.0.0/16"]}
    rt = world.runtime()
    event = {"RequestType": "Update", "ResourceType": "Custom::TrustgridCluster", "ResourceProperties": new,
             "OldResourceProperties": deployed.props, "PhysicalResourceId": deployed.fqdn,
             "StackId": world.stack_id, "LogicalResourceId": "GatewaysCluster"}  # fmt: skip
    event.update(handle_event(event, rt))
    assert event["Data"]["Phase"] == "UPDATE_IN_PROGRESS"
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")  # CloudFormation gave up on this update
    start = len(world.stub.requests)
    with pytest.raises(Superseded, match="stopped without writing"):
        handle_is_complete(event, rt)
    assert [r for r in world.stub.requests[start:] if r.write] == []


def foreign(world: World, **cluster: Any) -> None:
    world.stub.clusters[FQDN] = {"name": "prod-gw", "fqdn": FQDN, "mode": "autoFailback", "active": None,
                                 "config": {}, "tags": {}, **cluster}  # fmt: skip


@pytest.mark.parametrize(
    "cluster",
    [
        {"tags": {OWNER_TAG: "another-stack"}},
        {"config": {"network": {"interfaces": [{"nic": "ens6", "routes": [], "cloudRoutes": []}]}}},
    ],
)
def test_a_cluster_this_stack_did_not_make_is_never_taken_over(world: World, cluster: dict) -> None:
    members = mint_and_register(world)
    foreign(world, **cluster)
    before = world.stub.snapshot()["clusters"]
    with pytest.raises(ForeignCluster, match="already exists and this stack did not make it"):
        world.cluster("Create", world.cluster_props(members))
    assert world.stub.snapshot()["clusters"] == before, "not written, not deleted by the failed create"
    assert not [r for r in world.stub.writes() if r.path.startswith("/cluster") and r.status == 200]


def test_an_untagged_empty_cluster_left_by_an_interrupted_attempt_is_claimed(world: World) -> None:
    members = mint_and_register(world)
    foreign(world)
    world.cluster("Create", world.cluster_props(members))
    assert world.stub.clusters[FQDN]["tags"] == {OWNER_TAG: world.owner}


def test_deleting_leaves_a_cluster_of_another_owner_alone(world: World, deployed: Deployed) -> None:
    world.stub.clusters[FQDN]["tags"][OWNER_TAG] = "another-stack"
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert FQDN in world.stub.clusters


def test_a_license_delete_that_needs_no_api_call_works_without_the_api_secret(world: World) -> None:
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    world.secrets.delete_secret(SecretId=world.api_secret_arn, ForceDeleteWithoutRecovery=True)
    rt = world.runtime()
    rt.api = lambda: (_ for _ in ()).throw(AssertionError("the API is not needed"))  # type: ignore[assignment]
    props = {"ContractVersion": "2", "NodeName": "prod-gw-a", "Source": "mint",
             "LicenseSecretArn": world.license_secrets[0], "RemoveNodeOnDelete": "false"}  # fmt: skip
    event = {"RequestType": "Delete", "ResourceType": "Custom::TrustgridNodeLicense", "ResourceProperties": props,
             "PhysicalResourceId": uid, "StackId": world.stack_id}  # fmt: skip
    assert handle_event(event, rt) == {"PhysicalResourceId": uid}


@pytest.mark.parametrize("fault", ["revoked key", "trustgrid down"])
def test_a_delete_waits_out_a_revoked_key_or_an_outage_then_fails_clearly(
    world: World, deployed: Deployed, fault: str
) -> None:
    rt = world.runtime(key_secret="revoked") if fault == "revoked key" else world.runtime()
    if fault == "trustgrid down":
        world.stub.inject("get_cluster", *[error(503)] * 200)
    event = {"RequestType": "Delete", "ResourceType": "Custom::TrustgridCluster", "ResourceProperties": deployed.props,
             "PhysicalResourceId": deployed.fqdn, "StackId": world.stack_id}  # fmt: skip
    event.update(handle_event(event, rt))
    assert handle_is_complete(event, rt) == {"IsComplete": False}, "not within seconds: it waits"
    world.clock.t += 901
    with pytest.raises(ApiError) as failure:
        handle_is_complete(event, rt)
    message = str(failure.value)
    assert f"The cluster {deployed.fqdn} could not be deleted before the deadline" in message
    assert "still exists in Trustgrid" in message and "retry" in message
    assert FQDN in world.stub.clusters


@pytest.mark.parametrize("holder", ["primary", "secondary"])
def test_a_rolling_instance_type_change_never_has_both_gateways_down_and_moves_the_role_only_gracefully(
    world: World, deployed: Deployed, holder: str
) -> None:
    from tests.lambda_.rolling import rolling_instance_type_change

    if holder == "secondary":  # a manual-mode failover left the role on the secondary
        world.cluster("Update", {**deployed.props, "FailbackMode": "manualFailback"}, old=deployed.props,
                      physical=deployed.fqdn)  # fmt: skip
        world.stub.fail_over(FQDN)
        world.between_polls()
    rollout = rolling_instance_type_change(world, deployed, restart_polls=3)
    assert rollout.most_down_at_once == 1
    assert rollout.ungraceful_failovers == 0, "every role move was a hand-over"
    # primary holds it: away before the primary stops, back before the secondary stops; secondary holds it: once
    assert rollout.graceful_moves == (2 if holder == "primary" else 1)
    assert rollout.gate_polls >= 3, "the gate held the secondary until the primary was back and healthy"
    state = world.stub.snapshot()["clusters"][FQDN]
    assert state["health"] == "healthy" and state["role"] == deployed.uids[0]


def test_a_planned_instance_change_on_a_degraded_pair_is_refused_before_anything_stops(
    world: World, deployed: Deployed
) -> None:
    from tests.lambda_.rolling import guard as guard_props

    world.stub.set_online(deployed.uids[1], False)
    event = request(world, GUARD_TYPE, "Update", guard_props(world, "c6i.xlarge"), old=guard_props(world, "c6i.large"),
                    PhysicalResourceId="g-1")  # fmt: skip
    with pytest.raises(DegradedPair, match="gateway prod-gw-b is registered, offline"):
        handle_event(event, world.runtime())


def test_a_tunnel_port_change_moves_the_role_once_gracefully(world: World, deployed: Deployed) -> None:
    from tests.lambda_.rolling import rolling_tunnel_port_change

    rollout = rolling_tunnel_port_change(world, deployed)
    assert (rollout.most_down_at_once, rollout.graceful_moves, rollout.ungraceful_failovers) == (1, 1, 0)
