"""Planned changes as CloudFormation applies them to a running pair, against the handler and the stand-in. Used by
the tests and by `make bench`.

- An instance-type change: the change guard is updated first (the pair must be whole; the role leaves the primary
  if it holds it), then EC2 stops and starts the primary, then the gate waits for it and hands the role back to it
  before the secondary is stopped and started.
- A tunnel-port change: the cluster resource restarts one gateway service at a time, the member that does not hold
  the role first, with a graceful hand-over before the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.lambda_.conftest import Deployed, World
from trustgrid_ha_runtime.contract import (
    GATE_TYPE,
    GUARD_TYPE,
    GateProperties,
    GuardedGateway,
    GuardProperties,
)
from trustgrid_ha_runtime.handler import handle_event, handle_is_complete

FQDN = "prod-gw.acme.trustgrid.io"


@dataclass
class Rollout:
    most_down_at_once: int
    polls: int
    gate_polls: int
    graceful_moves: int
    ungraceful_failovers: int


def stop_and_start(world: World, uid: str, polls: int) -> int:
    """EC2 stops and starts the instance: CloudFormation's update is done once EC2 reports it running (one poll
    interval here), while the node reconnects to Trustgrid only ``polls`` intervals after it went down."""
    world.stub.set_online(uid, False)
    world.stub.restarts[uid] = polls
    world.between_polls()
    return 1


def apply(world: World, kind: str, new: dict[str, Any], old: dict[str, Any], physical: str) -> int:
    """One custom resource Update as the Provider framework runs it: on_event, then the waiter. Its polls."""
    rt = world.runtime()
    event: dict[str, Any] = {"RequestType": "Update", "ResourceType": kind, "ResourceProperties": new,
                             "OldResourceProperties": old, "PhysicalResourceId": physical,
                             "StackId": world.stack_id, "LogicalResourceId": physical}  # fmt: skip
    event.update(handle_event(event, rt))
    polls = 0
    while True:
        polls += 1
        if handle_is_complete(event, rt)["IsComplete"]:
            return polls
        world.between_polls()


def guard(world: World, instance_type: str) -> dict[str, Any]:
    gateways = tuple(
        GuardedGateway(slot, name, "gen2", "resolved:trustgrid-node-2204-*:", 30, f"subnet-w{i}", world.subnets[i])
        for i, (slot, name) in enumerate((("Primary", "prod-gw-a"), ("Secondary", "prod-gw-b")))
    )
    restart = {"InstanceType": instance_type, "UserDataScript": "v1", "EnrollEndpoint": "https://e.example/v2"}
    return GuardProperties("prod-gw", gateways, ("172.16.0.0/16",), tuple(world.route_tables), restart).to_properties()


def gate(world: World, deployed: Deployed, instance_type: str) -> dict[str, Any]:
    primary, secondary = deployed.members
    return GateProperties(
        "prod-gw", primary["Uid"], primary["Name"], world.instances[primary["LanEniId"]],
        {"InstanceType": instance_type}, 600, primary["LanEniId"], secondary["Uid"], secondary["Name"],
        ("172.16.0.0/16",), tuple(world.route_tables),
    ).to_properties()  # fmt: skip


def _begin(world: World) -> None:
    world.stub.most_members_down[FQDN] = 0
    world.stub.role_moves.pop(FQDN, None)


def _rollout(world: World, polls: int, gate_polls: int) -> Rollout:
    moves = world.stub.role_moves.get(FQDN, [])
    return Rollout(
        world.stub.most_members_down.get(FQDN, 0),
        polls,
        gate_polls,
        sum(how == "graceful" for how, _, _ in moves),
        world.stub.ungraceful_failovers(FQDN),
    )


def rolling_instance_type_change(world: World, deployed: Deployed, restart_polls: int = 3) -> Rollout:
    primary, secondary = deployed.uids
    _begin(world)
    polls = apply(world, GUARD_TYPE, guard(world, "c6i.xlarge"), guard(world, "c6i.large"), "ChangeGuard")
    polls += stop_and_start(world, primary, restart_polls)  # CloudFormation's update of the primary instance
    gate_polls = apply(world, GATE_TYPE, gate(world, deployed, "c6i.xlarge"), gate(world, deployed, "c6i.large"),
                       "MemberReady")  # fmt: skip
    polls += gate_polls + stop_and_start(world, secondary, restart_polls)  # then, only then, the secondary
    while not world.stub.nodes[secondary]["online"]:  # the pair is whole again
        world.between_polls()
        polls += 1
    return _rollout(world, polls, gate_polls)


def rolling_tunnel_port_change(world: World, deployed: Deployed) -> Rollout:
    _begin(world)
    new = {**deployed.props, "TunnelPort": "9443"}
    polls = apply(world, "Custom::TrustgridCluster", new, deployed.props, deployed.fqdn)
    return _rollout(world, polls, 0)
