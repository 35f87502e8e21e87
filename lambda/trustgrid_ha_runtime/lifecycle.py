"""The lifecycle resources that keep a running pair safe through CloudFormation's updates and deletes.

- The **change guard** sees every update of a cluster first (everything else depends on it) and refuses a
  change that would replace a running gateway or rename something, before anything changes.
- The **gate** stands between the two gateways (the second instance depends on it): when the first gateway
  was stopped and started by an update, it waits until that node is back online in Trustgrid and the
  cluster is healthy, so CloudFormation never interrupts both gateways at once.
- The **protection** applies EC2 termination protection once the cluster has verified, and, deleted first
  on a stack delete, refuses that delete while protection is on, before anything is removed.

And :func:`superseded`: whether a waiting request is still the one CloudFormation is applying.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .api import TrustgridClient
from .contract import GateProperties, GuardedGateway, GuardProperties
from .cutover import lan_interfaces
from .handover import hand_over, pair_problems, refuse_degraded
from .log import JsonLogger
from .nodes import NODE_ADVICE, NodeState, holds_role, node_state
from .routes import route_problems

REPLACE_PROCEDURE = (
    "To get there without an outage, build a successor: add a new cluster (its own name and gateway names) with "
    "the new setting that declares succeeds: '<this cluster>' and the same edge CIDRs and route tables; deploy (it "
    "is built and verified while this one keeps the routes); set cut_over (cdk.json cutOver: true) and deploy (each "
    "route moves to it in one step); then remove this cluster and deploy. A cluster with member_swap (cdk.json "
    "memberSwap: true) swaps its members one at a time for such a change (another generation excepted): give the "
    "successor member_swap to make later changes that way. Running gateways take Trustgrid software upgrades in "
    "place (portal: node upgrade)."
)


class ChangeRefused(RuntimeError):
    """An update that cannot be done safely in place; nothing was changed."""


class Superseded(RuntimeError):
    """CloudFormation has moved on from this request (it timed out, was cancelled or is rolling back)."""


def refused_changes(old: GuardProperties, new: GuardProperties) -> list[str]:
    """What an update would do to running gateways that cannot be done safely, one sentence each."""
    problems = []
    if old.cluster_name != new.cluster_name:
        problems.append(
            f"renaming the cluster {old.cluster_name!r} to {new.cluster_name!r} would create a second Trustgrid "
            "cluster that manages the same route tables and edge CIDRs while the first still does"
        )
    if old.member_swap != new.member_swap:
        problems.append(
            f"turning member_swap {'on' if new.member_swap else 'off'} for a running cluster would rebuild both "
            "gateways in another shape at once (the Elastic IPs' associations change hands in CloudFormation's "
            "cleanup, which no running gateway should depend on); a cluster gets member_swap when it is created"
        )
        return problems
    before = {g.slot: g for g in old.gateways}
    for gateway in new.gateways:
        previous = before.get(gateway.slot)
        if previous is not None:
            problems += _gateway_changes(previous, gateway, swap=new.member_swap)
    return problems


def swapped(old: GuardProperties, new: GuardProperties) -> list[str]:
    """The positions an update gives a new gateway (a cluster with ``member_swap``: its node name changes)."""
    if not new.member_swap:
        return []
    before = {g.slot: g.node_name for g in old.gateways}
    return [g.slot for g in new.gateways if before.get(g.slot, g.node_name) != g.node_name]


def _gateway_changes(old: GuardedGateway, new: GuardedGateway, *, swap: bool = False) -> list[str]:
    label = f"{old.slot.lower()} gateway {old.node_name!r}"
    if swap and old.node_name != new.node_name:  # a new gateway takes its place: only its model must stay
        if old.generation == new.generation:
            return []
        return [
            f"swapping the {label} for a gateway of another instance generation ({old.generation} to "
            f"{new.generation}): the members of a cluster must be the same appliance model"
        ]
    found = []
    if old.node_name != new.node_name:
        found.append(
            f"renaming the {label} to {new.node_name!r} needs a new one-time license and a new node that no "
            "running instance would use"
        )
    reasons = [
        (old.generation != new.generation, f"its instance generation ({old.generation} to {new.generation})"),
        (old.image != new.image, "its image"),
        (old.root_volume_gib != new.root_volume_gib, "its root volume (CloudFormation replaces the instance)"),
        (old.wan_subnet_id != new.wan_subnet_id, "its WAN subnet"),
        (old.lan_subnet_id != new.lan_subnet_id, "its LAN subnet"),
    ]
    for changed, what in reasons:
        if changed:
            found.append(f"changing {what} replaces the {label}, while its network interfaces are still attached")
    return found


def route_conflicts(
    ec2: Any, new: GuardProperties, old: GuardProperties | None, allowed: frozenset[str] = frozenset()
) -> list[str]:
    """Routes in the managed tables that the cluster's edge CIDRs would fight over, one sentence each: a route for
    an edge CIDR (or a part of one) whose target is not one of this cluster's own LAN interfaces. An AWS route
    table holds one route per destination, and the more specific route wins. Only what ``new`` adds to ``old``
    (every pair on a create) is looked at."""
    pairs = [
        (table, cidr)
        for table in new.route_table_ids
        for cidr in new.edge_cidrs
        if old is None or table not in old.route_table_ids or cidr not in old.edge_cidrs
    ]
    if not pairs:
        return []
    try:
        tables = {t["RouteTableId"]: t for t in _route_tables(ec2, sorted({t for t, _ in pairs}))}
    except Exception as exc:  # botocore ClientError: a table that does not exist, or no answer
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return [f"the managed route tables {', '.join(sorted({t for t, _ in pairs}))} could not be read ({code})"]
    found = []
    for table, cidr in pairs:
        for route in tables.get(table, {}).get("Routes", []):
            if _inside(route.get("DestinationCidrBlock"), cidr):
                found.append((table, cidr, route))
    own = _own_lan_interfaces(ec2, new, [r.get("NetworkInterfaceId") for _, _, r in found]) | allowed
    return [
        f"route table {table} already sends {route['DestinationCidrBlock']} (edge CIDR {cidr}) to {_target(route)}"
        + (" (a blackhole: its target is gone)" if route.get("State") == "blackhole" else "")
        for table, cidr, route in found
        if route.get("NetworkInterfaceId") not in own
    ]


def _route_tables(ec2: Any, ids: list[str]) -> list[dict[str, Any]]:
    return list(ec2.describe_route_tables(RouteTableIds=ids)["RouteTables"])


def _inside(destination: str | None, cidr: str) -> bool:
    """Whether a route's destination is the edge CIDR or a part of it (a wider route, such as the default route,
    loses to the edge CIDR's own and does not conflict)."""
    try:
        route, edge = ipaddress.ip_network(str(destination)), ipaddress.ip_network(cidr)
    except ValueError:
        return False
    return route.version == edge.version and route.subnet_of(edge)  # type: ignore[arg-type]


