"""A rolling change as CloudFormation applies it to the template: stop and start the primary (an
"interrupting" property changed), update the gate and poll it as the Provider framework does, then stop and
start the secondary. Used by the tests and by `make bench`."""

from __future__ import annotations

from dataclasses import dataclass

from tests.lambda_.conftest import Deployed, World
from trustgrid_ha_runtime.contract import GATE_TYPE, GateProperties
from trustgrid_ha_runtime.handler import handle_event, handle_is_complete

FQDN = "prod-gw.acme.trustgrid.io"


@dataclass
class Rollout:
    most_down_at_once: int
    polls: int
    gate_polls: int


def stop_and_start(world: World, uid: str, polls: int) -> int:
    """EC2 stops and starts the instance: CloudFormation's update is done once EC2 reports it running (one poll
    interval here), while the node reconnects to Trustgrid only ``polls`` intervals after it went down."""
    world.stub.set_online(uid, False)
    world.stub.restarts[uid] = polls
    world.between_polls()
    return 1


def rolling_instance_type_change(world: World, deployed: Deployed, restart_polls: int = 3) -> Rollout:
    primary, secondary = deployed.uids
    world.stub.most_members_down[FQDN] = 0
    polls = stop_and_start(world, primary, restart_polls)  # CloudFormation's update of the primary instance
    instance = world.instances[deployed.members[0]["LanEniId"]]
    old = GateProperties("prod-gw", primary, "prod-gw-a", instance, {"InstanceType": "c6i.large"}, 600)
    new = GateProperties("prod-gw", primary, "prod-gw-a", instance, {"InstanceType": "c6i.xlarge"}, 600)
    rt = world.runtime()
    event = {
        "RequestType": "Update",
        "ResourceType": GATE_TYPE,
        "ResourceProperties": new.to_properties(),
        "OldResourceProperties": old.to_properties(),
        "PhysicalResourceId": "gate",
        "StackId": world.stack_id,
    }
    event.update(handle_event(event, rt))
    gate_polls = 0
    while True:  # the Provider framework's waiter
        gate_polls += 1
        if handle_is_complete(event, rt)["IsComplete"]:
            break
        world.between_polls()
    polls += gate_polls + stop_and_start(world, secondary, restart_polls)  # then, only then, the secondary
    while not world.stub.nodes[secondary]["online"]:  # the pair is whole again
        world.between_polls()
        polls += 1
    return Rollout(world.stub.most_members_down.get(FQDN, 0), polls, gate_polls)
