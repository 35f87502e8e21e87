"""The stand-in's virtual networks: the cluster's attachment (``/v2/cluster/{fqdn}/vpn...``) and the domain's
networks (``/v2/domain/{domain}/network...``), as Trustgrid's OpenAPI description (api-docs ``index.yaml``) and
its Terraform provider describe them (shared/trustgrid-facts.md, "Virtual networks").

Every request body is checked against :data:`BODIES`, our own transcription of the published request models (and
of the fields the vendor's provider sends beyond them): an unknown field or a wrong type is recorded in
``schema_violations`` (the tests assert there are none); a missing required field or a value the API refuses is
answered 422 with a JSON array of messages (the published ``ValidationFailed``).

Chosen here where the sources are silent (noted in the issue's closing note): a GET of an attachment that does not
exist answers 404 (the provider treats 404 as gone; the description lists no 404); a cluster with a network still
attached cannot be deleted (422), as the vendor's teardown order suggests; staged domain changes are listed by
``GET .../change`` as one inventory per change, and routes and policies are visible in their lists once staged.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

#: Request models: endpoint -> (field -> type, required fields). ``networkName`` on attach is what the vendor's
#: provider sends (the description names the field ``name``); ``description`` on an interface likewise.
INSIDE_NAT_FIELDS = {"networkCidr": str, "localCidr": str, "description": str}
OUTSIDE_NAT_FIELDS = {**INSIDE_NAT_FIELDS, "proxyArp": bool, "networkGroup": str}
BODIES: dict[str, tuple[dict[str, type | tuple[type, ...]], frozenset[str]]] = {
    "vpn_attach": ({"ip": str, "name": str, "route": str, "networkName": str}, frozenset()),
    "vpn_update": ({"ip": str, "name": str, "route": str, "networkName": str}, frozenset()),
    "vpn_add_interface": (
        {
            "interfaceName": str,
            "inDefaultRoute": bool,
            "outDefaultRoute": bool,
            "insideNats": list,
            "outsideNats": list,
            "description": str,
        },
        frozenset(),
    ),
    "vpn_add_route": (
        {"networkCidr": str, "node": str, "metric": int, "description": str, "path": str, "monitors": list},
        frozenset(),
    ),
    "network_add_route": (
        {"uid": str, "networkCidr": str, "nodeName": str, "metric": int, "description": str, "monitors": list},
        frozenset(),
    ),
    "network_add_policy": (
        {
            "uid": str,
            "action": str,
            "protocol": str,
            "source": str,
            "dest": str,
            "notDest": bool,
            "ports": str,
            "lineNumber": int,
            "description": str,
        },
        frozenset({"protocol", "source", "dest"}),
    ),
    "network_commit": ({"digest": str}, frozenset({"digest"})),
}
BODIES["vpn_update_interface"] = BODIES["vpn_add_interface"]

VPN_ROUTES = [
    ("GET", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn$"), "vpn_list"),
    ("POST", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn$"), "vpn_attach"),
    ("GET", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)$"), "vpn_get"),
    ("PUT", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)$"), "vpn_update"),
    ("DELETE", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)$"), "vpn_detach"),
    ("GET", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)/interface$"), "vpn_interfaces"),
    ("POST", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)/interface$"), "vpn_add_interface"),
    ("PUT", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)/interface/(?P<nic>[^/]+)$"),
     "vpn_update_interface"),
    ("DELETE", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)/interface/(?P<nic>[^/]+)$"),
     "vpn_delete_interface"),
    ("GET", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)/route$"), "vpn_routes"),
    ("POST", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)/route$"), "vpn_add_route"),
    ("DELETE", re.compile(r"^/v2/cluster/(?P<fqdn>[^/]+)/vpn/(?P<net>[^/]+)/route/(?P<uid>[^/]+)$"),
     "vpn_delete_route"),
    ("GET", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network$"), "networks"),
    ("GET", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/route$"), "network_routes"),
    ("POST", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/route$"), "network_add_route"),
    ("DELETE", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/route/(?P<uid>[^/]+)$"),
     "network_delete_route"),
    ("GET", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/access-policy$"), "network_policies"),
    ("POST", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/access-policy$"),
     "network_add_policy"),
    ("DELETE", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/access-policy/(?P<uid>[^/]+)$"),
     "network_delete_policy"),
    ("GET", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/change$"), "network_staged"),
    ("GET", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/change/validate$"), "network_validate"),
    ("POST", re.compile(r"^/v2/domain/(?P<domain>[^/]+)/network/(?P<net>[^/]+)/change/commit$"), "network_commit"),
]  # fmt: skip


class Refused(Exception):
    def __init__(self, status: int, messages: list[str]) -> None:
        self.status, self.messages = status, messages


def _cidr(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        return None


class VirtualNetworks:
    """State and behaviour of virtual networks; mixed into the stand-in (which holds ``nodes`` and ``clusters``)."""

    domain: str
    nodes: dict[str, dict[str, Any]]
    clusters: dict[str, dict[str, Any]]

    def _init_networks(self) -> None:
        #: network name -> {"name", "networkCidr", "noNat", "routes": {uid: route}, "policies": {uid: policy}}
        self.networks: dict[str, dict[str, Any]] = {}
        #: network name -> staged changes: {"op": "add" | "delete", "kind": "routes" | "accessPolicies", "object"}
        self.staged: dict[str, list[dict[str, Any]]] = {}
        #: cluster FQDN -> network name -> {"route", "interfaces": {nic: body}, "routes": {uid: route}}
        self.attachments: dict[str, dict[str, dict[str, Any]]] = {}
        #: requests whose body a published model does not describe (field, type)
        self.schema_violations: list[str] = []
        self.commits: dict[str, int] = {}
        #: called after each validation (a test stages someone's change between validation and commit)
        self.on_validate: Any = None

    # -- test controls ------------------------------------------------------------------------------------------

    def add_network(self, name: str, cidr: str = "100.64.0.0/16", *, no_nat: bool = False) -> None:
        self.networks[name] = {"name": name, "networkCidr": cidr, "noNat": no_nat, "routes": {}, "policies": {}}
        self.staged[name] = []

    def stage_foreign_route(self, network: str, cidr: str, node: str) -> None:
        """Somebody else's change, staged in the portal and not committed."""
        self.staged[network].append(
            {"op": "add", "kind": "routes", "object": {"uid": str(uuid.uuid4()), "networkCidr": cidr,
                                                       "nodeName": node, "metric": 5}}
        )  # fmt: skip

    def network_add_route_staged(self, network: str, route: dict[str, Any]) -> None:
        """A route staged and never committed (a commit that failed)."""
        self.staged[network].append({"op": "add", "kind": "routes", "object": route})

    def published_routes(self, network: str) -> list[dict[str, Any]]:
        return list(self.networks[network]["routes"].values())

    # -- checks -------------------------------------------------------------------------------------------------

    def check_body(self, endpoint: str, body: Any) -> None:
        if endpoint not in BODIES:
            return
        fields, required = BODIES[endpoint]
        if not isinstance(body, dict):
            raise Refused(422, ["the request body must be a JSON object"])
        self._check_fields(endpoint, body, fields)
        for nats, model in (("insideNats", INSIDE_NAT_FIELDS), ("outsideNats", OUTSIDE_NAT_FIELDS)):
            for nat in body.get(nats) or []:
                self._check_fields(f"{endpoint} {nats}", nat, model)
        missing = sorted(required - set(body))
        if missing:
            raise Refused(422, [f"{key} is required" for key in missing])

    def _check_fields(self, where: str, body: dict[str, Any], model: Mapping[str, Any]) -> None:
        for key, value in body.items():
            if key not in model:
                self.schema_violations.append(f"{where}: unknown field {key!r}")
            elif not isinstance(value, model[key]) or (model[key] is int and isinstance(value, bool)):
                self.schema_violations.append(f"{where}: {key} is {type(value).__name__}")

    def _attached(self, fqdn: str, net: str) -> dict[str, Any]:
        found = self.attachments.get(fqdn, {}).get(net)
        if found is None:
            raise Refused(404, [f"network {net} is not attached to {fqdn}"])
        return found

    def _domain_network(self, domain: str, net: str | None = None) -> dict[str, Any]:
        if domain != self.domain:
            raise Refused(404, [f"domain {domain} not found"])
        if net is None:
            return {}
        if net not in self.networks:
            raise Refused(422, [f"Unable to find {net} in domain networks"])
        return self.networks[net]

    # -- the cluster's attachment -------------------------------------------------------------------------------

    def _vpn_list(self, body: Any, query: Any, fqdn: str) -> tuple[int, Any]:
        self.clusters_or_404(fqdn)
        return 200, [
            {"name": net, "networkName": net, "route": a["route"], "fqdn": fqdn}
            for net, a in self.attachments.get(fqdn, {}).items()
        ]

    def _vpn_attach(self, body: Any, query: Any, fqdn: str) -> tuple[int, Any]:
        self.clusters_or_404(fqdn)
        self.check_body("vpn_attach", body)
        net = body.get("name") or body.get("networkName")
        if net not in self.networks:
            raise Refused(422, [f"Unable to find {net} in domain networks"])
        if _cidr(body.get("route")) is None:
            raise Refused(422, [f"route {body.get('route')!r} is not a valid CIDR"])
        if net in self.attachments.get(fqdn, {}):
            raise Refused(422, [f"network {net} is already attached to {fqdn}"])
        self.attachments.setdefault(fqdn, {})[net] = {"route": body["route"], "interfaces": {}, "routes": {}}
        return 200, self._inventory(fqdn, net)

    def _inventory(self, fqdn: str, net: str) -> dict[str, Any]:
        a = self._attached(fqdn, net)
        return {"route": a["route"], "interfaces": list(a["interfaces"].values()), "routes": list(a["routes"].values()),
                "dns": None, "exportRoutes": [], "importRoutes": [], "services": []}  # fmt: skip

    def _vpn_get(self, body: Any, query: Any, fqdn: str, net: str) -> tuple[int, Any]:
        self.clusters_or_404(fqdn)
        return 200, self._inventory(fqdn, net)

    def _vpn_update(self, body: Any, query: Any, fqdn: str, net: str) -> tuple[int, Any]:
        self.check_body("vpn_update", body)
        attachment = self._attached(fqdn, net)
        if "route" in body:
            if _cidr(body["route"]) is None:
                raise Refused(422, [f"route {body['route']!r} is not a valid CIDR"])
            attachment["route"] = body["route"]
        return 200, None

    def _vpn_detach(self, body: Any, query: Any, fqdn: str, net: str) -> tuple[int, Any]:
        self._attached(fqdn, net)
        del self.attachments[fqdn][net]
        return 200, None

    def _vpn_interfaces(self, body: Any, query: Any, fqdn: str, net: str) -> tuple[int, Any]:
        return 200, [{**i, "fqdn": fqdn, "networkName": net} for i in self._attached(fqdn, net)["interfaces"].values()]

    def _interface_problems(self, fqdn: str, body: dict[str, Any]) -> list[str]:
        problems = []
        nics = {
            i.get("nic") for i in (self.clusters[fqdn].get("config") or {}).get("network", {}).get("interfaces") or []
        }
        if body.get("interfaceName") not in nics:
            problems.append(f"interface {body.get('interfaceName')!r} is not an interface of the cluster")
        if body.get("inDefaultRoute") and body.get("outDefaultRoute"):
            problems.append("inDefaultRoute and outDefaultRoute are mutually exclusive")
        for nat in [*(body.get("insideNats") or []), *(body.get("outsideNats") or [])]:
            a, b = _cidr(nat.get("networkCidr")), _cidr(nat.get("localCidr"))
            if a is None or b is None or a.prefixlen != b.prefixlen:
                problems.append(f"NAT {nat.get('networkCidr')} -> {nat.get('localCidr')}: CIDRs of the same size")
        return problems

    def _vpn_add_interface(self, body: Any, query: Any, fqdn: str, net: str) -> tuple[int, Any]:
        self.check_body("vpn_add_interface", body)
        attachment = self._attached(fqdn, net)
        problems = self._interface_problems(fqdn, body)
        if body.get("interfaceName") in attachment["interfaces"]:
            problems.append(f"interface {body['interfaceName']} is attached already")
        if problems:
            raise Refused(422, problems)
        attachment["interfaces"][body["interfaceName"]] = _interface(body)
        return 200, None

    def _vpn_update_interface(self, body: Any, query: Any, fqdn: str, net: str, nic: str) -> tuple[int, Any]:
        self.check_body("vpn_update_interface", body)
        attachment = self._attached(fqdn, net)
        if nic not in attachment["interfaces"]:
            raise Refused(404, [f"interface {nic} not found"])
        problems = self._interface_problems(fqdn, {**body, "interfaceName": body.get("interfaceName", nic)})
        if problems:
            raise Refused(422, problems)
        attachment["interfaces"][nic] = _interface({**body, "interfaceName": nic})
        return 200, None

    def _vpn_delete_interface(self, body: Any, query: Any, fqdn: str, net: str, nic: str) -> tuple[int, Any]:
        attachment = self._attached(fqdn, net)
        if attachment["interfaces"].pop(nic, None) is None:
            raise Refused(404, [f"interface {nic} not found"])
        return 200, None

    def _vpn_routes(self, body: Any, query: Any, fqdn: str, net: str) -> tuple[int, Any]:
        routes = self._attached(fqdn, net)["routes"].values()
        return 200, [{**r, "fqdn": fqdn, "networkName": net} for r in routes]

    def _vpn_add_route(self, body: Any, query: Any, fqdn: str, net: str) -> tuple[int, Any]:
        self.check_body("vpn_add_route", body)
        attachment = self._attached(fqdn, net)
        if _cidr(body.get("networkCidr")) is None:
            raise Refused(422, ["networkCidr must be a CIDR"])
        if not 1 <= int(body.get("metric") or 0) <= 200:
            raise Refused(422, ["metric must be from 1 to 200"])
        uid = str(uuid.uuid4())
        attachment["routes"][uid] = {**body, "uid": uid}
        return 200, None

    def _vpn_delete_route(self, body: Any, query: Any, fqdn: str, net: str, uid: str) -> tuple[int, Any]:
        if self._attached(fqdn, net)["routes"].pop(uid, None) is None:
            raise Refused(404, [f"route {uid} not found"])
        return 200, None

    # -- the domain's networks ----------------------------------------------------------------------------------

    def _networks(self, body: Any, query: Any, domain: str) -> tuple[int, Any]:
        self._domain_network(domain)
        return 200, [{k: v for k, v in n.items() if k not in ("routes", "policies")} for n in self.networks.values()]

    def _visible(self, net: str, kind: str) -> list[dict[str, Any]]:
        """Committed objects, with the staged additions and without the staged removals."""
        committed = self.networks[net]["routes" if kind == "routes" else "policies"]
        objects = {uid: o for uid, o in committed.items()}
        for change in self.staged[net]:
            if change["kind"] == kind:
                if change["op"] == "add":
                    objects[change["object"]["uid"]] = change["object"]
                else:
                    objects.pop(change["object"]["uid"], None)
        return list(objects.values())

    def _network_routes(self, body: Any, query: Any, domain: str, net: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        return 200, self._visible(net, "routes")

    def _network_add_route(self, body: Any, query: Any, domain: str, net: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        self.check_body("network_add_route", body)
        names = {n["name"] for n in self.nodes.values()} | {c["name"] for c in self.clusters.values()}
        problems = [] if body.get("nodeName") in names else [f"no node or cluster named {body.get('nodeName')!r}"]
        if _cidr(body.get("networkCidr")) is None:
            problems.append("networkCidr must be a CIDR")
        if not 1 <= int(body.get("metric") or 0) <= 200:
            problems.append("metric must be from 1 to 200")
        if problems:
            raise Refused(422, problems)
        self.staged[net].append({"op": "add", "kind": "routes", "object": {**body, "uid": str(uuid.uuid4())}})
        return 200, None

    def _network_delete_route(self, body: Any, query: Any, domain: str, net: str, uid: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        found = [r for r in self._visible(net, "routes") if r["uid"] == uid]
        if not found:
            raise Refused(404, ["Not Found"])
        self.staged[net].append({"op": "delete", "kind": "routes", "object": found[0]})
        return 200, None

    def _network_policies(self, body: Any, query: Any, domain: str, net: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        return 200, self._visible(net, "accessPolicies")

    def _network_add_policy(self, body: Any, query: Any, domain: str, net: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        self.check_body("network_add_policy", body)
        problems = []
        if body.get("protocol") not in ("any", "tcp", "udp", "icmp"):
            problems.append("protocol must be any, tcp, udp or icmp")
        if body.get("action", "allow") not in ("allow", "deny", "reject", "drop"):
            problems.append("action is not valid")
        if problems:
            raise Refused(422, problems)
        obj = {**body, "uid": str(uuid.uuid4())}
        self.staged[net].append({"op": "add", "kind": "accessPolicies", "object": obj})
        return 200, None

    def _network_delete_policy(self, body: Any, query: Any, domain: str, net: str, uid: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        found = [p for p in self._visible(net, "accessPolicies") if p["uid"] == uid]
        if not found:
            raise Refused(404, ["Not Found"])
        self.staged[net].append({"op": "delete", "kind": "accessPolicies", "object": found[0]})
        return 200, None

    def _network_staged(self, body: Any, query: Any, domain: str, net: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        return 200, [{"routes": [], "accessPolicies": [], change["kind"]: [change["object"]]} for change in
                     self.staged[net]]  # fmt: skip

    def _digest(self, net: str) -> str:
        return hashlib.sha1(json.dumps(self.staged[net], sort_keys=True).encode()).hexdigest()

    def _network_validate(self, body: Any, query: Any, domain: str, net: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        digest = self._digest(net)
        if self.on_validate is not None:
            self.on_validate()
        return 200, {"digest": digest}

    def _network_commit(self, body: Any, query: Any, domain: str, net: str) -> tuple[int, Any]:
        self._domain_network(domain, net)
        self.check_body("network_commit", body)
        if body["digest"] != self._digest(net):
            raise Refused(422, ["the digest does not match the staged changes: validate again"])
        network = self.networks[net]
        for change in self.staged[net]:
            objects = network["routes" if change["kind"] == "routes" else "policies"]
            if change["op"] == "add":
                objects[change["object"]["uid"]] = change["object"]
            else:
                objects.pop(change["object"]["uid"], None)
        self.staged[net] = []
        self.commits[net] = self.commits.get(net, 0) + 1
        return 200, None

    def clusters_or_404(self, fqdn: str) -> None:
        if fqdn not in self.clusters:
            raise Refused(404, [f"cluster {fqdn} not found"])


def _interface(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "interfaceName": body["interfaceName"],
        "insideNats": list(body.get("insideNats") or []),
        "outsideNats": list(body.get("outsideNats") or []),
        "inDefaultRoute": bool(body.get("inDefaultRoute")),
        "outDefaultRoute": bool(body.get("outDefaultRoute")),
    }
