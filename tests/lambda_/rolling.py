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

from tests.lambda_.conftest import Deployed, World, register
from trustgrid_ha_runtime.contract import (
    GATE_TYPE,
    GUARD_TYPE,
    ClusterProperties,
    GateProperties,
    GuardedGateway,
    GuardProperties,
    MemberProperties,
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


# -- the cut-over to a successor cluster ---------------------------------------------------------------------

EDGE = "172.16.0.0/16"
SUCCESSOR = "prod-gw2"


class Watched:
    """EC2 as the handler and the members use it, checking after every route write that every managed table still
    has a route for the edge CIDR (a window would be a gap in traffic)."""

    def __init__(self, ec2: Any, tables: list[str]) -> None:
        self.real, self._tables = ec2, tables
        self.windows: list[str] = []
        self.route_writes: list[str] = []
        self.log: list[tuple[str, Any, Any]] = []

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.real, name)
        if name not in ("create_route", "replace_route", "delete_route"):
            return call

        def watched(**kwargs: Any) -> Any:
            answer = call(**kwargs)
            self.route_writes.append(name)
            self.log.append((name, kwargs.get("RouteTableId"), kwargs.get("NetworkInterfaceId")))
            for table in self._tables:
                routes = self.real.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
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


@dataclass
class CutOverRun:
    """What a cut-over did to the routes: how many tables, how many route writes of each kind, and every moment a
    managed table was without the route."""

    tables: int
    replaced: int
    deleted: int
    windows: list[str]


def successor_cut_over(world: World, deployed: Deployed) -> CutOverRun:
    """Build a successor next to the deployed cluster, verify it, cut over, and let both clusters' members act."""
    members = new_members(world)
    props = successor(world, members, owns_routes=False)
    fqdn = world.cluster("Create", props, logical_id="SuccessorCluster")["PhysicalResourceId"]
    watched = Watched(world.ec2, world.route_tables)
    world.ec2 = watched
    try:
        world.cluster("Update", successor(world, members, owns_routes=True), old=props, physical=fqdn,
                      logical_id="SuccessorCluster")  # fmt: skip
        for _ in range(3):
            world.between_polls()
    finally:
        world.ec2 = watched.real
    return CutOverRun(
        len(world.route_tables),
        watched.route_writes.count("replace_route"),
        watched.route_writes.count("delete_route"),
        watched.windows,
    )
