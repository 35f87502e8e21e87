"""The cluster's attachment to a Trustgrid virtual network, in Trustgrid's own terms (opt-in).

``VirtualNetwork(name=..., route=...)`` attaches an existing network to the cluster with the cluster's validation
route (its virtual subnet), attaches the cluster's LAN interface with its NATs, and adds the cluster's VPN static
routes. ``publish=True`` (a second, explicit opt-in) also routes the cluster's virtual subnet to the cluster in the
network's route table and adds access policies: organisation-wide objects, published through the network's
validate-and-commit, which the handler refuses while changes it did not make are staged. Leave ``publish`` off to
leave those to the network team.

With a NAT network, the cluster's ``edge_cidrs`` (the AWS route-table entries) are the remote *virtual* space VPC
hosts send to (or an outside NAT's local space), not the edge sites' own LAN CIDRs.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace

from trustgrid_ha_runtime.contract import (
    AccessPolicyProperties,
    NatProperties,
    PropertyError,
    VirtualNetworkProperties,
    VpnRouteProperties,
    cidrs_overlap,
)

from .errors import Problem, is_unresolved

#: Stands in for the cluster's FQDN (a deploy-time value) when the rules are applied at synth time.
_SYNTH_FQDN = "cluster.example.trustgrid.io"


@dataclass(frozen=True)
class Nat:
    """A NAT of the cluster's LAN interface: ``network_cidr`` (virtual) is ``local_cidr`` (local); both the same
    size. ``proxy_arp`` applies to an outside NAT."""

    network_cidr: str
    local_cidr: str
    description: str = ""
    proxy_arp: bool = False


@dataclass(frozen=True)
class VpnRoute:
    """A VPN static route of the cluster: ``network_cidr`` via ``node`` (a node name; @default - the cluster)."""

    network_cidr: str
    node: str = ""
    metric: int = 1
    description: str = ""


@dataclass(frozen=True)
class AccessPolicy:
    """An access policy of the network (published only with ``publish``): ``action`` (allow, reject or drop)
    ``protocol`` (any, tcp, udp or icmp) traffic from ``source`` to ``dest`` on ``ports`` (@default - all)."""

    source: str
    dest: str
    action: str = "allow"
    protocol: str = "any"
    ports: str = ""
    line_number: int = 100
    description: str = ""


@dataclass(frozen=True)
class VirtualNetwork:
    """Attach the cluster to the existing virtual network ``name`` with its validation ``route`` (the cluster's
    virtual subnet). ``inside_nats``/``outside_nats``, ``in_default_route``/``out_default_route`` (at most one)
    configure the LAN interface; ``routes`` are the cluster's VPN static routes; ``publish`` (@default - false)
    also publishes the network route of ``route`` to the cluster (``network_route_metric``, 1 to 200) and the
    ``access_policies``."""

    name: str
    route: str
    inside_nats: Sequence[Nat] = ()
    outside_nats: Sequence[Nat] = ()
    in_default_route: bool = False
    out_default_route: bool = False
    routes: Sequence[VpnRoute] = ()
    publish: bool = False
    network_route_metric: int = 10
    access_policies: Sequence[AccessPolicy] = field(default_factory=tuple)

    def properties(
        self, cluster_fqdn: str, cluster_name: str, edge_cidrs: Sequence[str] = (), lan_interface_name: str = ""
    ) -> VirtualNetworkProperties:
        """The custom resource's properties."""
        return VirtualNetworkProperties(
            cluster_fqdn=cluster_fqdn,
            cluster_name=cluster_name,
            network_name=self.name,
            route=self.route,
            edge_cidrs=tuple(edge_cidrs),
            lan_interface_name=lan_interface_name,
            inside_nats=tuple(
                NatProperties(n.network_cidr, n.local_cidr, n.description, n.proxy_arp) for n in self.inside_nats
            ),
            outside_nats=tuple(
                NatProperties(n.network_cidr, n.local_cidr, n.description, n.proxy_arp) for n in self.outside_nats
            ),
            in_default_route=self.in_default_route,
            out_default_route=self.out_default_route,
            routes=tuple(VpnRouteProperties(r.network_cidr, r.node, r.metric, r.description) for r in self.routes),
            publish=self.publish,
            network_route_metric=self.network_route_metric,
            access_policies=tuple(
                AccessPolicyProperties(p.source, p.dest, p.action, p.protocol, p.ports, p.line_number, p.description)
                for p in self.access_policies
            ),
        )

    def problems(self, cluster_name: str, edge_cidrs: Sequence[str]) -> list[Problem]:
        """The handler's rules, now (a deploy-time name or route stands in as a valid placeholder: the handler
        checks it), and the edge CIDRs that cannot route through this network."""
        found = _types(self, "virtual_network")
        if found:
            return found
        checked = replace(
            self,
            name="placeholder-network" if is_unresolved(self.name) else self.name,
            route=_PLACEHOLDER_ROUTE if is_unresolved(self.route) else self.route,
        )
        try:
            checked.properties(_SYNTH_FQDN, cluster_name).validate()
        except PropertyError as exc:
            return [Problem(f"virtual_network.{json_path(exc.key)}", exc.value, exc.fix or str(exc))]
        return [] if is_unresolved(self.route) else self._edges(edge_cidrs)

    def _edges(self, edge_cidrs: Sequence[str]) -> list[Problem]:
        found = []
        own_subnet = (
            f"it overlaps the cluster's own virtual subnet (virtual_network.route {self.route}); give the remote "
            "space VPC hosts send to."
        )
        for index, cidr in enumerate(edge_cidrs):
            if is_unresolved(cidr):
                continue
            if cidrs_overlap(cidr, self.route):
                found.append(Problem(f"edge_cidrs[{index}]", cidr, own_subnet))
            found += [
                Problem(
                    f"edge_cidrs[{index}]",
                    cidr,
                    f"it overlaps {nat.local_cidr}, the local side of an inside NAT (this side's own network): route "
                    "the remote virtual space (or an outside NAT's localCidr) to the gateways instead.",
                )
                for nat in self.inside_nats
                if cidrs_overlap(cidr, nat.local_cidr)
            ]
        return found