def _target(route: dict[str, Any]) -> str:
    for key in ("NetworkInterfaceId", "GatewayId", "NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId",
                "InstanceId"):  # fmt: skip
        if route.get(key):
            return str(route[key])
    return "another target"


def _own_lan_interfaces(ec2: Any, spec: GuardProperties, enis: list[str | None]) -> set[str]:
    """Which of ``enis`` are this cluster's own LAN interfaces (the construct describes them
    ``Trustgrid <node> LAN``)."""
    wanted = sorted({e for e in enis if e})
    if not wanted:
        return set()
    mine = {f"Trustgrid {g.node_name} LAN" for g in spec.gateways}
    try:
        found = ec2.describe_network_interfaces(NetworkInterfaceIds=wanted)["NetworkInterfaces"]
    except Exception as exc:  # a target that is gone is nobody's now
        if "NotFound" in str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")):
            return set()
        raise
    return {i["NetworkInterfaceId"] for i in found if i.get("Description") in mine}


def refuse_conflicts(conflicts: list[str], log: JsonLogger) -> None:
    if not conflicts:
        return
    log.error("guard.route_conflicts", conflicts=conflicts)
    raise ChangeRefused(
        "Refused before anything changed (no instance was launched): "
        + "; ".join(conflicts)
        + ". A route table holds one route per destination, and the cluster's active member must own the edge "
        "CIDRs' routes. If the route belongs to another Trustgrid cluster (renaming a cluster in cdk.json adds a "
        "second cluster while the first still runs), keep the old name, or make the new cluster its successor: "
        "succeeds: '<the old cluster>' (it is built without the routes), deploy, then cut_over (cdk.json cutOver: "
        "true) and deploy, then remove the old cluster. Otherwise remove the route, or choose other edge CIDRs or "
        "route tables."
    )


