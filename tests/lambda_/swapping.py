"""A member swap as CloudFormation applies it to a running pair (a cluster with ``member_swap``), against the real
handler, the Trustgrid stand-in and moto. Used by the tests and by `make bench`.

The order is the one the change model reads from the synthesized template (tests/constructs/test_member_swap.py):
the change guard; per position, primary first: the new gateway's interfaces and license, its seat (the role leaves
the old member, the position's Elastic IP moves), its instance (the node boots and registers), its member (the new
node takes the old one's place); then the cluster, the protection (released for the old instances) and, in the
cleanup, the old gateways' licenses (their node records), instances and interfaces.

What the stand-in cannot know by itself is modelled here: a gateway without a public address cannot reach the
control plane (its node goes offline), and gets back online a poll after its address returns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tests.lambda_.conftest import Deployed, World, register
from tests.lambda_.rolling import EDGE, Watched, apply
from trustgrid_ha_runtime.contract import (
    GUARD_TYPE,
    LICENSE_TYPE,
    MEMBER_TYPE,
    PROTECTION_TYPE,
    SEAT_TYPE,
    ClusterProperties,
    GuardedGateway,
    GuardProperties,
    LicenseProperties,
    MemberProperties,
    ProtectionProperties,
    SeatProperties,
    SwapProperties,
)
from trustgrid_ha_runtime.handler import handle_event

FQDN = "prod-gw.acme.trustgrid.io"
POSITIONS = ("Primary", "Secondary")
#: What a swap changes, as the guard sees it (the node name carries the revision of it).
KINDS: dict[str, dict[str, Any]] = {
    "image": {"image": "ami-0new"},
    "image refresh": {"image": "resolved:trustgrid-node-2204-*:2027-01"},
    "root volume": {"root_volume_gib": 40},
    "subnet": {"lan_subnet_id": "subnet-moved"},
    "gateway rename": {},
}


@dataclass
class Gateway:
    """One gateway of a position as the test builds it: its interfaces, instance and member properties."""

    member: dict[str, str]
    wan_eni: str
    instance: str
    boots: bool = True

    @property
    def uid(self) -> str:
        return self.member["Uid"]

    @property
    def name(self) -> str:
        return self.member["Name"]


@dataclass
class SwapRun:
    """What a swap did: role moves by kind, the most members down at once, the polls the pair ran on one member,
    every moment a managed table was without the edge route, and what failed (when it did)."""

    graceful_moves: int = 0
    ungraceful_failovers: int = 0
    most_down_at_once: int = 0
    #: poll intervals (30 s each) with fewer than two members online, and in all
    polls_on_one_member: int = 0
    polls: int = 0
    #: route writes the members made themselves (a graceful hand-over: the old active deletes its route, the new one
    #: creates its own), and those the handler made
    member_route_writes: int = 0
    handler_route_writes: int = 0
    failure: str | None = None


class SwapWorld:
    """The running pair with a position address each, and the swap's steps."""

    def __init__(self, world: World, deployed: Deployed) -> None:
        self.world, self.deployed = world, deployed
        self.addresses: list[str] = []
        self.old: list[Gateway] = []
        self.cut_off: set[str] = set()  # nodes offline because their address moved away
        self.run = SwapRun()
        self.new: list[Gateway | None] = [None, None]
        self.watched: Watched | None = None
        self.touched: list[tuple[int, str]] = []  # the swap resources the deploy updated, in order
        self.fail_at: int | str | None = None
        self.down_at_once = 0  # positions without an online member in the cluster, at the worst poll
        self.crash_when_member: set[str] = set()
        self.dead: set[str] = set()
        self.props = deployed.props
        for index, member in enumerate(deployed.members):
            wan = self._wan_interface(index, member["Name"])
            allocation = world.ec2.allocate_address(Domain="vpc")["AllocationId"]
            world.ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=wan)
            self.addresses.append(allocation)
            self.old.append(Gateway(member, wan, world.instances[member["LanEniId"]]))
        self.gateways = list(self.old)
        self._between = world.between_polls
        world.between_polls = self.between_polls  # type: ignore[method-assign]

    # -- what happens between two polls ------------------------------------------------------

    def between_polls(self) -> None:
        writes = len(self.watched.route_writes) if self.watched else 0
        self._between()
        self._crashes()
        if self.watched:
            self.run.member_route_writes += len(self.watched.route_writes) - writes
        stub = self.world.stub
        for uid in [u for u in self.cut_off if u in stub.nodes]:
            if self._has_address(uid):
                self.cut_off.discard(uid)
                stub.restarts[uid] = 1  # reconnects at the next poll
        for gateway in self._all():
            if gateway.uid in stub.nodes and stub.nodes[gateway.uid]["online"] and not self._has_address(gateway.uid):
                stub.set_online(gateway.uid, False)
                self.cut_off.add(gateway.uid)
        members = [n for n in stub.nodes.values() if n.get("cluster") == FQDN]
        self.run.polls += 1
        online = sum(n["online"] for n in members)
        if online < 2:  # a position without a working member: its gateway is swapping (or both would be down)
            self.run.polls_on_one_member += 1
        self.down_at_once = max(self.down_at_once, 2 - online)

    def _crashes(self) -> None:
        """A new gateway that fails for good once it has joined (``fail_at="crash<position>"``)."""
        for uid in list(self.crash_when_member):
            if self.world.stub.nodes.get(uid, {}).get("cluster") == FQDN:
                self.crash_when_member.discard(uid)
                self.dead.add(uid)
        for uid in self.dead:
            if self.world.stub.nodes.get(uid, {}).get("online"):
                self.world.stub.set_online(uid, False)

    def _has_address(self, uid: str) -> bool:
        gateway = next(g for g in self._all() if g.uid == uid)
        addresses = self.world.ec2.describe_addresses(AllocationIds=self.addresses)["Addresses"]
        return any(a.get("NetworkInterfaceId") == gateway.wan_eni for a in addresses)

    def _all(self) -> list[Gateway]:
        return [*self.old, *(g for g in self.gateways if g not in self.old)]

    # -- the resources' properties ----------------------------------------------------------

    def guard(self, gateways: list[Gateway], changed: tuple[int, ...] = (), change: dict[str, Any] | None = None
              ) -> dict[str, Any]:  # fmt: skip
        """The guard's view: each gateway's node name and what makes it a new node (``change`` at ``changed``)."""
        return GuardProperties(
            "prod-gw",
            tuple(
                GuardedGateway(
                    **{
                        "slot": slot,
                        "node_name": g.name,
                        "generation": "gen2",
                        "image": "resolved:trustgrid-node-2204-*:",
                        "root_volume_gib": 30,
                        "wan_subnet_id": f"subnet-w{i}",
                        "lan_subnet_id": self.world.subnets[i],
                        **((change or {}) if i in changed else {}),
                    }
                )
                for i, (slot, g) in enumerate(zip(POSITIONS, gateways, strict=True))
            ),
            (EDGE,),
            tuple(self.world.route_tables),
            {"InstanceType": "c6i.large"},
            member_swap=True,
        ).to_properties()

    def seat(self, gateway: Gateway, position: int) -> dict[str, Any]:
        return SeatProperties(
            "prod-gw", gateway.name, self.addresses[position], gateway.wan_eni, (EDGE,), tuple(self.world.route_tables),
            wait_timeout_seconds=600,
        ).to_properties()  # fmt: skip

    def cluster(self, gateways: list[Gateway]) -> dict[str, Any]:
        return self.world.cluster_props([g.member for g in gateways])

    def member(self, gateways: list[Gateway], position: int) -> dict[str, Any]:
        cluster = ClusterProperties.parse(self.cluster(gateways))
        shared = {f.name: getattr(cluster, f.name) for f in fields(ClusterProperties)}
        return SwapProperties(
            **shared, position=position, allocation_ids=tuple(self.addresses),
            wan_eni_ids=tuple(g.wan_eni for g in gateways),
        ).to_properties()  # fmt: skip

    # -- the steps --------------------------------------------------------------------------

    def new_gateway(self, position: int, name: str, *, boots: bool = True) -> Gateway:
        """A new gateway beside the old one: its interfaces and license (created before its seat), not booted."""
        world = self.world
        subnet = world.subnets[position]
        wan = self._wan_interface(position, name)
        lan = world.ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
        index = len(world.license_secrets)
        world.license_secrets.append(
            world.secrets.create_secret(Name=f"license-{world.vpc_id}-{name}", SecretString="-")["ARN"]
        )
        uid = world.license("Create", name, index)["PhysicalResourceId"]
        member = MemberProperties(
            uid, name, lan["NetworkInterfaceId"], lan["PrivateIpAddress"], f"10.0.{120 + position}.10",
            f"198.51.100.{10 + position}", subnet,
        ).to_properties()  # fmt: skip
        return Gateway(member, wan, "", boots)

    def launch(self, gateway: Gateway) -> None:
        """CloudFormation creates the instance (after the seat): it boots with the address and registers."""
        world = self.world
        subnet = gateway.member["LanSubnetId"]
        instance = world.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet)
        gateway.instance = instance["Instances"][0]["InstanceId"]
        world.ec2.attach_network_interface(
            NetworkInterfaceId=gateway.member["LanEniId"], InstanceId=gateway.instance, DeviceIndex=1
        )
        world.instances[gateway.member["LanEniId"]] = gateway.instance
        register(world, gateway.member, register_in=2 if gateway.boots else 10_000, online_in=1)

    def swap(
        self,
        positions: tuple[int, ...],
        change: dict[str, Any],
        *,
        fail_at: int | str | None = None,
        rollback_order: str = "dependency",
    ) -> SwapRun:
        """One deploy that swaps ``positions``. ``fail_at``: the position whose new gateway never registers,
        "crash<position>" (its new gateway fails for good once it has joined), or "after" (a resource after both
        positions fails, such as the protection). ``rollback_order``: CloudFormation
        rolls back the touched resources in the previous template's dependency order ("dependency", primary first)
        or the other way round ("reverse"); the swap must come back whole either way."""
        world = self.world
        self.watched = watched = Watched(world.ec2, world.route_tables)
        world.ec2 = watched
        world.stub.most_members_down[FQDN] = 0
        world.stub.role_moves.pop(FQDN, None)
        before = list(self.gateways)
        self.fail_at = fail_at
        try:
            self.new = [
                self.new_gateway(p, f"{self.gateways[p].name}-{p}", boots=fail_at != p) if p in positions else None
                for p in range(2)
            ]
            apply(world, GUARD_TYPE, self.guard(self.planned(), positions, change), self.guard(before), "ChangeGuard")
            for position in positions:
                self._swap_one(position, before)
            if fail_at == "after":
                raise RuntimeError("a resource after the swap failed")
            self.finish(before)
        except Exception as exc:  # the deploy failed: CloudFormation rolls back
            self.run.failure = f"{type(exc).__name__}: {exc}"
            self.roll_back(before, rollback_order)
        finally:
            world.ec2 = watched.real
        moves = world.stub.role_moves.get(FQDN, [])
        self.run.graceful_moves = sum(how == "graceful" for how, _, _ in moves)
        self.run.ungraceful_failovers = world.stub.ungraceful_failovers(FQDN)
        # the stand-in counts members that go offline while in the cluster; this world, positions without one
        self.run.most_down_at_once = max(world.stub.most_members_down.get(FQDN, 0), self.down_at_once)
        self.run.handler_route_writes = len(watched.route_writes) - self.run.member_route_writes
        self.watched = None
        return self.run

    def planned(self) -> list[Gateway]:
        """The gateways the new template names."""
        return [new or old for new, old in zip(self.new, self.gateways, strict=True)]

    def _swap_one(self, position: int, before: list[Gateway]) -> None:
        world, old, new = self.world, self.gateways[position], self.new[position]
        assert new is not None
        self.gateways[position] = new
        self.touched.append((position, SEAT_TYPE))
        apply(world, SEAT_TYPE, self.seat(new, position), self.seat(old, position), f"{POSITIONS[position]}Seat")
        self.launch(new)
        if self.fail_at == f"crash{position}":
            self.crash_when_member.add(new.uid)
        self.touched.append((position, MEMBER_TYPE))
        apply(world, MEMBER_TYPE, self.member(self.planned(), position), self.member(before, position),
              f"{POSITIONS[position]}Member")  # fmt: skip

    def finish(self, before: list[Gateway]) -> None:
        """The cluster resource, the protection, then CloudFormation's cleanup of the old gateways."""
        world = self.world
        world.cluster(
            "Update", self.cluster(self.gateways), old=self.cluster(before), physical=self.deployed.fqdn, max_polls=30
        )
        old_ids = [g.instance for g in before]
        new_ids = [g.instance for g in self.gateways]
        for instance in old_ids:
            world.ec2.modify_instance_attribute(InstanceId=instance, DisableApiTermination={"Value": True})
        apply(world, PROTECTION_TYPE, ProtectionProperties(tuple(new_ids)).to_properties(),
              ProtectionProperties(tuple(old_ids)).to_properties(), "Protection")  # fmt: skip
        world.set_stack_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        for gone in [g for g in before if g not in self.gateways]:
            self.delete_license(gone)
            world.ec2.terminate_instances(InstanceIds=[gone.instance])
        world.set_stack_status("UPDATE_COMPLETE")

    def roll_back(self, before: list[Gateway], order: str) -> None:
        """CloudFormation's rollback: an Update back to every custom resource the update touched (in ``order``),
        then the cleanup deletes what the failed update made."""
        world = self.world
        failed = list(self.gateways)
        world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
        apply(world, GUARD_TYPE, self.guard(before), self.guard(self.planned()), "ChangeGuard")
        touched = self.touched if order == "dependency" else list(reversed(self.touched))
        for position, kind in touched:
            name = f"{POSITIONS[position]}{'Seat' if kind == SEAT_TYPE else 'Member'}"
            if kind == SEAT_TYPE:
                apply(world, SEAT_TYPE, self.seat(before[position], position), self.seat(failed[position], position),
                      name)  # fmt: skip
            else:
                apply(world, MEMBER_TYPE, self.member(before, position), self.member(self.planned(), position), name)
        self.gateways = list(before)
        world.set_stack_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        for made in [g for g in failed if g not in before]:
            self.delete_license(made)
            if made.instance:
                world.ec2.terminate_instances(InstanceIds=[made.instance])
        world.set_stack_status("UPDATE_ROLLBACK_COMPLETE")
        for _ in range(3):  # the old member reconnects with its address back, and the pair settles
            world.between_polls()

    def delete_license(self, gateway: Gateway) -> None:
        props = LicenseProperties(gateway.name, "arn:license", swap_cluster="prod-gw")
        handle_event(
            {"RequestType": "Delete", "ResourceType": LICENSE_TYPE, "ResourceProperties": props.to_properties(),
             "PhysicalResourceId": gateway.uid, "StackId": self.world.stack_id},
            self.world.runtime(),
        )  # fmt: skip

    def _wan_interface(self, position: int, name: str) -> str:
        """A WAN interface described as the construct describes it (a rollback finds a gateway's by it)."""
        subnet, description = self.world.subnets[position], f"Trustgrid {name} WAN"
        interface = self.world.ec2.create_network_interface(SubnetId=subnet, Description=description)
        return str(interface["NetworkInterface"]["NetworkInterfaceId"])