_PLACEHOLDER_ROUTE = "100.64.0.0/24"
#: The type of each field, as words for a message, and its check.
_TYPES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
}
_ITEMS = {"inside_nats": Nat, "outside_nats": Nat, "routes": VpnRoute, "access_policies": AccessPolicy}


def _types(value: object, where: str) -> list[Problem]:
    """Each field of the value the type it is declared with (lists of NATs, routes and policies item by item),
    reported under Trustgrid's (and cdk.json's) names."""
    found = []
    hints = typing.get_type_hints(type(value))
    for spec in fields(value):  # type: ignore[arg-type]
        item, path = getattr(value, spec.name), f"{where}.{_camel(spec.name)}"
        if spec.name in _ITEMS:
            if isinstance(item, str) or not isinstance(item, Sequence):
                found.append(Problem(path, item, f"give a list of {_ITEMS[spec.name].__name__} entries."))
                continue
            for index, entry in enumerate(item):
                if isinstance(entry, _ITEMS[spec.name]):
                    found += _types(entry, f"{path}[{index}]")
                else:
                    found.append(Problem(f"{path}[{index}]", entry, f"give a {_ITEMS[spec.name].__name__}."))
            continue
        words, accepts = _TYPES[getattr(hints[spec.name], "__name__", str(hints[spec.name]))]
        if is_unresolved(item) and "[" in path:  # an entry of a list is checked and written one by one, now
            found.append(Problem(path, item, f"give {words} itself: the network's entries are checked at synth time."))
        elif not (accepts(item) or is_unresolved(item)):
            found.append(Problem(path, item, f"give {words}."))
    return found


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def json_path(wire: str) -> str:
    """A contract's wire path in Trustgrid's (and cdk.json's) spelling: ``InsideNats[0].NetworkCidr`` is
    ``insideNats[0].networkCidr``."""
    parts = [{"NetworkName": "name"}.get(part, part[:1].lower() + part[1:]) for part in wire.split(".")]
    return ".".join(parts)