def guard_update(old: GuardProperties, new: GuardProperties, log: JsonLogger) -> None:
    problems = refused_changes(old, new)
    if problems:
        log.error("guard.refused", problems=problems)
        raise ChangeRefused("Refused before anything changed: " + "; ".join(problems) + ". " + REPLACE_PROCEDURE)
    log.info("guard.allowed")


@dataclass
class GateCheck:
    """One look at whether the first gateway is back: EC2's view of its instance (running, status checks passed:
    Trustgrid's ``online`` can lag behind a restart), its node state and the cluster's health."""

    state: NodeState
    health: str | None
    instance: str = "ok"

    @property
    def ready(self) -> bool:
        return self.instance == "ok" and self.state is NodeState.ONLINE and self.health in ("healthy", None)


def instance_status(ec2: Any, instance_id: str) -> str:
    """ "ok" when EC2 reports the instance running with both status checks passed, else what it reports."""
    found = ec2.describe_instance_status(InstanceIds=[instance_id], IncludeAllInstances=True)["InstanceStatuses"]
    if not found:
        return "not found"
    status = found[0]
    state = status.get("InstanceState", {}).get("Name")
    checks = [status.get(k, {}).get("Status") for k in ("InstanceStatus", "SystemStatus")]
    if state != "running":
        return f"instance {state}"
    return "ok" if checks == ["ok", "ok"] else f"status checks {'/'.join(str(c) for c in checks)}"


def gate_check(client: TrustgridClient, ec2: Any, spec: GateProperties, node: dict[str, Any] | None) -> GateCheck:
    fqdn = f"{spec.cluster_name}.{client.org_domain()}"
    cluster = client.find_cluster(fqdn)
    return GateCheck(
        node_state(node),
        None if cluster is None else str(cluster.get("health")),
        instance_status(ec2, spec.instance_id),
    )


def gate_wait(
    client: TrustgridClient,
    ec2: Any,
    spec: GateProperties,
    deadline: float,
    now: Callable[[], float],
    log: JsonLogger,
    *,
    create: bool = False,
) -> bool:
    """True when the first gateway is back and the cluster healthy; raises past the deadline.

    On ``create`` a node that has not registered means a new pair booting: nothing to wait for. A registered
    one means the gate is new to a running pair (a stack of an older version of this library being updated,
    which stops and starts the primary in the same update): it waits as on an update.
    """
    node = client.find_node(spec.node_uid)
    if create and node_state(node) is NodeState.NOT_REGISTERED:
        log.info("gate.new_pair", node=spec.node_name)
        return True
    check = gate_check(client, ec2, spec, node)
    left = round(deadline - now())
    log.info(
        "gate.check",
        node=spec.node_name,
        instance=check.instance,
        state=check.state.value,
        health=check.health,
        seconds_left=left,
    )
    if check.ready:
        return handed_to_first(client, ec2, spec, node, log)
    if left <= 0:
        advice = NODE_ADVICE.get(check.state, "check both gateways' heartbeat and the cluster in the portal")
        raise TimeoutError(
            f"The gateway {spec.node_name} did not come back before the deadline (EC2: {check.instance}; Trustgrid: "
            f"{check.state.value}, cluster health {check.health!r}), so the other gateway was left untouched: "
            f"{advice}."
        )
    return False


@dataclass
class Pair:
    """A running pair as Trustgrid reports it: the cluster's health and each member's record, by node name."""

    fqdn: str
    health: str | None
    uids: dict[str, str]
    records: dict[str, dict[str, Any] | None]

    @property
    def exists(self) -> bool:
        return self.health is not None


def read_pair(client: TrustgridClient, cluster_name: str, names: list[str]) -> Pair:
    fqdn = f"{cluster_name}.{client.org_domain()}"
    cluster = client.find_cluster(fqdn)
    if cluster is None:
        return Pair(fqdn, None, {}, dict.fromkeys(names))
    uids = {str(n.get("name")): str(n.get("uid")) for n in client.list_cluster_nodes(fqdn)}
    records = {name: client.find_node(uids[name]) if name in uids else None for name in names}
    return Pair(fqdn, str(cluster.get("health")), uids, records)


