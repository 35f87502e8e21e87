"""Swapping a member for a new gateway, one position at a time (a cluster with ``member_swap``).

A change that needs a new node (another image, root volume, subnet or gateway name) gives the position a new
gateway beside the old one, with a new node name. Two resources of the position carry the swap:

- the **seat**, before the new gateway's instance: the position's Elastic IP, which stays with the position.
  Before the address moves to the new gateway's WAN interface (so that the new instance boots with it), the role
  leaves the member it replaces: handed to the other member, from a whole pair, and every managed route follows.
  A rollback moves the address back to the old gateway and waits a while for it to come back.
- the **member**, after the new instance: the new node takes the old one's place in the cluster (old out, new in,
  its gateway service, heartbeat, LAN routes, the configured active member) and the cluster verifies healthy
  before anything else happens. A rollback puts the old member back, the role first handed away from the new one.

The secondary's seat depends on the primary's member, so one deploy swaps both strictly one after the other.
CloudFormation removes the old gateways (instances, interfaces, licenses) in its cleanup, after the cluster and the
protection resource, which releases termination protection for exactly the old instances, have moved on; the old
license's delete removes the old node record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from .api import TrustgridClient
from .contract import ClusterProperties, SeatProperties, SwapProperties
from .handover import hand_over, pair_problems, refuse_degraded
from .lifecycle import Pair, lan_interface_of, routed_to
from .log import JsonLogger
from .nodes import NodeState, node_state


class SwapTimeout(TimeoutError):
    """The role did not leave the member to be replaced in time: nothing of the pair changed."""


def swaps(old: SeatProperties, new: SeatProperties) -> bool:
    """Whether an update gives the position a new gateway."""
    return (old.node_name, old.wan_eni_id) != (new.node_name, new.wan_eni_id)


def address_on(ec2: Any, allocation_id: str) -> tuple[str | None, str | None]:
    """(the network interface the Elastic IP is on, its association), or Nones."""
    found = ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"]
    if not found:
        return None, None
    return found[0].get("NetworkInterfaceId"), found[0].get("AssociationId")


def attach(ec2: Any, spec: SeatProperties, log: JsonLogger) -> bool:
    """Put the position's address on ``spec``'s WAN interface; False when it was there already."""
    eni, _ = address_on(ec2, spec.allocation_id)
    if eni == spec.wan_eni_id:
        log.info("seat.address_in_place", node=spec.node_name)
        return False
    log.info("seat.move_address", node=spec.node_name, moved_from=eni, to=spec.wan_eni_id)
    ec2.associate_address(AllocationId=spec.allocation_id, NetworkInterfaceId=spec.wan_eni_id, AllowReassociation=True)
    return True


def detach(ec2: Any, spec: SeatProperties, log: JsonLogger) -> None:
    """On a delete: take the address off ``spec``'s WAN interface (never off another one); gone is fine."""
    try:
        eni, association = address_on(ec2, spec.allocation_id)
    except Exception as exc:  # botocore ClientError: the address is gone already
        if "NotFound" not in str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")):
            raise
        return
    if eni == spec.wan_eni_id and association:
        log.info("seat.release_address", node=spec.node_name)
        ec2.disassociate_address(AssociationId=association)


def read_cluster(client: TrustgridClient, cluster_name: str) -> Pair:
    """The cluster's health and its members as they are now, by node name (none when there is no cluster)."""
    fqdn = f"{cluster_name}.{client.org_domain()}"
    cluster = client.find_cluster(fqdn)
    if cluster is None:
        return Pair(fqdn, None, {}, {})
    uids = {str(n.get("name")): str(n.get("uid")) for n in client.list_cluster_nodes(fqdn)}
    return Pair(fqdn, str(cluster.get("health")), uids, {name: client.find_node(uid) for name, uid in uids.items()})


