"""The cluster's attachment to a Trustgrid virtual network: what traffic needs to flow end to end.

Cluster level (acts on the cluster only): the network attached with the cluster's validation route, the cluster's
LAN interface (the interface the cluster resource configured, by the name the nodes report) with its NATs, and the
cluster's VPN static routes. Domain level, only with ``publish``: the network route that sends the cluster's
virtual subnet to the cluster, and access policies, published through the network's validate-and-commit; a commit
publishes every staged change of the network, so it is refused while changes this resource did not make are
staged (checked against the very digest it commits).

Ownership is read from Trustgrid itself, not remembered: every NAT, static route, network route and policy this
resource makes carries :data:`MARK` in its description, and only marked entries are changed or removed. The LAN
interface is removed on delete only when no entry of anyone else's is left on it, and the attachment only when
nothing of anyone else's hangs on it and its route is ours. So a repeated delivery, a cancelled create's Delete
(with a made-up id) and a network re-attached by an update all end the same way, and what people configured in
the portal stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from .api import ApiError, NotFound, TrustgridClient
from .contract import AccessPolicyProperties, NatProperties, VirtualNetworkProperties, VpnRouteProperties, cidr_inside
from .log import JsonLogger
from .network import MARK, is_owned


class NetworkRefused(RuntimeError):
    """The network cannot be changed as asked (it does not exist, others' changes are staged, an edge CIDR that
    cannot route through it)."""


def physical_id(spec: VirtualNetworkProperties) -> str:
    return f"{spec.cluster_fqdn}/{spec.network_name}"


def marked(description: str, cluster: str = "") -> str:
    """A description that says whose the entry is (for an object of the whole network: which cluster's)."""
    mark = f"{MARK}: {cluster}" if cluster else MARK
    return f"{description} ({mark})" if description and mark not in description else description or mark


def owned_by(entry: Mapping[str, Any], cluster: str) -> bool:
    """Whether a network-wide object (a network route, a policy) is this cluster's."""
    return f"{MARK}: {cluster}" in str(entry.get("description") or "")


# -- the bodies, in Trustgrid's field names ------------------------------------------------------------------


def nat_body(nat: NatProperties, *, outside: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "networkCidr": nat.network_cidr,
        "localCidr": nat.local_cidr,
        "description": marked(nat.description),
    }
    if outside:
        body["proxyArp"] = nat.proxy_arp
    return body


def _nats(nats: Sequence[NatProperties], outside: bool) -> list[dict[str, Any]]:
    return [nat_body(n, outside=outside) for n in nats]


def theirs(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The entries somebody else made (not marked as this project's)."""
    return [dict(e) for e in entries if not is_owned(e)]


def interface_body(spec: VirtualNetworkProperties, nic: str, current: Mapping[str, Any] | None) -> dict[str, Any]:
    """The interface as it should be: people's NATs kept, ours as the spec says, our default-route flags."""
    present = current or {}
    return {
        "interfaceName": nic,
        "insideNats": theirs(present.get("insideNats") or []) + _nats(spec.inside_nats, False),
        "outsideNats": theirs(present.get("outsideNats") or []) + _nats(spec.outside_nats, True),
        "inDefaultRoute": spec.in_default_route,
        "outDefaultRoute": spec.out_default_route,
    }


def _nat_view(nat: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(nat.get(k) for k in ("networkCidr", "localCidr", "description", "proxyArp"))


def interface_differs(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether writing ``desired`` would change anything (every field of every NAT counts)."""
    return any(
        sorted(map(_nat_view, current.get(f) or []), key=repr) != sorted(map(_nat_view, desired.get(f) or []), key=repr)
        for f in ("insideNats", "outsideNats")
    ) or any(bool(current.get(f)) != bool(desired.get(f)) for f in ("inDefaultRoute", "outDefaultRoute"))


def route_body(route: VpnRouteProperties) -> dict[str, Any]:
    body: dict[str, Any] = {
        "networkCidr": route.network_cidr,
        "metric": route.metric,
        "description": marked(route.description),
    }
    if route.node:
        body["node"] = route.node
    return body


def _view(entry: Mapping[str, Any], keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(entry.get(k) if entry.get(k) is not None else "") for k in keys)


ROUTE_KEYS = ("networkCidr", "node", "metric", "description")
POLICY_KEYS = ("action", "protocol", "source", "dest", "ports", "lineNumber", "description")
NETWORK_ROUTE_KEYS = ("nodeName", "networkCidr", "metric", "description")


def policy_body(policy: AccessPolicyProperties, cluster: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": policy.action,
        "protocol": policy.protocol,
        "source": policy.source,
        "dest": policy.dest,
        "lineNumber": policy.line_number,
        "description": marked(policy.description, cluster),
    }
    if policy.ports:
        body["ports"] = policy.ports
    return body


def network_route_body(spec: VirtualNetworkProperties) -> dict[str, Any]:
    return {
        "nodeName": spec.cluster_name,
        "networkCidr": spec.route,
        "metric": spec.network_route_metric,
        "description": marked("", spec.cluster_name),
    }


def edge_problems(spec: VirtualNetworkProperties, network: Mapping[str, Any]) -> list[str]:
    """Edge CIDRs that cannot route through a NAT network: VPC hosts send to the network's virtual space, or to an
    outside NAT's local side; an edge site's own LAN space is not reachable there."""
    virtual = str(network.get("networkCidr") or "")
    if network.get("noNat") or not virtual:
        return []
    locals_ = [n.local_cidr for n in spec.outside_nats]
    return [
        f"edge CIDR {cidr} lies neither in the network's virtual space {virtual} nor on the local side of an "
        "outside NAT; with a NAT network, give the remote virtual space (or an outside NAT's localCidr)"
        for cidr in spec.edge_cidrs
        if not cidr_inside(cidr, virtual) and not any(cidr_inside(cidr, local) for local in locals_)
    ]


# -- the reconciler ------------------------------------------------------------------------------------------


class VirtualNetworkReconciler:
    """Converges one attachment; ``client`` is the Trustgrid API. In a rollback it never fails on the network's
    staged changes: it leaves its own unpublished instead."""

    def __init__(self, client: TrustgridClient, log: JsonLogger, *, rolling_back: bool = False) -> None:
        self._client = client
        self._log = log
        self._rolling_back = rolling_back

    def converge(self, spec: VirtualNetworkProperties, old: VirtualNetworkProperties | None) -> None:
        """Make it so; ``old`` None for a create. A create that fails part-way removes what it made before it
        raises (the Provider framework sends no Delete for it)."""
        log = self._log.bind(cluster=spec.cluster_fqdn, network=spec.network_name)
        try:
            self._converge(spec, old, log)
        except Exception:
            if old is None:
                log.warning("vpn.create_failed_undo")
                self.delete(spec)
            raise

    def _converge(self, spec: VirtualNetworkProperties, old: VirtualNetworkProperties | None, log: JsonLogger) -> None:
        fqdn, network = spec.cluster_fqdn, spec.network_name
        found = self._network(network)
        problems = edge_problems(spec, found)
        if problems:
            raise NetworkRefused("Refused before anything changed: " + "; ".join(problems) + ".")
        attachment = self._attachment(fqdn, network)
        if attachment is None:
            log.info("vpn.attach", route=spec.route)
            self._client.attach_vpn(fqdn, network, spec.route)
        elif attachment.get("route") != spec.route:
            log.info("vpn.update_route", route=spec.route, was=attachment.get("route"))
            self._client.update_vpn_attachment(fqdn, network, spec.route)
        self._interface(spec, log)
        self._static_routes(spec, spec.routes, log)
        if spec.publish or (old is not None and old.publish):
            self._domain(spec, spec if spec.publish else None, log)

    def delete(self, spec: VirtualNetworkProperties) -> None:
        """Remove what is this resource's, in reverse order: the domain objects, the static routes, our NATs (the
        interface when nothing of anyone else's is left on it), the attachment (when nothing else hangs on it)."""
        log = self._log.bind(cluster=spec.cluster_fqdn, network=spec.network_name)
        fqdn, network = spec.cluster_fqdn, spec.network_name
        if spec.publish:
            self._domain(spec, None, log)
        try:
            attached = self._attachment(fqdn, network)
        except NotFound:  # the cluster itself is gone
            attached = None
        if attached is None:
            log.info("vpn.already_detached")
            return
        self._static_routes(spec, (), log)
        left = self._release_interface(spec, log)
        routes_left = self._client.list_vpn_routes(fqdn, network)
        attachment = self._attachment(fqdn, network) or {}
        if left or routes_left or attachment.get("route") != spec.route:
            log.info("vpn.attachment_kept", reason="others' entries are on it, or its route is not ours")
            return
        log.info("vpn.detach")
        self._client.detach_vpn(fqdn, network)

    # -- the steps ---------------------------------------------------------------------------------------

    def _network(self, network: str) -> dict[str, Any]:
        networks = self._client.list_networks()
        found = [n for n in networks if n.get("name") == network]
        if not found:
            names = ", ".join(sorted(str(n.get("name")) for n in networks)) or "none"
            raise NetworkRefused(
                f"Trustgrid has no virtual network named {network!r} (it has: {names}). Create it in the portal (or "
                "give the name of an existing one) and deploy again."
            )
        return dict(found[0])

    def _attachment(self, fqdn: str, network: str) -> dict[str, Any] | None:
        """The attachment, from the documented list of the cluster's attachments."""
        for attachment in self._client.list_vpn_attachments(fqdn):
            if network in (attachment.get("networkName"), attachment.get("name")):
                return dict(attachment)
        return None

    def _lan_nic(self, spec: VirtualNetworkProperties) -> str:
        """The LAN interface: the one the cluster resource configured (it carries this project's marked entries,
        named as the nodes report it), else the construct's name for it."""
        interfaces = (self._client.get_cluster(spec.cluster_fqdn).get("config") or {}).get("network", {})
        interfaces = interfaces.get("interfaces") or []
        for interface in interfaces:
            entries = [*(interface.get("routes") or []), *(interface.get("cloudRoutes") or [])]
            if interface.get("nic") and any(is_owned(e) for e in entries):
                return str(interface["nic"])
        if spec.lan_interface_name:
            return spec.lan_interface_name
        raise NetworkRefused(f"The cluster {spec.cluster_fqdn} has no LAN interface configured yet.")

    def _find_interface(self, fqdn: str, network: str, nic: str) -> dict[str, Any] | None:
        found = [i for i in self._client.list_vpn_interfaces(fqdn, network) if i.get("interfaceName") == nic]
        return dict(found[0]) if found else None

    def _interface(self, spec: VirtualNetworkProperties, log: JsonLogger) -> None:
        fqdn, network = spec.cluster_fqdn, spec.network_name
        nic = self._lan_nic(spec)
        current = self._find_interface(fqdn, network, nic)
        desired = interface_body(spec, nic, current)
        if current is None:
            log.info("vpn.attach_interface", interface=nic)
            self._client.add_vpn_interface(fqdn, network, desired)
        elif interface_differs(current, desired):
            log.info("vpn.update_interface", interface=nic)
            self._client.update_vpn_interface(fqdn, network, nic, desired)

    def _release_interface(self, spec: VirtualNetworkProperties, log: JsonLogger) -> list[dict[str, Any]]:
        """Our NATs off the LAN interface (the interface itself when nothing of anyone else's is left); what is
        left on it."""
        fqdn, network = spec.cluster_fqdn, spec.network_name
        nic = self._lan_nic(spec)
        current = self._find_interface(fqdn, network, nic)
        others = [i for i in self._client.list_vpn_interfaces(fqdn, network) if i.get("interfaceName") != nic]
        if current is None:
            return others
        left = theirs(current.get("insideNats") or []) + theirs(current.get("outsideNats") or [])
        flags_ours = (bool(current.get("inDefaultRoute")), bool(current.get("outDefaultRoute"))) == (
            spec.in_default_route,
            spec.out_default_route,
        )
        if not left and flags_ours:
            log.info("vpn.detach_interface", interface=nic)
            self._client.delete_vpn_interface(fqdn, network, nic)
            return others
        kept = {  # people's NATs, and the flags as they are (whose they are, Trustgrid does not say)
            **interface_body(replace_nats(spec), nic, current),
            "inDefaultRoute": bool(current.get("inDefaultRoute")),
            "outDefaultRoute": bool(current.get("outDefaultRoute")),
        }
        if interface_differs(current, kept):
            log.info("vpn.remove_nats", interface=nic)
            self._client.update_vpn_interface(fqdn, network, nic, kept)
        return [*others, current]

    def _static_routes(
        self, spec: VirtualNetworkProperties, wanted: Sequence[VpnRouteProperties], log: JsonLogger
    ) -> None:
        fqdn, network = spec.cluster_fqdn, spec.network_name
        bodies = {_view(route_body(r), ROUTE_KEYS): route_body(r) for r in wanted}
        current = self._client.list_vpn_routes(fqdn, network)
        for route in current:
            if is_owned(route) and _view(route, ROUTE_KEYS) not in bodies:
                log.info("vpn.delete_route", cidr=route.get("networkCidr"))
                self._client.delete_vpn_route(fqdn, network, str(route.get("uid")))
        present = {_view(r, ROUTE_KEYS) for r in current}
        for key, body in bodies.items():
            if key not in present:
                log.info("vpn.add_route", cidr=body["networkCidr"])
                self._client.add_vpn_route(fqdn, network, body)

    def _domain(self, spec: VirtualNetworkProperties, wanted: VirtualNetworkProperties | None, log: JsonLogger) -> None:
        """The network route of the cluster's subnet and the access policies as ``wanted`` says (None: none of
        ours), then one validate-and-commit when anything of ours is staged. A network deleted in the portal has
        nothing of ours left."""
        network = spec.network_name
        try:
            self._domain_routes(spec, wanted, log)
            self._policies(spec, wanted, log)
            ours, _ = self._staged(network, spec.cluster_name)
        except NotFound:
            log.info("vpn.network_gone")
            return
        except ApiError as exc:
            if "Unable to find" not in str(exc):
                raise
            log.info("vpn.network_gone")
            return
        if ours:
            self._publish(network, spec.cluster_name, log)

    def _domain_routes(
        self, spec: VirtualNetworkProperties, wanted: VirtualNetworkProperties | None, log: JsonLogger
    ) -> None:
        network = spec.network_name
        body = network_route_body(wanted) if wanted is not None else None
        current = self._client.list_network_routes(network)
        for route in current:
            mine = owned_by(route, spec.cluster_name) and route.get("nodeName") == spec.cluster_name
            if mine and (body is None or _view(route, NETWORK_ROUTE_KEYS) != _view(body, NETWORK_ROUTE_KEYS)):
                log.info("vpn.delete_network_route", cidr=route.get("networkCidr"))
                self._client.delete_network_route(network, str(route.get("uid")))
        if body is not None and _view(body, NETWORK_ROUTE_KEYS) not in {_view(r, NETWORK_ROUTE_KEYS) for r in current}:
            log.info("vpn.add_network_route", cidr=body["networkCidr"], metric=body["metric"])
            self._client.add_network_route(network, body)

    def _policies(
        self, spec: VirtualNetworkProperties, wanted: VirtualNetworkProperties | None, log: JsonLogger
    ) -> None:
        network, cluster = spec.network_name, spec.cluster_name
        policies = wanted.access_policies if wanted else ()
        bodies = {_view(policy_body(p, cluster), POLICY_KEYS): policy_body(p, cluster) for p in policies}
        current = self._client.list_access_policies(network)
        for policy in current:
            if owned_by(policy, cluster) and _view(policy, POLICY_KEYS) not in bodies:
                self._client.delete_access_policy(network, str(policy.get("uid")))
        present = {_view(p, POLICY_KEYS) for p in current}
        for key, body in bodies.items():
            if key not in present:
                log.info("vpn.add_access_policy", source=body["source"], dest=body["dest"])
                self._client.add_access_policy(network, body)

    def _staged(self, network: str, cluster: str) -> tuple[list[str], list[str]]:
        """(this cluster's staged changes, everybody else's), as words; a kind of change this project never makes
        is somebody else's."""
        ours: list[str] = []
        foreign: list[str] = []
        for change in self._client.staged_changes(network):
            for kind, items in change.items():
                for item in items if isinstance(items, list) else [items] if items else []:
                    mine = kind in ("routes", "accessPolicies") and isinstance(item, dict) and owned_by(item, cluster)
                    (ours if mine else foreign).append(_staged_words(kind, item))
        return ours, foreign

    def _publish(self, network: str, cluster: str, log: JsonLogger) -> None:
        """Validate, then commit that digest only if every change it covers is ours (a change staged by someone
        after the validation changes the digest, and the commit is refused)."""
        digest = self._client.validate_changes(network)
        _, foreign = self._staged(network, cluster)
        if foreign:
            message = (
                f"The virtual network {network!r} holds staged changes this stack did not make "
                f"({'; '.join(sorted(set(foreign)))}). A commit would publish them too: commit or revert them in "
                "the portal, then deploy again; or leave the network's routes and policies to the network team "
                "(publish off)."
            )
            if self._rolling_back:  # a rollback never fails: ours stay staged, unpublished
                log.warning("vpn.publish_skipped", reason=message)
                return
            raise NetworkRefused(message)
        log.info("vpn.publish")
        self._client.commit_changes(network, digest)


def replace_nats(spec: VirtualNetworkProperties) -> VirtualNetworkProperties:
    """``spec`` without NATs of its own (what is left of the interface once ours are removed)."""
    return replace(spec, inside_nats=(), outside_nats=())


def _staged_words(kind: str, item: Any) -> str:
    if not isinstance(item, dict):
        return kind
    if kind == "routes":
        return f"route {item.get('networkCidr')} to {item.get('nodeName')}"
    if kind == "accessPolicies":
        return f"access policy {item.get('source')} -> {item.get('dest')}"
    return kind