def lan_interface_of(ec2: Any, node_name: str, vpc_id: str | None) -> str | None:
    """A gateway's LAN interface, by the description the construct gives it, in the cluster's VPC."""
    filters = [{"Name": "description", "Values": [f"Trustgrid {node_name} LAN"]}]
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    found = ec2.describe_network_interfaces(Filters=filters)["NetworkInterfaces"]
    return str(found[0]["NetworkInterfaceId"]) if len(found) == 1 else None


def routed_to(
    ec2: Any, eni: str | None, route_table_ids: tuple[str, ...], edge_cidrs: tuple[str, ...], tables: Any = None
) -> bool:
    """Whether every managed table sends every edge CIDR to ``eni`` (trivially so when there is nothing to route)."""
    if not route_table_ids or not edge_cidrs:
        return True
    if eni is None:
        return False
    tables = tables if tables is not None else _route_tables(ec2, list(route_table_ids))
    return not route_problems(tables, route_table_ids, edge_cidrs, [eni])


def restart_plan(client: TrustgridClient, new: GuardProperties, log: JsonLogger) -> str | None:
    """Before an update stops and starts both gateways (primary first): refuse on a pair that is not whole, and
    name the member the role must go to first (the secondary, when the primary holds it), or None."""
    names = [g.node_name for g in new.gateways]
    pair = read_pair(client, new.cluster_name, names)
    if not pair.exists:  # no cluster yet (a first create that failed): nothing runs that could be interrupted
        return None
    problems = pair_problems(pair.health, pair.records)
    if problems:
        log.error("guard.degraded_pair", problems=problems)
        raise refuse_degraded("changing the instance type or user data", problems)
    primary, secondary = names
    return secondary if holds_role(pair.records[primary]) else None


def needs_checks(old: GuardProperties | None, new: GuardProperties) -> bool:
    """Whether a request could be refused or needs a hand-over at all (a harmless update asks nobody)."""
    if old is None:
        return bool(new.edge_cidrs and new.route_table_ids)
    added = set(new.edge_cidrs) - set(old.edge_cidrs) or set(new.route_table_ids) - set(old.route_table_ids)
    return bool(refused_changes(old, new) or added or new.restarts(old) or swapped(old, new))


def _predecessors_interfaces(client: Callable[[], TrustgridClient], ec2: Any, new: GuardProperties) -> frozenset[str]:
    """The LAN interfaces of the cluster this one succeeds: its routes are the cut-over's to move, no conflict."""
    if not new.predecessor:
        return frozenset()
    api = client()
    fqdn = f"{new.predecessor}.{api.org_domain()}"
    if api.find_cluster(fqdn) is None:
        return frozenset()
    names = [str(n.get("name")) for n in api.list_cluster_nodes(fqdn)]
    return frozenset(lan_interfaces(ec2, names, new.route_table_ids))


def guard_decision(client: Callable[[], TrustgridClient], ec2: Any, old: GuardProperties | None,
                   new: GuardProperties, log: JsonLogger) -> str | None:  # fmt: skip
    """A request that is not a rollback: refuse it (route conflicts, a replacement, a restart of a pair that is not
    whole), or name the member the role must go to before CloudFormation stops the primary (None: nobody)."""
    refuse_conflicts(route_conflicts(ec2, new, old, _predecessors_interfaces(client, ec2, new)), log)
    if old is None:
        return None
    guard_update(old, new, log)
    if swapped(old, new):
        swap_plan(client(), old, new, log)
        return None
    return restart_plan(client(), new, log) if new.restarts(old) else None


def swap_plan(client: TrustgridClient, old: GuardProperties, new: GuardProperties, log: JsonLogger) -> None:
    """Before a member swap: refuse it on a pair that is not whole, or together with a change that restarts the
    gateways (one kind of change a deploy: each keeps one member working)."""
    if new.restarts(old):
        raise ChangeRefused(
            "Refused before anything changed: this update swaps a gateway for a new one and also changes what "
            "restarts the gateways in place (instance type or user data). Deploy one of the two changes, then the "
            "other: each keeps one member working on its own."
        )
    pair = read_pair(client, old.cluster_name, [g.node_name for g in old.gateways])
    if not pair.exists:  # no cluster yet (a first create that failed): nothing runs that could be interrupted
        return
    problems = pair_problems(pair.health, pair.records)
    if problems:
        log.error("guard.degraded_pair", problems=problems)
        raise refuse_degraded("swapping a gateway for a new one", problems)


