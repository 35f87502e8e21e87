"""The cluster resource: plan what a request needs, then converge Trustgrid to it.

Every step reads first and writes only what differs, so a create that was
interrupted at any point and is tried again adopts what the earlier attempt
made and converges to the same cluster. A poll (one ``is_complete`` call) runs
the steps in this order:

1. wait until both nodes have registered and are online;
2. enable each member's gateway service (Trustgrid restarts the node's service
   when it changes; on an update one member at a time, the second only once the
   cluster is healthy again);
3. create or adopt the cluster, add the members, set each heartbeat, write the
   LAN interface configuration, the failback mode and, on create, the active member;
4. verify: health, both members online with their gateway service as configured,
   and the edge routes in every managed route table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .api import ApiError, NotFound, TrustgridClient
from .contract import ClusterProperties, MemberProperties
from .cutover import SUCCESSOR_TAG, CutOver, CutOverRefused, managed_pairs
from .handover import hand_over, pair_problems, refuse_degraded
from .log import JsonLogger
from .network import (
    LanSubnet,
    gateway_body,
    gateway_config,
    heartbeat_body,
    heartbeat_config,
    matches,
    merge_network,
)
from .nodes import NODE_ADVICE, NodeState, configured_active, holds_role, node_state, reported_lan_nic, section
from .routes import route_problems

Nodes = Mapping[str, dict[str, Any] | None]


class Ec2Reader(Protocol):
    """The EC2 calls the cluster resource makes (a boto3 EC2 client fits): reads, and on delete the removal of
    the routes that still point at its own gateways."""

    def describe_subnets(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_route_tables(self, **kwargs: Any) -> dict[str, Any]: ...

    def delete_route(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Plan:
    """Which aspects of the cluster a request touches."""

    create: bool = False
    members: bool = False
    gateway: bool = False
    heartbeat: bool = False
    network: bool = False
    mode: bool = False
    removed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.create or self.members or self.gateway or self.heartbeat or self.network or self.mode or self.removed
        )


CREATE_PLAN = Plan(create=True, members=True, gateway=True, heartbeat=True, network=True, mode=True)


def plan_update(old: ClusterProperties, new: ClusterProperties) -> Plan:
    """The smallest set of aspects an update from ``old`` to ``new`` has to write.

    ``old`` may come from an older version of this library (``old.version`` None): every aspect it could not
    express is planned, and converging writes only what really differs.
    """
    if old.name != new.name:
        return CREATE_PLAN
    legacy = old.version is None
    old_uids = [m.uid for m in old.members]
    new_uids = [m.uid for m in new.members]
    members = set(old_uids) != set(new_uids)
    hosts_changed = [old.heartbeat_host(m) for m in old.members] != [new.heartbeat_host(m) for m in new.members]
    return Plan(
        members=members,
        gateway=(
            legacy
            or members
            or old.tunnel != new.tunnel
            or [m.public_ip for m in old.members] != [m.public_ip for m in new.members]
        ),
        heartbeat=members or hosts_changed or old.heartbeat_port != new.heartbeat_port,
        network=(
            legacy
            or members
            or (old.owns_routes, old.predecessor) != (new.owns_routes, new.predecessor)
            or old.edge_cidrs != new.edge_cidrs
            or old.route_table_ids != new.route_table_ids
            or (old.lan_interface_name, old.lan_interface_override)
            != (new.lan_interface_name, new.lan_interface_override)
            or [m.lan_subnet_id for m in old.members] != [m.lan_subnet_id for m in new.members]
        ),
        mode=old.failback_mode != new.failback_mode,
        removed=tuple(uid for uid in old_uids if uid not in new_uids),
    )


@dataclass
class Outcome:
    complete: bool
    waiting_for: list[str] = field(default_factory=list)


class ClusterTimeout(RuntimeError):
    """The cluster did not reach the wanted state before the deadline."""


class InterfaceMismatch(RuntimeError):
    """The LAN interface name the nodes report disagrees with the configured one."""


def resolve_lan_nic(spec: ClusterProperties, nodes: Nodes) -> str:
    """The name the cluster's LAN interface configuration uses: what the nodes report beats the table.

    A name the user set explicitly (``lan_interface_override``) must agree with what the nodes report.
    """
    reported = {m.name: reported_lan_nic(nodes.get(m.uid)) for m in spec.members}
    names = sorted({name for name in reported.values() if name})
    if len(names) > 1:
        raise InterfaceMismatch(
            "The two gateways report different LAN interface names ("
            + ", ".join(f"{node}: {nic}" for node, nic in reported.items())
            + "); a cluster has one LAN interface configuration. Use the same instance family for both."
        )
    if not names:
        return spec.lan_interface_name
    if spec.lan_interface_override and names[0] != spec.lan_interface_name:
        raise InterfaceMismatch(
            f"interface_names sets the LAN interface to {spec.lan_interface_name!r}, but the gateways report "
            f"{names[0]!r}. Remove the interface_names override (the reported name is used) or set it to "
            f"{names[0]!r}."
        )
    return names[0]


#: The cluster tag that names the resource (stack and logical ID) that made a cluster.
OWNER_TAG = "trustgrid-ha-cluster-owner"
#: How long a claim of an untagged cluster waits for the deployment that may have just created it to tag it.
CLAIM_SETTLE_SECONDS = 10.0


class ForeignCluster(RuntimeError):
    """A cluster of that name exists and this resource did not make it."""


def owned_by(cluster: Mapping[str, Any], owner: str) -> bool | None:
    """True when the cluster carries our owner tag, False when another's, None when it has none."""
    tag = (cluster.get("tags") or {}).get(OWNER_TAG)
    return None if tag is None else tag == owner


