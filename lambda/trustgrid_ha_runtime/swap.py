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
from .cluster import ClusterReconciler, plan_update
from .contract import ClusterProperties, MemberProperties, SeatProperties, SwapProperties
from .handover import hand_over, pair_problems, refuse_degraded
from .lifecycle import Pair, lan_interface_of, routed_to
from .log import JsonLogger
from .nodes import NodeState, holds_role, node_state


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
    """The seat's part of a swap: the role off the gateway that loses the address (to the other member), then the
    address onto the gateway the seat now names; the member resource changes the membership. In a rollback the seat
    puts the address back only while the failed gateway is not a member (the swap failed before it joined); else the
    member resources restore the pair. A rollback never fails, and waits a while for the gateway it puts back."""

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
            if rolling_back and old.node_name in pair.uids:
                # the failed gateway is a member: the member resources' rollback restores the pair, both positions in
                # the order that keeps a member working (this position may be rolled back before the other)
                self.log.info("seat.rollback_left_to_the_members", node=old.node_name)
                return True
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


def cluster_of(spec: SwapProperties) -> ClusterProperties:
    """The cluster's properties a member resource carries."""
    return ClusterProperties(**{f.name: getattr(spec, f.name) for f in fields(ClusterProperties)})


def swaps_member(old: SwapProperties, new: SwapProperties) -> bool:
    return old.members[new.position].uid != new.members[new.position].uid


def step_specs(old: SwapProperties, new: SwapProperties) -> tuple[ClusterProperties, ClusterProperties]:
    """The cluster before and after this position's step on the way forward. The positions swap in order (primary,
    then secondary), so the positions after this one are still as they were before the deploy, and the cluster's
    other settings stay as they were (the cluster resource changes them afterwards). A rollback restores from what
    is live instead (:class:`PairRestore`)."""
    position = new.position
    base = cluster_of(old)
    before = tuple(new.members[i] if i < position else old.members[i] for i in range(2))
    after = tuple(new.members[i] if i <= position else old.members[i] for i in range(2))
    return replace(base, members=before), replace(base, members=after)


@dataclass
class PairRestore:
    """A member resource's rollback: the pair as the rolled-back template has it, from what is live, whichever order
    CloudFormation takes the resources in. The other position first, then this one; for each, the role leaves the
    failed gateway (to the other position's member, online), the position's address goes back to its old gateway,
    the old node takes the failed one's place in the cluster, and the next step waits until it is online. Repeated
    polls find done what is done; at the deadline it gives up (a rollback never fails)."""

    client: TrustgridClient
    ec2: Any
    reconciler: ClusterReconciler
    log: JsonLogger
    now: Callable[[], float]

    def poll(self, target: SwapProperties, failed: SwapProperties, deadline: float) -> bool:
        fqdn = f"{target.name}.{self.client.org_domain()}"
        for position in (1 - target.position, target.position):
            if not self._position(fqdn, target, failed, position, deadline):
                if self.now() >= deadline:
                    self.log.warning("member.rollback_given_up", position=position)
                    return True
                return False
        return True

    def _position(self, fqdn: str, target: SwapProperties, failed: SwapProperties, q: int, deadline: float) -> bool:
        back, gone = target.members[q], failed.members[q]
        if back.uid == gone.uid or len(target.allocation_ids) != 2 or len(target.wan_eni_ids) != 2:
            return True
        members = {str(n.get("uid")) for n in self.client.list_cluster_nodes(fqdn)}
        other = next((m for m in (failed.members[1 - q], target.members[1 - q]) if m.uid in members), None)
        if address_on(self.ec2, target.allocation_ids[q])[0] != target.wan_eni_ids[q]:
            leaving = gone.uid in members and holds_role(self.client.find_node(gone.uid))
            if leaving and (other is None or not self._hand_over(fqdn, target, other)):
                return False
            attach(self.ec2, replace(_seat_of(target, q), node_name=back.name), self.log)
        if back.uid not in members or gone.uid in members:
            partner = other or target.members[1 - q]
            pair = [partner, partner]
            pair[q] = gone
            before = replace(cluster_of(target), members=tuple(pair))
            pair[q] = back
            after = replace(cluster_of(target), members=tuple(pair))
            self.reconciler.rejoin(fqdn, after, plan_update(before, after), before, deadline)
        return node_state(self.client.find_node(back.uid)) is NodeState.ONLINE

    def _hand_over(self, fqdn: str, target: SwapProperties, to: MemberProperties) -> bool:
        routed = not (target.owns_routes and target.route_table_ids and target.edge_cidrs) or routed_to(
            self.ec2, to.lan_eni_id, target.route_table_ids, target.edge_cidrs
        )
        return hand_over(self.client, fqdn, (to.uid, to.name), self.client.find_node(to.uid), routed, self.log)


def _seat_of(spec: SwapProperties, position: int) -> SeatProperties:
    """The seat of a position as a member resource knows it (its address and its gateway's WAN interface)."""
    return SeatProperties(
        spec.name, spec.members[position].name, spec.allocation_ids[position], spec.wan_eni_ids[position]
    )
