"""The cluster resource: plan what a request needs, then converge Trustgrid to it.

Every step reads first and writes only what differs, so a create that was
interrupted at any point and is tried again adopts what the earlier attempt
made and converges to the same cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .api import ApiError, NotFound, TrustgridClient
from .log import JsonLogger
from .network import LanSubnet, heartbeat_config, heartbeat_matches, merge_network
from .props import ClusterSpec
from .routes import route_problems


class Ec2Reader(Protocol):
    """The read-only EC2 calls the cluster resource makes (a boto3 EC2 client fits)."""

    def describe_subnets(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_route_tables(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Plan:
    """Which aspects of the cluster a request touches."""

    create: bool = False
    members: bool = False
    heartbeat: bool = False
    network: bool = False
    mode: bool = False
    removed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.create or self.members or self.heartbeat or self.network or self.mode or self.removed)


CREATE_PLAN = Plan(create=True, members=True, heartbeat=True, network=True, mode=True)


def plan_update(old: ClusterSpec, new: ClusterSpec) -> Plan:
    """The smallest set of aspects an update from ``old`` to ``new`` has to write."""
    if old.name != new.name:
        return CREATE_PLAN
    old_uids = [m.uid for m in old.members]
    new_uids = [m.uid for m in new.members]
    members = set(old_uids) != set(new_uids)
    hosts_changed = [old.heartbeat_host(m) for m in old.members] != [new.heartbeat_host(m) for m in new.members]
    return Plan(
        members=members,
        heartbeat=members or hosts_changed or old.heartbeat_port != new.heartbeat_port,
        network=(
            members
            or old.edge_cidrs != new.edge_cidrs
            or old.route_table_ids != new.route_table_ids
            or old.lan_interface_name != new.lan_interface_name
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


class ClusterReconciler:
    """Converges one cluster. ``now`` returns epoch seconds (injected for tests)."""

    def __init__(self, client: TrustgridClient, ec2: Ec2Reader, log: JsonLogger, now: Callable[[], float]) -> None:
        self._client = client
        self._ec2 = ec2
        self._log = log
        self._now = now

    def converge(
        self, fqdn: str, spec: ClusterSpec, plan: Plan, previous: ClusterSpec | None, deadline: float
    ) -> Outcome:
        log = self._log.bind(cluster=fqdn)
        if plan.empty:
            log.info("cluster.nothing_to_do")
            return Outcome(complete=True)

        nodes: dict[str, dict[str, Any]] = {}
        if plan.members or plan.heartbeat:
            nodes = {m.uid: self._client.get_node(m.uid) for m in spec.members}
            offline = [m for m in spec.members if not nodes[m.uid].get("online")]
            if offline:
                names = [f"{m.name} (node {m.uid})" for m in offline]
                log.info("cluster.waiting_for_nodes", offline=names, seconds_left=round(deadline - self._now()))
                if self._now() >= deadline:
                    raise ClusterTimeout(
                        f"Gateway node(s) {', '.join(names)} did not come online in Trustgrid before the deadline. "
                        "Check the EC2 instance status checks, the first-boot log (/var/log/cloud-init-output.log "
                        "on the instance, or its system log in the EC2 console), that the license secret was "
                        "readable, and that the WAN interface can reach the Trustgrid control plane on outbound "
                        "TCP 443 and 8443."
                    )
                return Outcome(complete=False, waiting_for=names)

        cluster, wrote = self._ensure_cluster(fqdn, spec, log) if plan.create else (None, False)

        for uid in plan.removed:
            wrote |= self._release_member(fqdn, uid, log)
        added_primary = False
        if plan.members:
            for member in spec.members:
                if nodes[member.uid].get("cluster") != fqdn:
                    log.info("cluster.add_member", node=member.name, uid=member.uid)
                    self._client.set_node_cluster(member.uid, fqdn)
                    wrote = True
                    added_primary |= member is spec.primary
        if plan.heartbeat:
            for member in spec.members:
                desired = heartbeat_config(spec, spec.heartbeat_host(member))
                current = (nodes[member.uid].get("config") or {}).get("cluster")
                if not heartbeat_matches(current, desired):
                    log.info("cluster.set_heartbeat", node=member.name, host=desired["host"], port=desired["port"])
                    self._client.set_heartbeat(member.uid, {**(current or {}), **desired})
                    wrote = True

        if plan.network or plan.mode or plan.create or spec.verify_health:
            cluster = cluster or self._client.get_cluster(fqdn)
        if plan.network:
            assert cluster is not None
            current_network = (cluster.get("config") or {}).get("network")
            desired_network = merge_network(current_network, spec, self._lan_subnets(spec), previous)
            if desired_network != (current_network or {}):
                log.info("cluster.write_network", nic=spec.lan_interface_name, edge_cidrs=list(spec.edge_cidrs))
                self._client.put_cluster_network(fqdn, desired_network)
                wrote = True
        if plan.mode and cluster is not None and cluster.get("mode") != spec.failback_mode:
            log.info("cluster.set_mode", mode=spec.failback_mode)
            self._client.update_cluster(fqdn, {"mode": spec.failback_mode})
            wrote = True
        if plan.create and cluster is not None and (added_primary or cluster.get("health") != "healthy"):
            # Set once, on create: after a failover the other member may rightly be active.
            log.info("cluster.set_active", node=spec.primary.name, uid=spec.primary.uid)
            self._client.set_active_member(fqdn, spec.primary.uid)
            wrote = True

        problems = self._verify(fqdn, spec, None if wrote else cluster)
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

    def delete(self, fqdn: str, spec: ClusterSpec) -> None:
        """Remove both members, then the cluster; what is already gone counts as done."""
        log = self._log.bind(cluster=fqdn)
        for member in spec.members:
            self._release_member(fqdn, member.uid, log)
        try:
            self._client.delete_cluster(fqdn)
            log.info("cluster.deleted")
        except NotFound:
            log.info("cluster.already_gone")

    # -- steps -----------------------------------------------------------------------------

    def _ensure_cluster(self, fqdn: str, spec: ClusterSpec, log: JsonLogger) -> tuple[dict[str, Any], bool]:
        """The cluster's current model, and whether this call created it."""
        cluster = self._client.find_cluster(fqdn)
        if cluster is not None:
            log.info("cluster.adopt", reason="a cluster with this name exists (an earlier attempt or a retry)")
            return cluster, False
        log.info("cluster.create", name=spec.name)
        try:
            self._client.create_cluster(spec.name)
        except ApiError as exc:
            # Another attempt may have created it between our read and our write: adopt that one.
            existing = self._client.find_cluster(fqdn) if exc.status == 422 else None
            if existing is None:
                raise
            return existing, False
        # A new cluster has no network config, the default mode and no health yet: no need to read it.
        return {"name": spec.name, "fqdn": fqdn, "mode": "autoFailback", "health": "unknown", "config": {}}, True

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

    def _lan_subnets(self, spec: ClusterSpec) -> dict[str, LanSubnet]:
        ids = sorted({m.lan_subnet_id for m in spec.members})
        answer = self._ec2.describe_subnets(SubnetIds=ids)
        return {
            s["SubnetId"]: LanSubnet(s["SubnetId"], s["CidrBlock"], s["AvailabilityZone"]) for s in answer["Subnets"]
        }

    def _verify(self, fqdn: str, spec: ClusterSpec, cluster: dict[str, Any] | None) -> list[str]:
        problems = []
        if spec.verify_health:
            health = (cluster or self._client.get_cluster(fqdn)).get("health")
            if health != "healthy":
                problems.append(f"cluster health is {health!r}, not 'healthy'")
        if spec.verify_routes and spec.route_table_ids:
            try:
                tables = self._ec2.describe_route_tables(RouteTableIds=list(spec.route_table_ids))["RouteTables"]
            except Exception as exc:  # botocore ClientError: a table id that does not exist
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
                return [*problems, f"describing route tables {', '.join(spec.route_table_ids)} failed ({code})"]
            problems += route_problems(
                tables, spec.route_table_ids, spec.edge_cidrs, [m.lan_eni_id for m in spec.members]
            )
        return problems