def is_empty(cluster: Mapping[str, Any], members: int) -> bool:
    network = (cluster.get("config") or {}).get("network") or {}
    return members == 0 and not network.get("interfaces")


class ClusterReconciler:
    """Converges one cluster. ``now`` returns epoch seconds (injected for tests); ``owner`` identifies the
    resource, so that it adopts and deletes only a cluster it made."""

    def __init__(
        self,
        client: TrustgridClient,
        ec2: Ec2Reader,
        log: JsonLogger,
        now: Callable[[], float],
        *,
        owner: str = "",
        settle: Callable[[], None] = lambda: time.sleep(CLAIM_SETTLE_SECONDS),
        rolling_back: bool = False,
    ) -> None:
        self._client = client
        self._ec2 = ec2
        self._log = log
        self._now = now
        self._owner = owner
        self._settle = settle
        #: a rollback Update puts back what ran before: it is not refused for a degraded pair (the failed update
        #: may have degraded it)
        self._rolling_back = rolling_back

    def converge(
        self, fqdn: str, spec: ClusterProperties, plan: Plan, previous: ClusterProperties | None, deadline: float
    ) -> Outcome:
        log = self._log.bind(cluster=fqdn)
        if plan.empty:
            log.info("cluster.nothing_to_do")
            return Outcome(complete=True)
        nodes = self._read_nodes(spec)
        cluster = self._current(fqdn, spec, plan, previous, nodes, log)
        waiting = self._wait_for_nodes(spec, nodes, deadline, log)
        if waiting is not None:
            return waiting
        wrote, rolling = (
            self._gateways(fqdn, spec, nodes, plan, cluster, previous, deadline, log)
            if plan.gateway
            else (False, False)
        )
        if rolling:
            return Outcome(complete=False, waiting_for=["the first gateway's service to restart"])
        if plan.create:
            cluster, created = self._ensure_cluster(fqdn, spec, log)
            wrote |= created
        wrote |= self._members(fqdn, spec, nodes, plan, log)
        if plan.heartbeat:
            wrote |= self._heartbeats(spec, nodes, log)
        cluster = cluster or self._client.get_cluster(fqdn)
        if plan.network:
            wrote |= self._network(fqdn, spec, nodes, cluster, previous, log)
        wrote |= self._mode_and_active(fqdn, spec, plan, nodes, cluster, log)
        return self._finish(fqdn, spec, plan, None if wrote else (cluster, nodes), deadline, log)

    def _current(
        self, fqdn: str, spec: ClusterProperties, plan: Plan, previous: ClusterProperties | None, nodes: Nodes,
        log: JsonLogger,
    ) -> dict[str, Any] | None:  # fmt: skip
        """On an update: the cluster as it is (tagged now if version 0.1.0 made it), and a planned restart of a
        gateway service refused on a pair that is not whole (not in a rollback)."""
        if plan.create:
            return None
        cluster = self._client.find_cluster(fqdn)
        if cluster is not None and previous is not None and previous.version is None:
            self._adopt_legacy(fqdn, cluster, spec, previous, log)
        if plan.gateway and not self._rolling_back:
            self._refuse_a_degraded_start(fqdn, spec, previous, nodes, cluster)
        return cluster

    def _mode_and_active(
        self, fqdn: str, spec: ClusterProperties, plan: Plan, nodes: Nodes, cluster: Mapping[str, Any],
        log: JsonLogger,
    ) -> bool:  # fmt: skip
        wrote = False
        if plan.mode and cluster.get("mode") != spec.failback_mode.value:
            log.info("cluster.set_mode", mode=spec.failback_mode.value)
            self._client.update_cluster(fqdn, {"mode": spec.failback_mode.value})
            wrote = True
        if (plan.create or plan.members) and not any(configured_active(nodes[m.uid]) for m in spec.members):
            # Set once, on the configured flag: after a failover the other member may rightly hold the role. When a
            # swap took the configured member out, the member that holds the role now is configured: nothing moves.
            chosen = next((m for m in spec.members if holds_role(nodes[m.uid])), spec.primary)
            log.info("cluster.set_active", node=chosen.name, uid=chosen.uid)
            self._client.set_active_member(fqdn, chosen.uid)
            wrote = True
        return wrote

    def delete(self, fqdn: str, spec: ClusterProperties) -> bool:
        """Remove both members, then the cluster; True when there was a cluster of ours to delete. Only a cluster
        this resource made (its owner tag) is touched, whatever its name, tags or members; one made by version
        0.1.0 of this library (no tag, no contract version) only when every member is one of its own gateways."""
        log = self._log.bind(cluster=fqdn)
        cluster = self._client.find_cluster(fqdn)
        if cluster is None:
            log.info("cluster.already_gone")
            return False
        if not self._ours_to_delete(fqdn, cluster, spec):
            log.warning("cluster.not_ours", reason="not made by this resource: left alone")
            return False
        successor = (cluster.get("tags") or {}).get(SUCCESSOR_TAG)
        if successor and managed_pairs((cluster.get("config") or {}).get("network") or {}):
            raise CutOverRefused(
                f"Refused: {successor} is declared as this cluster's successor and has not taken the routes over; "
                f"deleting {fqdn} now would leave them to nobody. Cut over first (cutOver: true on {successor}), or "
                f"remove {successor}'s succeeds, then delete this cluster."
            )
        for member in spec.members:
            if member.uid:
                self._release_member(fqdn, member.uid, log)
        try:
            self._client.delete_cluster(fqdn)
            log.info("cluster.deleted")
        except NotFound:
            log.info("cluster.already_gone")
        return True

    def give_back_routes(self, spec: ClusterProperties) -> bool:
        """A successor that took the routes, deleted: they go back to its predecessor when it is there."""
        if not spec.cuts_over:
            return False
        return CutOver(self._client, self._ec2, self._log).back(spec)

    def remove_own_routes(self, spec: ClusterProperties) -> None:
        """After a delete: the edge-CIDR routes in the managed tables that still point at this cluster's own LAN
        interfaces (which are about to go) are removed, so that they do not stay behind as blackholes that the next
        cluster for these edge CIDRs would have to fight. Routes to anything else are left alone."""
        if not spec.route_table_ids:
            return
        enis = {m.lan_eni_id for m in spec.members}
        tables = self._ec2.describe_route_tables(RouteTableIds=list(spec.route_table_ids))["RouteTables"]
        for table in tables:
            for route in table.get("Routes", []):
                cidr = route.get("DestinationCidrBlock")
                if cidr in spec.edge_cidrs and route.get("NetworkInterfaceId") in enis:
                    self._log.info("cluster.remove_route", route_table=table["RouteTableId"], cidr=cidr)
                    self._ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock=cidr)

    def _adopt_legacy(
        self,
        fqdn: str,
        cluster: dict[str, Any],
        spec: ClusterProperties,
        previous: ClusterProperties,
        log: JsonLogger,
    ) -> None:
        """The first update of a cluster made by version 0.1.0 (no owner tag then) tags it, when every member is one
        of its own gateways: from then on its Delete knows it is ours."""
        if owned_by(cluster, self._owner) is not None:
            return
        members = {str(n.get("uid")) for n in self._client.list_cluster_nodes(fqdn)}
        if members and members <= {m.uid for m in (*previous.members, *spec.members)}:
            log.info("cluster.claim", owner=self._owner, reason="made by version 0.1.0 of this resource")
            self._tag(fqdn, cluster)

    def _ours_to_delete(self, fqdn: str, cluster: Mapping[str, Any], spec: ClusterProperties) -> bool:
        owned = owned_by(cluster, self._owner)
        if owned is not None or spec.version is not None:
            return bool(owned)
        members = {str(n.get("uid")) for n in self._client.list_cluster_nodes(fqdn)}
        return bool(members) and members <= {m.uid for m in spec.members}

    # -- step 1: the nodes ------------------------------------------------------------------

    def rejoin(
        self, fqdn: str, spec: ClusterProperties, plan: Plan, previous: ClusterProperties, deadline: float
    ) -> bool:
        """A rollback of a member swap: the member that left comes back (membership, heartbeat, LAN routes, the
        configured active member) without waiting for it to be online: its address comes back after this. A
        member that leaves again and holds the role hands it to the one that stays first, while that one is online
        and the (short) deadline allows. True when written."""
        log = self._log.bind(cluster=fqdn)
        nodes = self._read_nodes(spec)
        staying = [m for m in spec.members if m.uid in {p.uid for p in previous.members}]
        for uid in plan.removed:
            record = self._client.find_node(uid)
            if not (holds_role(record) and staying and (record or {}).get("cluster") == fqdn):
                continue
            partner = staying[0]
            if node_state(nodes[partner.uid]) is NodeState.ONLINE and self._now() < deadline:
                routed = not self._route_problems(spec, [partner.lan_eni_id])
                if not hand_over(self._client, fqdn, (partner.uid, partner.name), nodes[partner.uid], routed, log):
                    return False
        self._members(fqdn, spec, nodes, plan, log)
        self._heartbeats(spec, nodes, log)
        cluster = self._client.get_cluster(fqdn)
        self._network(fqdn, spec, nodes, cluster, previous, log)
        self._mode_and_active(fqdn, spec, plan, nodes, cluster, log)
        log.info("cluster.member_restored", members=[m.name for m in spec.members])
        return True

    def _read_nodes(self, spec: ClusterProperties) -> dict[str, dict[str, Any] | None]:
        return {m.uid: self._client.find_node(m.uid) for m in spec.members}

    def _wait_for_nodes(
        self, spec: ClusterProperties, nodes: Nodes, deadline: float, log: JsonLogger
    ) -> Outcome | None:
        """None when both members are online; else an incomplete outcome, or a timeout past the deadline."""
        states = {m: node_state(nodes[m.uid]) for m in spec.members}
        if all(state is NodeState.ONLINE for state in states.values()):
            return None
        seconds_left = round(deadline - self._now())
        log.info(
            "cluster.waiting_for_nodes",
            nodes=[{"node": m.name, "uid": m.uid, "state": s.value} for m, s in states.items()],
            seconds_left=seconds_left,
        )
        waiting = [f"{m.name} ({s.value})" for m, s in states.items() if s is not NodeState.ONLINE]
        if seconds_left <= 0:
            raise ClusterTimeout(
                "Gateway node(s) did not come online in Trustgrid before the deadline. "
                + " ".join(
                    f"{m.name} (node {m.uid}) is {s.value}: {NODE_ADVICE[s]}."
                    for m, s in states.items()
                    if s is not NodeState.ONLINE
                )
            )
        return Outcome(complete=False, waiting_for=waiting)

    # -- step 2: the gateway service --------------------------------------------------------

    def _gateways(
        self,
        fqdn: str,
        spec: ClusterProperties,
        nodes: Nodes,
        plan: Plan,
        cluster: Mapping[str, Any] | None,
        previous: ClusterProperties | None,
        deadline: float,
        log: JsonLogger,
    ) -> tuple[bool, bool]:
        """(wrote, more to roll). On create both at once. On an update one member a poll, and only from a whole
        pair: the member that does not hold the role first; before the one that holds it restarts, the role is
        handed to the other and every managed route follows."""
        todo = [m for m in spec.members if not matches(_config(nodes, m, "gateway"), gateway_config(spec, m))]
        if not todo:
            return False, False
        if plan.create or all((nodes[m.uid] or {}).get("cluster") != fqdn for m in todo):
            # a new pair, or a new gateway that is not a member yet (a swap): it carries no traffic
            self._set_gateways(spec, nodes, todo, log)
            return True, False
        health = (cluster or {}).get("health")
        if health != "healthy":  # the first member restarted: wait until the pair is whole again
            log.info("cluster.gateway_waits_for_health", node=todo[0].name, health=health)
            self._raise_past(deadline, f"the cluster did not become healthy again (health {health!r}) after the "
                             f"first gateway service restarted, so {todo[0].name} was left as it was")  # fmt: skip
            return False, True
        todo.sort(key=lambda m: holds_role(nodes[m.uid]))  # the member that does not carry the traffic first
        member = todo[0]
        if holds_role(nodes[member.uid]):
            (other,) = [m for m in spec.members if m.uid != member.uid]
            routed = not self._route_problems(spec, [other.lan_eni_id])
            if not hand_over(self._client, fqdn, (other.uid, other.name), nodes[other.uid], routed, log):
                self._raise_past(deadline, f"the active role did not move to {other.name} (and every route with it), "
                                 f"so {member.name}, which carries the traffic, was not restarted")  # fmt: skip
                return False, True
        self._set_gateways(spec, nodes, [member], log)
        return True, len(todo) > 1

    def _raise_past(self, deadline: float, what: str) -> None:
        if self._now() >= deadline:
            raise ClusterTimeout(
                f"Stopped before the deadline: {what}. One gateway's service was changed, the other not; check both "
                "gateways in the Trustgrid portal and deploy again."
            )

    @staticmethod
    def _refuse_a_degraded_start(
        fqdn: str,
        spec: ClusterProperties,
        previous: ClusterProperties | None,
        nodes: Nodes,
        cluster: Mapping[str, Any] | None,
    ) -> None:
        """A gateway-service change restarts the members it changes: it starts only from a whole pair (later polls
        of the same request find a member already changed and wait for the pair instead). A node that is not a
        member yet (one that replaces a member) restarts nothing that carries traffic."""
        todo = [m for m in spec.members if not matches(_config(nodes, m, "gateway"), gateway_config(spec, m))]
        restarting = [m for m in todo if (nodes[m.uid] or {}).get("cluster") == fqdn]
        if not restarting or any(m not in todo for m in _gateway_changes(previous, spec)):
            return
        problems = pair_problems((cluster or {}).get("health"), {m.name: nodes[m.uid] for m in spec.members})
        if problems:
            raise refuse_degraded("changing the gateway service (tunnel settings or public address)", problems)

    def _set_gateways(
        self, spec: ClusterProperties, nodes: Nodes, members: list[MemberProperties], log: JsonLogger
    ) -> None:
        for member in members:
            desired = gateway_config(spec, member)
            log.info("cluster.set_gateway", node=member.name, host=desired["host"], port=desired["port"])
            self._client.set_gateway(member.uid, gateway_body(_config(nodes, member, "gateway"), desired))

    # -- step 3: the cluster ----------------------------------------------------------------

    def _ensure_cluster(self, fqdn: str, spec: ClusterProperties, log: JsonLogger) -> tuple[dict[str, Any], bool]:
        """The cluster's current model, and whether this call created it (or wrote its owner tag)."""
        cluster = self._client.find_cluster(fqdn)
        if cluster is None:
            log.info("cluster.create", name=spec.name)
            try:
                self._client.create_cluster(spec.name)
            except ApiError as exc:
                cluster = self._client.find_cluster(fqdn) if exc.status == 422 else None
                if cluster is None:
                    raise
            else:  # a new cluster has no network config, the default mode and no health yet: not read back
                cluster = {"name": spec.name, "fqdn": fqdn, "mode": "autoFailback", "health": "unknown", "config": {}}
                self._tag(fqdn, cluster)
                return cluster, True
        return cluster, self._claim(fqdn, cluster, spec, log)

    def _tag(self, fqdn: str, cluster: dict[str, Any]) -> None:
        self._client.set_cluster_tag(fqdn, OWNER_TAG, self._owner)
        cluster.setdefault("tags", {})[OWNER_TAG] = self._owner

    def _claim(self, fqdn: str, cluster: dict[str, Any], spec: ClusterProperties, log: JsonLogger) -> bool:
        """Make sure the cluster is ours: tagged by this resource, or an untagged one with no member and no
        configuration at all (what an attempt interrupted right after creating it leaves). Anything else is refused
        before any write. An untagged cluster may also be another deployment's that has just created it and is
        about to tag it: the claim waits a moment, reads again, tags, and reads its own tag back, so that of two
        deployments racing for one name exactly one goes on."""
        owned = owned_by(cluster, self._owner)
        if owned:
            log.info("cluster.adopt", reason="made by an earlier attempt of this resource")
            return False
        if owned is None and self._empty(fqdn, cluster):
            self._settle()
            again = self._client.get_cluster(fqdn)
            if owned_by(again, self._owner) is None and self._empty(fqdn, again):
                log.info("cluster.claim", owner=self._owner, reason="untagged and empty: an interrupted attempt")
                self._tag(fqdn, cluster)
                if owned_by(self._client.get_cluster(fqdn), self._owner):
                    return True
        raise ForeignCluster(
            f"A Trustgrid cluster named {spec.name!r} ({fqdn}) already exists and this stack did not make it "
            f"({'another deployment owns it' if owned is False else 'it has members, configuration or another owner'}"
            "). Nothing was written. Choose another cluster name, or delete that cluster in the portal if it is "
            "unused."
        )

    def _empty(self, fqdn: str, cluster: Mapping[str, Any]) -> bool:
        return is_empty(cluster, len(self._client.list_cluster_nodes(fqdn)))

    def _members(self, fqdn: str, spec: ClusterProperties, nodes: Nodes, plan: Plan, log: JsonLogger) -> bool:
        wrote = False
        for uid in plan.removed:
            wrote |= self._release_member(fqdn, uid, log)
        if plan.members:
            for member in spec.members:
                if (nodes[member.uid] or {}).get("cluster") != fqdn:
                    log.info("cluster.add_member", node=member.name, uid=member.uid)
                    self._client.set_node_cluster(member.uid, fqdn)
                    wrote = True
        return wrote

    def _heartbeats(self, spec: ClusterProperties, nodes: Nodes, log: JsonLogger) -> bool:
        wrote = False
        for member in spec.members:
            desired = heartbeat_config(spec, member)
            current = _config(nodes, member, "cluster")
            if not matches(current, desired):
                log.info("cluster.set_heartbeat", node=member.name, host=desired["host"], port=desired["port"])
                self._client.set_heartbeat(member.uid, heartbeat_body(current, desired))
                wrote = True
        return wrote

    def _network(
        self,
        fqdn: str,
        spec: ClusterProperties,
        nodes: Nodes,
        cluster: Mapping[str, Any],
        previous: ClusterProperties | None,
        log: JsonLogger,
    ) -> bool:
        nic = resolve_lan_nic(spec, nodes)
        spec = self._cut_over(spec, cluster, nodes, previous, log)
        current = (cluster.get("config") or {}).get("network")
        desired = merge_network(current, spec, self._lan_subnets(spec), nic, previous)
        if desired == (current or {}):
            return False
        log.info("cluster.write_network", nic=nic, edge_cidrs=list(spec.edge_cidrs))
        self._client.put_cluster_network(fqdn, desired)
        return True

    def _cut_over(
        self, spec: ClusterProperties, cluster: Mapping[str, Any], nodes: Nodes, previous: ClusterProperties | None,
        log: JsonLogger,
    ) -> ClusterProperties:  # fmt: skip
        """A successor's routes: taken over now (an update on a pair that is not whole is refused), or, on a create
        whose pair is not whole yet, once it is (until then the network is written without them); given back to
        the predecessor in a rollback (never otherwise: turning the cut-over off is refused)."""
        if not spec.predecessor:
            return spec
        cut_over = CutOver(self._client, self._ec2, log)
        took = previous is not None and previous.owns_routes and bool(previous.predecessor)
        if not spec.owns_routes:
            if not took:
                cut_over.tag_predecessor(spec)
                return spec
            if not self._rolling_back:
                raise CutOverRefused(
                    "Refused before anything changed: this cluster has taken the routes over from "
                    f"{spec.predecessor}, and turning the cut-over off would leave them to nobody. To move back, make "
                    f"{spec.predecessor} the successor of this cluster and cut over to it."
                )
            return spec if cut_over.back(spec) else replace(spec, owns_routes=True)  # a rollback never fails
        if took:
            return spec
        if previous is None and cut_over.not_ready(spec, cluster.get("health"), nodes):
            log.info("cluster.cut_over_waits", reason="the new pair is not whole yet")
            return replace(spec, owns_routes=False)
        moved = cut_over.run(spec, cluster.get("health"), nodes)
        log.info("cluster.cut_over", routes_moved=moved)
        return spec

    def _release_member(self, fqdn: str, uid: str, log: JsonLogger) -> bool:
        node = self._client.find_node(uid)
        if node is None or node.get("cluster") != fqdn:
            log.info("cluster.member_already_out", uid=uid)
            return False
        log.info("cluster.remove_member", uid=uid)
        try:
            self._client.set_node_cluster(uid, None)
        except NotFound:
            return False
        return True

    def _lan_subnets(self, spec: ClusterProperties) -> dict[str, LanSubnet]:
        ids = sorted({m.lan_subnet_id for m in spec.members})
        answer = self._ec2.describe_subnets(SubnetIds=ids)
        return {
            s["SubnetId"]: LanSubnet(s["SubnetId"], s["CidrBlock"], s["AvailabilityZone"]) for s in answer["Subnets"]
        }

    # -- step 4: verification ---------------------------------------------------------------

    def _finish(
        self,
        fqdn: str,
        spec: ClusterProperties,
        plan: Plan,
        fresh: tuple[Mapping[str, Any], Nodes] | None,
        deadline: float,
        log: JsonLogger,
    ) -> Outcome:
        """Complete when everything verifies; ``fresh`` is what this poll read, when it wrote nothing since."""
        cluster, nodes = fresh if fresh is not None else (self._client.get_cluster(fqdn), self._read_nodes(spec))
        problems = self._verify(spec, plan, cluster, nodes)
        if not problems:
            log.info("cluster.ready")
            return Outcome(complete=True)
        log.info("cluster.verifying", problems=problems, seconds_left=round(deadline - self._now()))
        if self._now() >= deadline:
            raise ClusterTimeout(
                "The cluster was configured but did not verify before the deadline: "
                + "; ".join(problems)
                + ". Check both gateways' heartbeat (security groups, TCP port), the node status in the "
                "Trustgrid portal, and that the instance role may create routes in those tables."
            )
        return Outcome(complete=False, waiting_for=problems)

    def _verify(self, spec: ClusterProperties, plan: Plan, cluster: Mapping[str, Any], nodes: Nodes) -> list[str]:
        problems = []
        if spec.verify_health and cluster.get("health") != "healthy":
            problems.append(f"cluster health is {cluster.get('health')!r}, not 'healthy'")
        for member in spec.members:
            state = node_state(nodes[member.uid])
            if state is not NodeState.ONLINE:
                problems.append(f"gateway {member.name} is {state.value}")
            elif plan.gateway and not matches(_config(nodes, member, "gateway"), gateway_config(spec, member)):
                problems.append(f"gateway {member.name} does not report its gateway service enabled as configured")
        problems += self._route_problems(spec)
        return problems

    def _route_problems(self, spec: ClusterProperties, enis: list[str] | None = None) -> list[str]:
        """What is wrong with the edge routes: each must point at one of ``enis`` (default: either member)."""
        if not (spec.verify_routes and spec.route_table_ids and spec.owns_routes):
            return []
        try:
            tables = self._ec2.describe_route_tables(RouteTableIds=list(spec.route_table_ids))["RouteTables"]
        except Exception as exc:  # botocore ClientError: a table id that does not exist
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            return [f"describing route tables {', '.join(spec.route_table_ids)} failed ({code})"]
        return route_problems(
            tables, spec.route_table_ids, spec.edge_cidrs, enis or [m.lan_eni_id for m in spec.members]
        )


def _gateway_changes(previous: ClusterProperties | None, spec: ClusterProperties) -> list[MemberProperties]:
    """The members whose gateway service this request changes (all of them when the old one is unknown)."""
    if previous is None or len(previous.members) != len(spec.members):
        return list(spec.members)
    return [
        new
        for old, new in zip(previous.members, spec.members, strict=True)
        if old.uid != new.uid or gateway_config(previous, old) != gateway_config(spec, new)
    ]


def _config(nodes: Nodes, member: MemberProperties, name: str) -> dict[str, Any]:
    """One section of a member's node config (``gateway``, ``cluster``), empty when it has none."""
    return section(nodes.get(member.uid), name)