@dataclass
class SeatSwap:
    """The seat's part of a swap, the same on the way forward and back: the role off the gateway that loses the
    address (to the other member), then the address onto the gateway the seat now names; the member resource changes
    the membership. A rollback first repairs the other position when it is the one that is cut off (CloudFormation
    may roll the positions back in either order), never fails, and waits a while for the gateway it puts back."""

    client: TrustgridClient
    ec2: Any
    log: JsonLogger
    now: Callable[[], float]

    def check(self, old: SeatProperties, new: SeatProperties) -> None:
        """Before anything: refuse a swap of a pair that is not whole (a repeated request whose address has moved
        already passes: its pair is short of the member it replaced)."""
        if address_on(self.ec2, new.allocation_id)[0] == new.wan_eni_id:
            return
        pair = read_cluster(self.client, new.cluster_name)
        if pair.exists and old.node_name in pair.uids:
            problems = pair_problems(pair.health, pair.records)
            if problems:
                raise refuse_degraded(f"swapping {old.node_name} for {new.node_name}", problems)

    def step(self, old: SeatProperties, new: SeatProperties, deadline: float, *, rolling_back: bool = False) -> bool:
        """One poll: True once the address is on the gateway ``new`` names (in a rollback, once that gateway is
        back, or at the deadline). On the way forward, a hand-over that does not finish by the deadline raises:
        nothing of the pair has changed then."""
        if address_on(self.ec2, new.allocation_id)[0] != new.wan_eni_id:
            pair = read_cluster(self.client, new.cluster_name)
            if rolling_back:
                self._repair_partner(pair, old, new)
            if not self._handed_over(pair, old, new, deadline, rolling_back=rolling_back):
                return False
            attach(self.ec2, new, self.log)
        return self._settled(new, deadline) if rolling_back else True

    def _handed_over(
        self, pair: Pair, old: SeatProperties, new: SeatProperties, deadline: float, *, rolling_back: bool
    ) -> bool:
        """The gateway that loses the address does not hold the role, and the other member (online) does, with every
        route; or, past the deadline, a rollback gives up (a swap raises)."""
        partners = [name for name in pair.uids if name not in (old.node_name, new.node_name)]
        if old.node_name not in pair.uids or not partners:
            return True
        partner = partners[0]
        routed = self._routed_to(partner, new)
        if hand_over(self.client, pair.fqdn, (pair.uids[partner], partner), pair.records[partner], routed, self.log):
            return True
        if self.now() < deadline:
            return False
        if rolling_back:
            self.log.warning("seat.hand_over_given_up", node=old.node_name, to=partner)
            return True
        raise SwapTimeout(
            f"The active role did not move from {old.node_name} to {partner} (and every route with it) before the "
            "deadline, so the Elastic IP stayed on it and nothing of the pair changed. Check both gateways in the "
            "Trustgrid portal and deploy again."
        )

    def _repair_partner(self, pair: Pair, old: SeatProperties, new: SeatProperties) -> None:
        """In a rollback: a member of the other position that is offline because that position's address sits on
        another gateway (its swap failed and is not rolled back yet) gets the address back, so that it can take the
        role before this position's gateway loses its own."""
        if not new.partner_allocation_id:
            return
        for name in [n for n in pair.uids if n not in (old.node_name, new.node_name)]:
            if node_state(pair.records.get(name)) is NodeState.ONLINE:
                continue
            eni = wan_interface_of(self.ec2, name, new.wan_eni_id)
            if eni is not None and address_on(self.ec2, new.partner_allocation_id)[0] != eni:
                self.log.warning("seat.partner_address_restored", node=name)
                self.ec2.associate_address(
                    AllocationId=new.partner_allocation_id, NetworkInterfaceId=eni, AllowReassociation=True
                )

    def _settled(self, target: SeatProperties, deadline: float) -> bool:
        """In a rollback: the gateway put back is online and the cluster healthy (when it is a member: the member
        resource's rollback may come later), or the deadline has passed."""
        pair = read_cluster(self.client, target.cluster_name)
        online = node_state(pair.records.get(target.node_name)) is NodeState.ONLINE
        back = target.node_name not in pair.uids or (online and pair.health == "healthy")
        if back or self.now() >= deadline:
            self.log.info("seat.rolled_back", node=target.node_name, healthy=back)
            return True
        return False

    def _routed_to(self, partner: str, spec: SeatProperties) -> bool:
        if not (spec.owns_routes and spec.route_table_ids and spec.edge_cidrs):
            return True
        tables = self.ec2.describe_route_tables(RouteTableIds=list(spec.route_table_ids))["RouteTables"]
        vpc = tables[0].get("VpcId") if tables else None
        eni = lan_interface_of(self.ec2, partner, vpc)
        return routed_to(self.ec2, eni, spec.route_table_ids, spec.edge_cidrs, tables)


def wan_interface_of(ec2: Any, node_name: str, beside: str) -> str | None:
    """A gateway's WAN interface, by the description the construct gives it, in the VPC of interface ``beside``."""
    found = ec2.describe_network_interfaces(NetworkInterfaceIds=[beside])["NetworkInterfaces"]
    filters = [{"Name": "description", "Values": [f"Trustgrid {node_name} WAN"]}]
    if found:
        filters.append({"Name": "vpc-id", "Values": [found[0]["VpcId"]]})
    interfaces = ec2.describe_network_interfaces(Filters=filters)["NetworkInterfaces"]
    return str(interfaces[0]["NetworkInterfaceId"]) if len(interfaces) == 1 else None


def cluster_of(spec: SwapProperties) -> ClusterProperties:
    """The cluster's properties a member resource carries."""
    return ClusterProperties(**{f.name: getattr(spec, f.name) for f in fields(ClusterProperties)})


def swaps_member(old: SwapProperties, new: SwapProperties) -> bool:
    return old.members[new.position].uid != new.members[new.position].uid


def step_specs(
    old: SwapProperties, new: SwapProperties, *, rolling_back: bool, members: frozenset[str] = frozenset()
) -> tuple[ClusterProperties, ClusterProperties]:
    """The cluster before and after this position's step. On the way forward the positions swap in order (primary,
    then secondary), so the positions after this one are still as they were before the deploy, and the cluster's
    other settings stay as they were (the cluster resource changes them afterwards). On the way back (``new`` is
    what the rollback puts back, ``old`` the failed deploy) CloudFormation may roll the positions back in either
    order: the other position's member is whichever of its two is a member now (``members``, by uid)."""
    position = new.position
    if rolling_back:
        other = 1 - position
        partner = old.members[other] if old.members[other].uid in members else new.members[other]
        pair = [partner, partner]
        pair[position] = old.members[position]
        before = tuple(pair)
        pair[position] = new.members[position]
        return replace(cluster_of(new), members=before), replace(cluster_of(new), members=tuple(pair))
    base = cluster_of(old)
    forward_before = tuple(new.members[i] if i < position else old.members[i] for i in range(2))
    forward_after = tuple(new.members[i] if i <= position else old.members[i] for i in range(2))
    return replace(base, members=forward_before), replace(base, members=forward_after)
