"""The cluster's attachment to a Trustgrid virtual network: what traffic needs to flow end to end.

Cluster level (acts on the cluster only): the network attached with the cluster's validation route, the cluster's
LAN interface (by the name the cluster's network configuration gives it, which the nodes reported) with its NATs,
and the cluster's VPN static routes. Domain level, only with ``publish``: the network route that sends the
cluster's virtual subnet to the cluster, and access policies, published through the network's validate-and-commit;
a commit publishes every staged change of the network, so it is refused while changes this resource did not make
are staged.

What people configured in the portal stays: NATs, static routes, network routes and policies that are not this
resource's are kept, and an attachment or an interface that existed before this resource is left in place on
delete. What this resource made is recorded in its physical id (``<fqdn>/<network>/<made>``), so that a delete
removes exactly that, in reverse order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .api import TrustgridClient
from .contract import AccessPolicyProperties, NatProperties, VirtualNetworkProperties, VpnRouteProperties
from .log import JsonLogger
from .network import MARK

#: The description this resource gives what it makes in the network (a route, a policy), so that people see whose.
MANAGED = MARK


class NetworkRefused(RuntimeError):
    """The network cannot be changed as asked (it does not exist, or others' changes are staged)."""


@dataclass(frozen=True)
class Made:
    """What this resource made (and so removes on delete): the attachment, the interface."""

    attachment: bool
    interface: bool

    def physical_id(self, spec: VirtualNetworkProperties) -> str:
        flags = ("a" if self.attachment else "") + ("i" if self.interface else "")
        return f"{spec.cluster_fqdn}/{spec.network_name}/{flags or '-'}"

    @classmethod
    def of(cls, physical_id: str) -> Made:
        flags = physical_id.rsplit("/", 1)[-1] if physical_id.count("/") >= 2 else ""
        return cls("a" in flags, "i" in flags)


def same_target(physical_id: str, spec: VirtualNetworkProperties) -> bool:
    """Whether an update keeps the cluster and the network of ``physical_id`` (else it is a replacement)."""
    return physical_id.rsplit("/", 1)[0] == f"{spec.cluster_fqdn}/{spec.network_name}"


# -- the bodies, in Trustgrid's field names ------------------------------------------------------------------


def nat_body(nat: NatProperties, *, outside: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"networkCidr": nat.network_cidr, "localCidr": nat.local_cidr}
    if nat.description:
        body["description"] = nat.description
    if outside:
        body["proxyArp"] = nat.proxy_arp
    return body


def _key(nat: Mapping[str, Any]) -> tuple[str, str]:
    return str(nat.get("networkCidr")), str(nat.get("localCidr"))


def merged_nats(
    current: Iterable[Mapping[str, Any]], old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """People's NATs (neither in the old nor in the new spec) kept, then ours."""
    ours = {_key(n) for n in (*old, *new)}
    return [dict(n) for n in current if _key(n) not in ours] + list(new)


def interface_body(
    spec: VirtualNetworkProperties, nic: str, current: Mapping[str, Any] | None, old: VirtualNetworkProperties | None
) -> dict[str, Any]:
    """The interface as it should be: its name, our NATs merged into what is there, our default-route flags."""
    present = current or {}

    def nats(field: str, wire: str, outside: bool) -> list[dict[str, Any]]:
        new = [nat_body(n, outside=outside) for n in getattr(spec, field)]
        previous = [nat_body(n, outside=outside) for n in getattr(old, field)] if old is not None else []
        return merged_nats(present.get(wire) or [], previous, new)

    return {
        "interfaceName": nic,
        "insideNats": nats("inside_nats", "insideNats", False),
        "outsideNats": nats("outside_nats", "outsideNats", True),
        "inDefaultRoute": spec.in_default_route,
        "outDefaultRoute": spec.out_default_route,
    }


def interface_differs(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    def nats(body: Mapping[str, Any], field: str) -> set[tuple[str, str]]:
        return {_key(n) for n in body.get(field) or []}

    return (
        any(nats(current, f) != nats(desired, f) for f in ("insideNats", "outsideNats"))
        or bool(current.get("inDefaultRoute")) != desired["inDefaultRoute"]
        or bool(current.get("outDefaultRoute")) != desired["outDefaultRoute"]
    )


def route_body(route: VpnRouteProperties) -> dict[str, Any]:
    body: dict[str, Any] = {"networkCidr": route.network_cidr, "metric": route.metric}
    body["description"] = route.description or MANAGED
    if route.node:
        body["node"] = route.node
    return body


def _route_key(route: Mapping[str, Any]) -> tuple[str, str, int]:
    return str(route.get("networkCidr")), str(route.get("node") or ""), int(route.get("metric") or 0)


def policy_body(policy: AccessPolicyProperties) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": policy.action,
        "protocol": policy.protocol,
        "source": policy.source,
        "dest": policy.dest,
        "lineNumber": policy.line_number,
        "description": policy.description or MANAGED,
    }
    if policy.ports:
        body["ports"] = policy.ports
    return body


def _policy_key(policy: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(policy.get(k) or "") for k in ("action", "protocol", "source", "dest", "ports"))


# -- the reconciler ------------------------------------------------------------------------------------------


class VirtualNetworkReconciler:
    """Converges one attachment; ``client`` is the Trustgrid API."""

    def __init__(self, client: TrustgridClient, log: JsonLogger) -> None:
        self._client = client
        self._log = log
        self._made = Made(False, False)

    def converge(self, spec: VirtualNetworkProperties, old: VirtualNetworkProperties | None, made: Made | None) -> Made:
        """Make it so; ``made`` None for a create. Returns what this resource made (its physical id). A create that
        fails part-way removes what it made before it raises: the Provider framework sends no Delete for it."""
        log = self._log.bind(cluster=spec.cluster_fqdn, network=spec.network_name)
        if spec.publish:
            self._refuse_others_staged(spec, old)
        attachment = self._client.find_vpn_attachment(spec.cluster_fqdn, spec.network_name)
        self._made = Made(
            made.attachment if made is not None else attachment is None, made is not None and made.interface
        )
        try:
            self._converge(spec, old, made, attachment, log)
        except Exception:
            if made is None:
                log.warning("vpn.create_failed_undo", attachment=self._made.attachment, interface=self._made.interface)
                self.delete(spec, self._made)
            raise
        return self._made

    def _converge(
        self, spec: VirtualNetworkProperties, old: VirtualNetworkProperties | None, made: Made | None,
        attachment: Mapping[str, Any] | None, log: JsonLogger,
    ) -> None:  # fmt: skip
        """The steps in order; ``self._made`` says what was made so far."""
        fqdn, network = spec.cluster_fqdn, spec.network_name
        if attachment is None:
            self._require_network(network)
            log.info("vpn.attach", route=spec.route)
            self._client.attach_vpn(fqdn, network, spec.route)
        elif attachment.get("route") != spec.route:
            log.info("vpn.update_route", route=spec.route, was=attachment.get("route"))
            self._client.update_vpn_attachment(fqdn, network, spec.route)
        self._made = Made(self._made.attachment, self._interface(spec, old, made, log))
        self._static_routes(spec, old, log)
        if spec.publish or (old is not None and old.publish):
            self._domain(spec, old, log)

    def delete(self, spec: VirtualNetworkProperties, made: Made) -> None:
        """Remove what this resource made, in reverse order: the domain objects, the static routes, our NATs (or the
        interface it made), the attachment it made."""
        log = self._log.bind(cluster=spec.cluster_fqdn, network=spec.network_name)
        fqdn, network = spec.cluster_fqdn, spec.network_name
        if self._client.find_vpn_attachment(fqdn, network) is None:
            log.info("vpn.already_detached")
            if spec.publish:
                self._domain(None, spec, log)
            return
        if spec.publish:
            self._domain(None, spec, log)
        self._static_routes(None, spec, log)
        nic = self._lan_nic(fqdn)
        current = self._find_interface(fqdn, network, nic)
        if current is not None and made.interface:
            log.info("vpn.detach_interface", interface=nic)
            self._client.delete_vpn_interface(fqdn, network, nic)
        elif current is not None:
            kept = {
                "interfaceName": nic,
                "insideNats": merged_nats(current.get("insideNats") or [], _nats(spec.inside_nats, False), []),
                "outsideNats": merged_nats(current.get("outsideNats") or [], _nats(spec.outside_nats, True), []),
                "inDefaultRoute": bool(current.get("inDefaultRoute")),
                "outDefaultRoute": bool(current.get("outDefaultRoute")),
            }
            if interface_differs(current, kept):
                log.info("vpn.remove_nats", interface=nic)
                self._client.update_vpn_interface(fqdn, network, nic, kept)
        if made.attachment:
            log.info("vpn.detach")
            self._client.detach_vpn(fqdn, network)

    # -- the steps ---------------------------------------------------------------------------------------

    def _require_network(self, network: str) -> None:
        names = [str(n.get("name")) for n in self._client.list_networks()]
        if network not in names:
            raise NetworkRefused(
                f"Trustgrid has no virtual network named {network!r} (it has: {', '.join(sorted(names)) or 'none'}). "
                "Create it in the portal (or give the name of an existing one) and deploy again."
            )

    def _lan_nic(self, fqdn: str) -> str:
        """The LAN interface's name: the one the cluster's network configuration uses (the cluster resource wrote
        it from what the nodes report)."""
        interfaces = (self._client.get_cluster(fqdn).get("config") or {}).get("network", {}).get("interfaces") or []
        nics = [str(i["nic"]) for i in interfaces if i.get("nic")]
        if not nics:
            raise NetworkRefused(f"The cluster {fqdn} has no LAN interface configured yet; deploy the cluster first.")
        return nics[0]

    def _find_interface(self, fqdn: str, network: str, nic: str) -> dict[str, Any] | None:
        found = [i for i in self._client.list_vpn_interfaces(fqdn, network) if i.get("interfaceName") == nic]
        return dict(found[0]) if found else None

    def _interface(
        self, spec: VirtualNetworkProperties, old: VirtualNetworkProperties | None, made: Made | None, log: JsonLogger
    ) -> bool:
        fqdn, network = spec.cluster_fqdn, spec.network_name
        nic = self._lan_nic(fqdn)
        current = self._find_interface(fqdn, network, nic)
        desired = interface_body(spec, nic, current, old)
        if current is None:
            log.info("vpn.attach_interface", interface=nic)
            self._client.add_vpn_interface(fqdn, network, desired)
            return made.interface if made is not None else True
        if interface_differs(current, desired):
            log.info("vpn.update_interface", interface=nic)
            self._client.update_vpn_interface(fqdn, network, nic, desired)
        return made.interface if made is not None else False

    def _static_routes(
        self, spec: VirtualNetworkProperties | None, old: VirtualNetworkProperties | None, log: JsonLogger
    ) -> None:
        target = spec or old
        assert target is not None
        fqdn, network = target.cluster_fqdn, target.network_name
        wanted = {_route_key(route_body(r)): route_body(r) for r in (spec.routes if spec else ())}
        previous = {_route_key(route_body(r)) for r in (old.routes if old else ())}
        current = self._client.list_vpn_routes(fqdn, network)
        present = {_route_key(r) for r in current}
        for route in current:
            if _route_key(route) in previous and _route_key(route) not in wanted:
                log.info("vpn.delete_route", cidr=route.get("networkCidr"))
                self._client.delete_vpn_route(fqdn, network, str(route.get("uid")))
        for key, body in wanted.items():
            if key not in present:
                log.info("vpn.add_route", cidr=body["networkCidr"])
                self._client.add_vpn_route(fqdn, network, body)

    def _network_route(self, spec: VirtualNetworkProperties) -> dict[str, Any]:
        return {
            "nodeName": spec.cluster_name,
            "networkCidr": spec.route,
            "metric": spec.network_route_metric,
            "description": MANAGED,
        }

    def _domain(
        self, spec: VirtualNetworkProperties | None, old: VirtualNetworkProperties | None, log: JsonLogger
    ) -> None:
        """The network route of the cluster's subnet and the access policies, then one validate-and-commit."""
        target = spec or old
        assert target is not None
        network = target.network_name
        changed = self._domain_routes(network, spec, old, log) | self._policies(network, spec, old, log)
        if changed:
            log.info("vpn.publish")
            self._client.publish_changes(network)

    def _domain_routes(
        self, network: str, spec: VirtualNetworkProperties | None, old: VirtualNetworkProperties | None,
        log: JsonLogger,
    ) -> bool:  # fmt: skip
        def key(route: Mapping[str, Any]) -> tuple[str, str, int]:
            return str(route.get("nodeName")), str(route.get("networkCidr")), int(route.get("metric") or 0)

        wanted = self._network_route(spec) if spec is not None and spec.publish else None
        ours = {key(self._network_route(s)) for s in (spec, old) if s is not None and s.publish}
        changed = False
        current = self._client.list_network_routes(network)
        for route in current:
            if key(route) in ours and (wanted is None or key(route) != key(wanted)):
                log.info("vpn.delete_network_route", cidr=route.get("networkCidr"))
                self._client.delete_network_route(network, str(route.get("uid")))
                changed = True
        if wanted is not None and key(wanted) not in {key(r) for r in current}:
            log.info("vpn.add_network_route", cidr=wanted["networkCidr"], metric=wanted["metric"])
            self._client.add_network_route(network, wanted)
            changed = True
        return changed

    def _policies(
        self, network: str, spec: VirtualNetworkProperties | None, old: VirtualNetworkProperties | None,
        log: JsonLogger,
    ) -> bool:  # fmt: skip
        wanted = {_policy_key(policy_body(p)): policy_body(p) for p in (spec.access_policies if spec else ())}
        previous = {_policy_key(policy_body(p)) for p in (old.access_policies if old else ())}
        changed = False
        current = self._client.list_access_policies(network)
        for policy in current:
            if _policy_key(policy) in previous and _policy_key(policy) not in wanted:
                self._client.delete_access_policy(network, str(policy.get("uid")))
                changed = True
        present = {_policy_key(p) for p in current}
        for key, body in wanted.items():
            if key not in present:
                log.info("vpn.add_access_policy", source=body["source"], dest=body["dest"])
                self._client.add_access_policy(network, body)
                changed = True
        return changed

    def _refuse_others_staged(self, spec: VirtualNetworkProperties, old: VirtualNetworkProperties | None) -> None:
        """A commit publishes every staged change of the network: refuse while changes are staged that are not
        this resource's own (a route to this cluster, or one of its policies, left by an earlier failed commit)."""
        specs = [s for s in (spec, old) if s is not None]
        ours_routes = {(spec.cluster_name, s.route) for s in specs}
        ours_policies = {_policy_key(policy_body(p)) for s in specs for p in s.access_policies}
        foreign = [
            text
            for change in self._client.staged_changes(spec.network_name)
            for text in _foreign_changes(change, ours_routes, ours_policies)
        ]
        if foreign:
            raise NetworkRefused(
                f"The virtual network {spec.network_name!r} holds staged changes this stack did not make "
                f"({'; '.join(sorted(set(foreign)))}). A commit would publish them too: commit or revert them in the "
                "portal first, or leave the network's routes and policies to the network team (turn publishing off)."
            )


def _nats(nats: Sequence[NatProperties], outside: bool) -> list[dict[str, Any]]:
    return [nat_body(n, outside=outside) for n in nats]


def _foreign_changes(
    change: Mapping[str, Any], routes: set[tuple[str, str]], policies: set[tuple[str, ...]]
) -> list[str]:
    """What of one staged change is not this resource's, as words."""
    found = [
        f"route {r.get('networkCidr')} to {r.get('nodeName')}"
        for r in change.get("routes") or []
        if (r.get("nodeName"), r.get("networkCidr")) not in routes
    ]
    found += [
        f"access policy {p.get('source')} -> {p.get('dest')}"
        for p in change.get("accessPolicies") or []
        if _policy_key(p) not in policies
    ]
    return found + [kind for kind in ("dnsConfig", "dnsRecords", "dnsZones", "networkGroups", "networkObjects")
                    if change.get(kind)]  # fmt: skip