def rollback_hand_over(client: TrustgridClient, ec2: Any, new: GuardProperties, log: JsonLogger) -> str | None:
    """A rollback that stops and starts the primary again (its live instance type is not the one rolled back to):
    the role leaves it first if it holds it, on a whole pair, as a best effort that never refuses anything."""
    try:
        tables = _route_tables(ec2, list(new.route_table_ids)) if new.route_table_ids else []
        vpc = tables[0].get("VpcId") if tables else None
        primary, secondary = (g.node_name for g in new.gateways)
        live = live_instance_type(ec2, lan_interface_of(ec2, primary, vpc))
        if live is None or live == new.restart.get("InstanceType"):
            return None  # the rollback does not restart it (the failed update never got to it)
        pair = read_pair(client, new.cluster_name, [primary, secondary])
        if not pair.exists or pair_problems(pair.health, pair.records) or not holds_role(pair.records[primary]):
            return None
        return secondary
    except Exception as exc:  # nothing may fail a rollback
        log.warning("guard.rollback_hand_over_skipped", error=type(exc).__name__)
        return None


def live_instance_type(ec2: Any, lan_eni: str | None) -> str | None:
    """The instance type of the instance a LAN interface is attached to, as EC2 reports it now."""
    if lan_eni is None:
        return None
    found = ec2.describe_network_interfaces(NetworkInterfaceIds=[lan_eni])["NetworkInterfaces"]
    instance = (found[0].get("Attachment") or {}).get("InstanceId") if found else None
    if not instance:
        return None
    reservations = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
    return str(reservations[0]["Instances"][0]["InstanceType"])


def rollback_restarts(ec2: Any, spec: GateProperties, log: JsonLogger) -> bool:
    """Whether a rollback restarts the second gateway too: its live instance type is not the one rolled back to
    (unknown counts as yes: waiting a while is the safe side)."""
    try:
        live = live_instance_type(ec2, spec.partner_lan_eni_id or None)
    except Exception as exc:  # nothing may fail a rollback
        log.warning("gate.rollback_partner_unknown", error=type(exc).__name__)
        return True
    log.info("gate.rollback_partner", live=live, target=spec.fingerprint.get("InstanceType"))
    return live is None or live != spec.fingerprint.get("InstanceType")


def rollback_gate_step(client: Callable[[], TrustgridClient], ec2: Any, spec: GateProperties, log: JsonLogger) -> bool:
    """One poll of the gate in a rollback that restarts the second gateway: True once the first is back and holds
    the role (handed to it as a best effort). Never raises."""
    try:
        api = client()
        node = api.find_node(spec.node_uid)
        return gate_check(api, ec2, spec, node).ready and handed_to_first(api, ec2, spec, node, log)
    except Exception as exc:  # nothing may fail a rollback
        log.warning("gate.rollback_check_failed", error=type(exc).__name__)
        return False


def guard_hand_over(
    client: TrustgridClient, ec2: Any, spec: GuardProperties, to: str, deadline: float, now: Callable[[], float],
    log: JsonLogger, *, best_effort: bool = False,
) -> bool:  # fmt: skip
    """One poll of the guard's hand-over to ``to`` before CloudFormation stops the primary; raises past the
    deadline (nothing else has changed yet: the update fails and rolls back), or, as a ``best_effort`` (in a
    rollback), gives up and lets CloudFormation go on."""
    pair = read_pair(client, spec.cluster_name, [g.node_name for g in spec.gateways])
    tables = _route_tables(ec2, list(spec.route_table_ids)) if spec.route_table_ids else []
    vpc = tables[0].get("VpcId") if tables else None
    routed = routed_to(ec2, lan_interface_of(ec2, to, vpc), spec.route_table_ids, spec.edge_cidrs, tables)
    if to in pair.uids and hand_over(client, pair.fqdn, (pair.uids[to], to), pair.records[to], routed, log):
        return True
    if now() >= deadline:
        if best_effort:
            log.warning("guard.hand_over_given_up", to=to)
            return True
        raise TimeoutError(
            f"The active role did not move to {to} (and every route with it) before the deadline, so no gateway was "
            "stopped: nothing changed. Check both gateways in the Trustgrid portal and deploy again."
        )
    return False


