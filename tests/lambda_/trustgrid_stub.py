"""A stand-in for the Trustgrid management API: a real HTTP server on 127.0.0.1.

It behaves like the API in shared/trustgrid-facts.md:

- minting a license reserves the name (422 with a ``text/plain`` body when it is
  taken) and returns a JWT whose ``jti`` is the future node's uid, but the node
  record does not exist until the node registers: ``GET /node/{uid}`` and
  ``GET /node/by-fqdn/...`` answer 404 until then. Registration happens when a
  test says so, or some :meth:`TrustgridStub.tick` calls (polls) later;
- a registered node carries ``device`` information (its OS interface names),
  ``online``, and server-managed fields in its config that a write must not send
  back (the stand-in answers 422 when it does);
- ``PUT /node/{uid}/config/gateway`` enables the gateway service; a change
  restarts the node's service, so the node is offline for a poll;
- cluster models carry server-managed fields (``health``, ``created_at``,
  ``lifecycleState``, ``tgrn``, ``org``) that ``PUT /cluster`` refuses;
- name validation, promotion only for members, network config replaced on PUT,
  401 without the right auth header;
- the *configured* active member and the member that *holds the role* are two
  facts, as in Trustgrid: ``PUT /cluster/{fqdn}/active/{uid}`` changes the
  configured member (``config.cluster.master``) at once and moves the role
  (``shadow.reported["cluster.master"]``) only when that member is online with
  its heartbeat on; a member that goes offline loses the role to an online
  standby (an ungraceful failover); in ``autoFailback`` mode the configured
  member takes the role back once it is online again.

Not documented by Trustgrid, and chosen here: ``DELETE /node/{uid}`` of a license
that never registered frees its name.

It records every request and injects faults per endpoint.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.lambda_.trustgrid_vpn_stub import VPN_ROUTES, Refused, VirtualNetworks

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

ROUTES = [
    ("GET", re.compile(r"^/org/mine$"), "org"),
    ("GET", re.compile(r"^/node/license$"), "license"),
    ("GET", re.compile(r"^/node$"), "list_nodes"),
    ("GET", re.compile(r"^/node/by-fqdn/(?P<fqdn>[^/]+)$"), "node_by_fqdn"),
    ("GET", re.compile(r"^/node/(?P<uid>[^/]+)$"), "get_node"),
    ("DELETE", re.compile(r"^/node/(?P<uid>[^/]+)$"), "delete_node"),
    ("PUT", re.compile(r"^/node/(?P<uid>[^/]+)$"), "put_node"),
    ("PUT", re.compile(r"^/node/(?P<uid>[^/]+)/config/cluster$"), "put_heartbeat"),
    ("PUT", re.compile(r"^/node/(?P<uid>[^/]+)/config/network$"), "put_node_network"),
    ("PUT", re.compile(r"^/node/(?P<uid>[^/]+)/config/gateway$"), "put_gateway"),
    ("POST", re.compile(r"^/cluster$"), "create_cluster"),
    ("GET", re.compile(r"^/cluster/(?P<fqdn>[^/]+)$"), "get_cluster"),
    ("PUT", re.compile(r"^/cluster/(?P<fqdn>[^/]+)$"), "put_cluster"),
    ("DELETE", re.compile(r"^/cluster/(?P<fqdn>[^/]+)$"), "delete_cluster"),
    ("PUT", re.compile(r"^/cluster/(?P<fqdn>[^/]+)/active/(?P<uid>[^/]+)$"), "set_active"),
    ("PUT", re.compile(r"^/cluster/(?P<fqdn>[^/]+)/config/network$"), "put_cluster_network"),
    ("PUT", re.compile(r"^/cluster/(?P<fqdn>[^/]+)/tag/(?P<tag>[^/]+)$"), "put_cluster_tag"),
    *VPN_ROUTES,
]


@dataclass
class Fault:
    """``kind``: ``status`` (answer ``status``), ``slow`` (act, then answer after ``delay`` seconds, later
    than the client waits) or ``drop`` (close the connection unanswered). ``acted``: the API performs the
    call before the fault (a proxy's 504, a connection lost after the work was done)."""

    kind: str
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    acted: bool = False


def error(status: int, retry_after: str | None = None, *, acted: bool = False) -> Fault:
    return Fault("status", status=status, retry_after=retry_after, acted=acted)


def slow(delay: float) -> Fault:
    return Fault("slow", delay=delay, acted=True)


DROP = Fault("drop")
#: The API acts, then the answer is lost on the way back.
LOST_ANSWER = Fault("drop", acted=True)

#: Fields of a node's cluster config that only the server writes.
SERVER_HEARTBEAT_FIELDS = frozenset({"updateTime", "versionCounter", "masterVersion", "shared"})
HEARTBEAT_FIELDS = frozenset({"enabled", "host", "port", "statusHost", "statusPort", "master"})
#: The gateway config's fields: the published schema plus what Trustgrid's Terraform provider writes.
GATEWAY_FIELDS = frozenset(
    {
        "enabled", "type", "host", "port", "udpEnabled", "udpPort", "maxmbps", "maxClientWriteMbps", "cert",
        "clients", "connectToPublic", "monitorHops", "paths", "routes",
    }
)  # fmt: skip
SERVER_CLUSTER_FIELDS = frozenset({"health", "created_at", "lifecycleState", "tgrn", "org"})


@dataclass
class Boot:
    """A gateway's first boot as the control plane sees it: registered after some polls, then online."""

    register_in: int
    online_in: int = 0
    lan_nic: str | None = "ens6"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None
    fault: str | None = None
    acted: bool = False

    @property
    def write(self) -> bool:
        return self.method != "GET"


class ApiFailure(Exception):
    def __init__(self, status: int, messages: list[str] | None = None) -> None:
        self.status = status
        self.messages = messages or []


@dataclass
class TrustgridStub(VirtualNetworks):
    key_id: str = "stub-key-id"
    key_secret: str = "stub-key-secret-do-not-log"
    domain: str = "acme.trustgrid.io"
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    licenses: dict[str, str] = field(default_factory=dict)
    #: minted licenses that have not registered: uid -> node name
    reservations: dict[str, str] = field(default_factory=dict)
    boots: dict[str, Boot] = field(default_factory=dict)
    #: uid -> polls until a node whose gateway service changed is back online
    restarts: dict[str, int] = field(default_factory=dict)
    #: polls a node is offline after its gateway service changed
    restart_polls: int = 1
    #: cluster FQDN -> the most members that were offline at the same time
    most_members_down: dict[str, int] = field(default_factory=dict)
    #: uid -> the member's LAN ENI (what the node itself knows; the route agent of the tests uses it)
    lan_enis: dict[str, str] = field(default_factory=dict)
    #: cluster FQDN -> role moves: ("graceful" | "ungraceful", from uid, to uid)
    role_moves: dict[str, list[tuple[str, str | None, str | None]]] = field(default_factory=dict)
    #: polls between ``PUT /cluster/{fqdn}/active/{uid}`` and the role moving (the configured flag changes at once)
    role_lag: int = 0
    #: cluster FQDN -> polls left until a requested role move is carried out
    pending_roles: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._init_networks()
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- test controls ------------------------------------------------------------------------

    def start(self) -> TrustgridStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                stub._handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def inject(self, endpoint: str, *faults: Fault) -> None:
        """Queue faults for an endpoint (a route name such as ``create_cluster``), used once each."""
        self._faults[endpoint].extend(faults)

    def add_node(self, name: str, *, online: bool = True, uid: str | None = None, lan_nic: str | None = "ens6") -> str:
        """A registered node (as after first boot): its record, device information and empty config."""
        uid = uid or str(uuid.uuid4())
        device: dict[str, Any] = {"vendor": "aws", "model": "c6i.large", "mac": "0a:00:00:00:00:01"}
        if lan_nic:
            device.update(wan="ens5" if lan_nic == "ens6" else "enp39s0", lan=[lan_nic])
        with self._lock:
            self.reservations.pop(uid, None)
            self.nodes[uid] = {
                "uid": uid,
                "name": name,
                "fqdn": f"{name}.{self.domain}",
                "online": online,
                "device": device,
                "tgrn": f"tgrn:tg::nodes:node/{uid}",
                "created_at": 1_800_000_000,
                "lifecycleState": "pre-production",
                "config": {},
            }
        return uid

    def register(self, uid: str, *, online: bool = True, lan_nic: str | None = "ens6") -> None:
        """The node of a minted license completes registration."""
        self.add_node(self.reservations[uid], online=online, uid=uid, lan_nic=lan_nic)

    def boot(self, uid: str, *, register_in: int, online_in: int = 0, lan_nic: str | None = "ens6") -> None:
        """The instance of license ``uid`` exists: it registers ``register_in`` polls from now, online
        ``online_in`` polls after that."""
        self.boots[uid] = Boot(register_in, online_in, lan_nic)

    def knows(self, uid: str) -> bool:
        """Whether Trustgrid still holds the node: registered, or a license reserving its name."""
        return uid in self.nodes or uid in self.reservations

    def tick(self) -> None:
        """One poll interval passes: booting nodes move on, restarted gateway services come back."""
        with self._lock:
            for uid, boot in list(self.boots.items()):
                if uid not in self.nodes:
                    boot.register_in -= 1
                    if boot.register_in <= 0:
                        self.register(uid, online=boot.online_in <= 0, lan_nic=boot.lan_nic)
                elif not self.nodes[uid]["online"]:
                    boot.online_in -= 1
                    if boot.online_in <= 0:
                        self.nodes[uid]["online"] = True
                if uid in self.nodes and self.nodes[uid]["online"]:
                    del self.boots[uid]
            self._carry_out_role_requests()
            for uid, left in list(self.restarts.items()):
                if left <= 1:
                    del self.restarts[uid]
                    if uid in self.nodes:
                        self.set_online(uid)
                else:
                    self.restarts[uid] = left - 1

    def _carry_out_role_requests(self) -> None:
        for fqdn, left in list(self.pending_roles.items()):
            if left > 1 and fqdn in self.clusters:
                self.pending_roles[fqdn] = left - 1
                continue
            del self.pending_roles[fqdn]
            if fqdn in self.clusters:
                self._settle_role(self.clusters[fqdn], requested=True)

    def set_online(self, uid: str, online: bool = True) -> None:
        with self._lock:
            self.nodes[uid]["online"] = online
            cluster = self.clusters.get(self.nodes[uid].get("cluster") or "")
            if cluster is None:
                return
            down = sum(not n["online"] for n in self._members(cluster["fqdn"]))
            self.most_members_down[cluster["fqdn"]] = max(down, self.most_members_down.get(cluster["fqdn"], 0))
            if not online and cluster.get("active") == uid:
                self._fail_over(cluster)
            elif online:
                self._settle_role(cluster)

    def _fail_over(self, cluster: dict[str, Any]) -> None:
        """What the members do themselves: an online standby takes the active role from a lost active."""
        standby = [n for n in self._members(cluster["fqdn"]) if n["online"] and n["uid"] != cluster.get("active")]
        self._move_role(cluster, standby[0]["uid"] if standby else None, "ungraceful")

    def _ready(self, uid: str | None, fqdn: str) -> bool:
        node = self.nodes.get(uid or "")
        return bool(node and node.get("cluster") == fqdn and node["online"] and (node["config"].get("cluster") or {}))

    def _settle_role(self, cluster: dict[str, Any], *, requested: bool = False) -> None:
        """The role follows the configured member when it can take it (online, heartbeat on): at once when nobody
        holds it or when it was just designated, and in ``autoFailback`` mode also back from the other member (a
        graceful hand-over)."""
        fqdn, configured, holder = cluster["fqdn"], cluster.get("configured"), cluster.get("active")
        if fqdn in self.pending_roles:
            return
        if configured != holder and self._ready(configured, fqdn):
            if requested or holder is None or not self._ready(holder, fqdn) or cluster.get("mode") == "autoFailback":
                self._move_role(cluster, configured, "graceful")
        elif holder is None:  # nobody holds it and the configured member cannot: an online member takes it
            ready = [n["uid"] for n in self._members(fqdn) if self._ready(n["uid"], fqdn)]
            if ready:
                self._move_role(cluster, ready[0], "graceful")

    def _move_role(self, cluster: dict[str, Any], to: str | None, how: str) -> None:
        if cluster.get("active") == to:
            return
        if cluster.get("active") is not None or to is not None:
            self.role_moves.setdefault(cluster["fqdn"], []).append((how, cluster.get("active"), to))
        cluster["active"] = to

    def ungraceful_failovers(self, fqdn: str) -> int:
        return sum(how == "ungraceful" for how, _, _ in self.role_moves.get(fqdn, []))

    def fail_over(self, fqdn: str) -> None:
        """The members fail over by themselves (the active member lost its heartbeat): the role moves, the
        configured member stays."""
        with self._lock:
            cluster = self.clusters[fqdn]
            others = [n["uid"] for n in self._members(fqdn) if n["uid"] != cluster.get("active") and n["online"]]
            self._move_role(cluster, others[0] if others else None, "ungraceful")

    def configured(self, fqdn: str) -> str | None:
        """The configured active member of a cluster."""
        return self.clusters[fqdn].get("configured")

    def writes(self) -> list[Recorded]:
        """Writes the API carried out (answered, or acted on before a fault)."""
        return [r for r in self.requests if r.write and (r.fault is None or r.acted)]

    def snapshot(self) -> dict[str, Any]:
        """The state a test compares: clusters and the nodes' cluster-related fields."""
        with self._lock:
            return copy.deepcopy(
                {
                    "clusters": {
                        k: {
                            **_without(self._cluster_view(v), SERVER_CLUSTER_FIELDS - {"health"}),
                            "configured": v.get("configured"),
                            "role": v.get("active"),
                        }
                        for k, v in self.clusters.items()
                    },
                    "nodes": {
                        u: {
                            "cluster": n.get("cluster"),
                            "heartbeat": _without(n["config"].get("cluster"), SERVER_HEARTBEAT_FIELDS),
                            "gateway": n["config"].get("gateway"),
                        }
                        for u, n in self.nodes.items()
                    },
                }
            )

    # -- HTTP -------------------------------------------------------------------------------

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        path = unquote(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        record = Recorded(http.command, path, query, body, None)
        self.requests.append(record)
        if http.headers.get("Authorization") != f"trustgrid-token {self.key_id}:{self.key_secret}":
            record.status = 401
            return self._send(http, 401, {"message": "unauthorized"})
        route = next(
            ((name, m) for method, rx, name in ROUTES if method == http.command and (m := rx.match(path))), None
        )
        if route is None:
            record.status = 404
            return self._send(http, 404, {"message": "no such route"})
        name, match = route
        fault = self._faults[name].popleft() if self._faults[name] else None
        status, answer = 0, None
        if fault is None or fault.acted:
            status, answer = self._act(name, body, query, match.groupdict())
            record.status = status
        if fault is not None:
            record.fault = fault.kind
            if fault.acted and fault.kind != "slow":
                record.acted = True
            if fault.kind == "drop":
                http.close_connection = True
                http.connection.shutdown(2)
                return None
            if fault.kind == "status":
                record.status = fault.status
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                return self._send(http, fault.status, ["injected fault"], headers)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that timed out
            self._send(http, status, answer)
        return None

    def _act(self, name: str, body: Any, query: dict[str, str], params: dict[str, str]) -> tuple[int, Any]:
        try:
            with self._lock:
                return getattr(self, "_" + name)(body=body, query=query, **params)
        except Refused as refused:
            return refused.status, refused.messages
        except ApiFailure as exc:
            if name == "license":  # the license endpoint answers its validation errors as text/plain
                return exc.status, "; ".join(exc.messages)
            return exc.status, exc.messages

    @staticmethod
    def _send(http: BaseHTTPRequestHandler, status: int, answer: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(answer, str):
            data, kind = answer.encode(), "text/plain"
        else:
            data, kind = (json.dumps(answer).encode() if answer is not None else b""), "application/json"
        http.send_response(status)
        http.send_header("Content-Type", kind)
        http.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            http.send_header(key, value)
        http.end_headers()
        http.wfile.write(data)

    # -- API behaviour ----------------------------------------------------------------------

    def _node(self, uid: str) -> dict[str, Any]:
        if uid not in self.nodes:
            raise ApiFailure(404, [f"node {uid} not found"])
        return self.nodes[uid]

    def _cluster(self, fqdn: str) -> dict[str, Any]:
        if fqdn not in self.clusters:
            raise ApiFailure(404, [f"cluster {fqdn} not found"])
        return self.clusters[fqdn]

    def _members(self, fqdn: str) -> list[dict[str, Any]]:
        return [n for n in self.nodes.values() if n.get("cluster") == fqdn]

    def _health(self, cluster: dict[str, Any]) -> str:
        members = self._members(cluster["fqdn"])
        online = [n for n in members if n["online"] and (n["config"].get("cluster") or {}).get("enabled")]
        if len(members) < 2:
            return "unknown"
        if not online:
            return "offline"
        if len(online) == 2 and cluster.get("active") in {n["uid"] for n in members}:
            return "healthy"
        return "unhealthy"

    def _cluster_view(self, cluster: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in cluster.items() if k not in ("active", "configured")}
        view.update(
            health=self._health(cluster),
            created_at=1_800_000_000,
            lifecycleState="production",
            tgrn=f"tgrn:tg::nodes:cluster/{cluster['fqdn']}",
            org="org-1",
        )
        return view

    def _node_view(self, node: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(node)
        heartbeat = view["config"].get("cluster")
        cluster = self.clusters.get(node.get("cluster") or "")
        reported = {"node-core.version": "2.20.0"}
        if cluster is not None:
            if isinstance(heartbeat, dict):
                heartbeat["master"] = cluster.get("configured") == node["uid"]
            reported["cluster.master"] = "true" if cluster.get("active") == node["uid"] else "false"
        view["shadow"] = {"reported": reported}
        return view

    def _org(self, **_: Any) -> tuple[int, Any]:
        return 200, {"uid": "org-1", "domain": self.domain, "name": "Acme"}

    def _license(self, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        name = query.get("name", "")
        if not NAME.match(name):
            raise ApiFailure(422, [f"name {name!r} is invalid"])
        if name in self.reservations.values() or any(n["name"] == name for n in self.nodes.values()):
            raise ApiFailure(422, [f"name {name!r} is already taken"])
        uid = str(uuid.uuid4())
        self.reservations[uid] = name
        header = _b64({"alg": "RS512", "typ": "JWT"})
        claims = _b64({"jti": uid, "sub": name, "iss": "stub"})
        token = f"{header}.{claims}.{base64.urlsafe_b64encode(b'signature-' + uid.encode()).decode().rstrip('=')}"
        self.licenses[uid] = token
        return 200, token

    def _list_nodes(self, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        members = [n for n in self.nodes.values() if "cluster" not in query or n.get("cluster") == query["cluster"]]
        # without a projection the list carries no config and no shadow
        return 200, [{k: v for k, v in self._node_view(n).items() if k not in ("config", "shadow")} for n in members]

    def _node_by_fqdn(self, fqdn: str, **_: Any) -> tuple[int, Any]:
        node = next((n for n in self.nodes.values() if n["fqdn"] == fqdn), None)
        if node is None:
            raise ApiFailure(404, [f"node {fqdn} not found"])
        return 200, self._node_view(node)

    def _get_node(self, uid: str, **_: Any) -> tuple[int, Any]:
        return 200, self._node_view(self._node(uid))

    def _delete_node(self, uid: str, **_: Any) -> tuple[int, Any]:
        if uid in self.reservations:  # not documented by Trustgrid: assumed to free the name
            del self.reservations[uid]
            return 200, None
        self._node(uid)
        del self.nodes[uid]
        return 200, None

    def _put_node(self, uid: str, body: Any, **_: Any) -> tuple[int, Any]:
        node = self._node(uid)
        if not isinstance(body, dict) or "cluster" not in body:
            raise ApiFailure(422, ["body must set cluster"])
        fqdn = body["cluster"]
        if fqdn is not None:
            if fqdn not in self.clusters:
                raise ApiFailure(422, [f"cluster {fqdn} does not exist"])
            node["cluster"] = fqdn
        else:
            old = node.pop("cluster", None)
            node["config"].pop("cluster", None)  # leaving drops the node's heartbeat settings
            if old in self.clusters:
                if self.clusters[old].get("configured") == uid:
                    self.clusters[old]["configured"] = None
                if self.clusters[old].get("active") == uid:
                    self._fail_over(self.clusters[old])
        return 200, None

    def _put_heartbeat(self, uid: str, body: Any, **_: Any) -> tuple[int, Any]:
        node = self._node(uid)
        _refuse_fields(body, SERVER_HEARTBEAT_FIELDS, HEARTBEAT_FIELDS)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("enabled"), bool)
            or not isinstance(body.get("host"), str)
            or not isinstance(body.get("port"), int)
            or not 1 <= body["port"] <= 65535
        ):
            raise ApiFailure(422, ["enabled, host and port (1-65535) are required"])
        previous = node["config"].get("cluster") or {}
        node["config"]["cluster"] = {
            **{k: v for k, v in body.items() if k != "master"},
            "updateTime": int(time.time()),
            "versionCounter": int(previous.get("versionCounter", 0)) + 1,
            "masterVersion": int(previous.get("masterVersion", 0)),
            "shared": previous.get("shared", ""),
        }
        if node.get("cluster") in self.clusters:
            self._settle_role(self.clusters[node["cluster"]])
        return 200, None

    def _put_gateway(self, uid: str, body: Any, **_: Any) -> tuple[int, Any]:
        node = self._node(uid)
        _refuse_fields(body, frozenset(), GATEWAY_FIELDS)
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise ApiFailure(422, ["enabled is required"])
        if body["enabled"] and body.get("type") not in ("private", "public", "hub"):
            raise ApiFailure(422, ["type must be private, public or hub"])
        clients = body.get("clients", [])
        if not isinstance(clients, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("enabled"), bool)
            and set(c) <= {"name", "enabled"}
            for c in clients
        ):  # fmt: skip
            raise ApiFailure(422, ["clients must be a list of {name, enabled}"])
        for key in ("port", "udpPort"):
            if key in body and (not isinstance(body[key], int) or not 1 <= body[key] <= 65535):
                raise ApiFailure(422, [f"{key} must be a port"])
        if "host" in body and not isinstance(body["host"], str):
            raise ApiFailure(422, ["host must be a string"])
        if node["config"].get("gateway") != body:
            node["config"]["gateway"] = copy.deepcopy(body)
            # Trustgrid: changing the gateway service restarts the node's service
            self.set_online(uid, False)
            self.restarts[uid] = self.restart_polls
        return 200, None

    def _put_node_network(self, uid: str, body: Any, **_: Any) -> tuple[int, Any]:
        self._node(uid)["config"]["network"] = _valid_network(body)
        return 200, None

    def _create_cluster(self, body: Any, **_: Any) -> tuple[int, Any]:
        name = (body or {}).get("name", "")
        if not isinstance(name, str) or not NAME.match(name):
            raise ApiFailure(422, ["name must be lowercase letters, digits and dashes"])
        fqdn = f"{name}.{self.domain}"
        if fqdn in self.clusters:
            raise ApiFailure(422, [f"cluster {name} already exists"])
        self.clusters[fqdn] = {
            "name": name, "fqdn": fqdn, "mode": "autoFailback", "config": {}, "active": None, "configured": None,
            "tags": {},
        }  # fmt: skip
        return 200, {"name": name, "fqdn": fqdn}

    def _get_cluster(self, fqdn: str, **_: Any) -> tuple[int, Any]:
        return 200, self._cluster_view(self._cluster(fqdn))

    def _put_cluster(self, fqdn: str, body: Any, **_: Any) -> tuple[int, Any]:
        cluster = self._cluster(fqdn)
        _refuse_fields(body, SERVER_CLUSTER_FIELDS | {"tgTags"}, frozenset({"name", "mode", "config", "fqdn", "tags"}))
        mode = (body or {}).get("mode")
        if mode not in ("autoFailback", "manualFailback"):
            raise ApiFailure(422, ["mode must be autoFailback or manualFailback"])
        cluster["mode"] = mode
        self._settle_role(cluster)
        return 200, None

    def _delete_cluster(self, fqdn: str, **_: Any) -> tuple[int, Any]:
        self._cluster(fqdn)
        if self.attachments.get(fqdn):
            raise ApiFailure(422, [f"detach the virtual networks of {fqdn} first: {sorted(self.attachments[fqdn])}"])
        for node in self._members(fqdn):
            node.pop("cluster", None)
        del self.clusters[fqdn]
        return 200, None

    def _set_active(self, fqdn: str, uid: str, **_: Any) -> tuple[int, Any]:
        cluster = self._cluster(fqdn)
        if self._node(uid).get("cluster") != fqdn:
            raise ApiFailure(422, [f"node {uid} is not a member of {fqdn}"])
        cluster["configured"] = uid
        if self.role_lag:
            self.pending_roles[fqdn] = self.role_lag
        else:
            self._settle_role(cluster, requested=True)  # the role moves only to a member that can take it
        return 200, None

    def _put_cluster_tag(self, fqdn: str, tag: str, body: Any, **_: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            raise ApiFailure(422, ["value is required"])
        self._cluster(fqdn).setdefault("tags", {})[tag] = body["value"]
        return 200, None

    def _put_cluster_network(self, fqdn: str, body: Any, **_: Any) -> tuple[int, Any]:
        self._cluster(fqdn)["config"]["network"] = _valid_network(body)
        return 200, None


def _refuse_fields(body: Any, server: frozenset[str], known: frozenset[str]) -> None:
    """422 for a write that sends back a server-managed field or one the API does not document."""
    if not isinstance(body, dict):
        return
    sent_back = sorted(set(body) & server)
    if sent_back:
        raise ApiFailure(422, [f"{', '.join(sent_back)} may not be written: the server manages them"])
    unknown = sorted(set(body) - known - server)
    if unknown:
        raise ApiFailure(422, [f"unknown field(s) {', '.join(unknown)}"])


def _without(value: Any, keys: frozenset[str]) -> Any:
    return {k: v for k, v in value.items() if k not in keys} if isinstance(value, dict) else value


def _valid_network(body: Any) -> dict[str, Any]:
    interfaces = (body or {}).get("interfaces")
    if not isinstance(interfaces, list) or not all(isinstance(i, dict) and i.get("nic") for i in interfaces):
        raise ApiFailure(422, ["interfaces must be a list of objects with nic"])
    return copy.deepcopy(body)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