def handed_to_first(
    client: TrustgridClient, ec2: Any, spec: GateProperties, node: dict[str, Any] | None, log: JsonLogger
) -> bool:
    """Before CloudFormation stops the second gateway: the role goes to the first (back, when the guard moved it
    away), and every route with it. True when the second does not hold the role (or is unknown to this gate)."""
    if not spec.partner_uid:
        return True
    if not holds_role(client.find_node(spec.partner_uid)):
        return True
    routed = routed_to(ec2, spec.lan_eni_id or None, spec.route_table_ids, spec.edge_cidrs)
    fqdn = f"{spec.cluster_name}.{client.org_domain()}"
    return hand_over(client, fqdn, (spec.node_uid, spec.node_name), node, routed, log)


def superseded(recorded: str | None, current: str | None) -> bool:
    """A request recorded in one stack operation (``CREATE_IN_PROGRESS``, ``UPDATE_IN_PROGRESS``, the rollback's
    ``UPDATE_ROLLBACK_IN_PROGRESS``) is stale once the stack is in another: CloudFormation has moved on."""
    return bool(recorded and current and recorded != current)


GONE = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})


def set_protection(ec2: Any, instance_ids: tuple[str, ...], enabled: bool, log: JsonLogger) -> None:
    """Turn termination protection on or off for every instance. Turning it on is all or nothing: when one
    instance fails, those already protected are released again, so a failed create can still roll back."""
    done: list[str] = []
    for instance_id in instance_ids:
        try:
            ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": enabled})
        except Exception as exc:  # botocore ClientError: an instance that is already gone needs no protection
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if enabled:
                log.error("protection.failed", instance=instance_id, error=code, releasing=done)
                set_protection(ec2, tuple(done), False, log)
                raise
            if code not in GONE:
                raise
            log.info("protection.instance_gone", instance=instance_id)
            continue
        done.append(instance_id)
        log.info("protection.set", instance=instance_id, enabled=enabled)


def protection_delete(
    ec2: Any, instance_ids: tuple[str, ...], enabled: bool, rolling_back: bool, log: JsonLogger
) -> None:
    """On a stack delete with protection on: refuse, before anything else is removed. Otherwise release it."""
    if enabled and not rolling_back:
        raise ChangeRefused(
            "Refused to delete the stack while termination protection is on; nothing was removed. Set "
            "termination_protection=False (cdk.json: terminationProtection: false), deploy, then delete again. "
            "The Trustgrid node records follow the removal policy (removeNodesOnDelete)."
        )
    set_protection(ec2, instance_ids, False, log)


def protected_instances(ec2: Any, lan_eni_ids: list[str]) -> list[str]:
    """The instances behind these LAN interfaces that still have EC2 termination protection on."""
    enis = [e for e in lan_eni_ids if e]
    if not enis:
        return []
    try:
        found = ec2.describe_network_interfaces(NetworkInterfaceIds=enis)["NetworkInterfaces"]
    except Exception as exc:  # an interface that is gone: its instance is gone too
        if "NotFound" in str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")):
            return []
        raise
    instances = sorted({i["Attachment"]["InstanceId"] for i in found if i.get("Attachment", {}).get("InstanceId")})
    return [
        instance
        for instance in instances
        if ec2.describe_instance_attribute(InstanceId=instance, Attribute="disableApiTermination")[
            "DisableApiTermination"
        ]["Value"]
    ]


def refuse_delete_of_protected(fqdn: str, instances: list[str]) -> ChangeRefused:
    return ChangeRefused(
        f"Refused to delete the Trustgrid cluster {fqdn}: its gateways ({', '.join(instances)}) still run with "
        "termination protection on, and would keep running without a cluster. Nothing was removed. To remove the "
        "pair, set termination_protection=False (cdk.json: terminationProtection: false), deploy, then delete "
        "the stack; do not retain the protection resource in a delete."
    )
