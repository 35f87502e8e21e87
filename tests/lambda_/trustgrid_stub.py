"""A stand-in for the Trustgrid management API: a real HTTP server on 127.0.0.1.

It behaves like the API in shared/trustgrid-facts.md (org domain, license
minting with the node uid in ``jti`` and 422 on a taken name, nodes that come
online when a test says so, 404s, name validation, promotion only for members,
network config replaced on PUT, 401 without the right auth header), records
every request and injects faults per endpoint.
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

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

ROUTES = [
    ("GET", re.compile(r"^/org/mine$"), "org"),
    ("GET", re.compile(r"^/node/license$"), "license"),
    ("GET", re.compile(r"^/node/by-fqdn/(?P<fqdn>[^/]+)$"), "node_by_fqdn"),
    ("GET", re.compile(r"^/node/(?P<uid>[^/]+)$"), "get_node"),
    ("DELETE", re.compile(r"^/node/(?P<uid>[^/]+)$"), "delete_node"),
    ("PUT", re.compile(r"^/node/(?P<uid>[^/]+)$"), "put_node"),
    ("PUT", re.compile(r"^/node/(?P<uid>[^/]+)/config/cluster$"), "put_heartbeat"),
    ("PUT", re.compile(r"^/node/(?P<uid>[^/]+)/config/network$"), "put_node_network"),
    ("POST", re.compile(r"^/cluster$"), "create_cluster"),
    ("GET", re.compile(r"^/cluster/(?P<fqdn>[^/]+)$"), "get_cluster"),
    ("PUT", re.compile(r"^/cluster/(?P<fqdn>[^/]+)$"), "put_cluster"),
    ("DELETE", re.compile(r"^/cluster/(?P<fqdn>[^/]+)$"), "delete_cluster"),
    ("PUT", re.compile(r"^/cluster/(?P<fqdn>[^/]+)/active/(?P<uid>[^/]+)$"), "set_active"),
    ("PUT", re.compile(r"^/cluster/(?P<fqdn>[^/]+)/config/network$"), "put_cluster_network"),
]


@dataclass
class Fault:
    """``kind``: ``status`` (answer ``status`` without acting), ``slow`` (act, then answer after
    ``delay`` seconds, later than the client waits) or ``drop`` (close the connection unanswered)."""

    kind: str
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0


def error(status: int, retry_after: str | None = None) -> Fault:
    return Fault("status", status=status, retry_after=retry_after)


def slow(delay: float) -> Fault:
    return Fault("slow", delay=delay)


DROP = Fault("drop")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None
    fault: str | None = None

    @property
    def write(self) -> bool:
        return self.method != "GET"


class ApiFailure(Exception):
    def __init__(self, status: int, messages: list[str] | None = None) -> None:
        self.status = status
        self.messages = messages or []


@dataclass
class TrustgridStub:
    key_id: str = "stub-key-id"
    key_secret: str = "stub-key-secret-do-not-log"
    domain: str = "acme.trustgrid.io"
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    licenses: dict[str, str] = field(default_factory=dict)
    auto_online: bool = False

    def __post_init__(self) -> None:
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

    def add_node(self, name: str, *, online: bool = True) -> str:
        uid = str(uuid.uuid4())
        self.nodes[uid] = {
            "uid": uid,
            "name": name,
            "fqdn": f"{name}.{self.domain}",
            "online": online,
            "config": {},
        }
        return uid

    def set_online(self, uid: str, online: bool = True) -> None:
        with self._lock:
            self.nodes[uid]["online"] = online
            cluster = self.clusters.get(self.nodes[uid].get("cluster") or "")
            if not online and cluster is not None and cluster.get("active") == uid:
                self._fail_over(cluster)

    def _fail_over(self, cluster: dict[str, Any]) -> None:
        """What the members do themselves: an online standby takes the active role from a lost active."""
        standby = [n for n in self._members(cluster["fqdn"]) if n["online"] and n["uid"] != cluster.get("active")]
        cluster["active"] = standby[0]["uid"] if standby else None

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.write and r.fault is None]

    def snapshot(self) -> dict[str, Any]:
        """The state a test compares: clusters and the nodes' cluster-related fields."""
        with self._lock:
            return copy.deepcopy(
                {
                    "clusters": {k: self._cluster_view(v) for k, v in self.clusters.items()},
                    "nodes": {
                        u: {"cluster": n.get("cluster"), "heartbeat": n["config"].get("cluster")}
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
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "drop":
                http.close_connection = True
                http.connection.shutdown(2)
                return None
            if fault.kind == "status":
                record.status = fault.status
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                return self._send(http, fault.status, ["injected fault"], headers)
        try:
            with self._lock:
                status, answer = getattr(self, "_" + name)(body=body, query=query, **match.groupdict())
        except ApiFailure as exc:
            status, answer = exc.status, exc.messages
        record.status = status
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that timed out
            self._send(http, status, answer)
        return None

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
        view = {k: v for k, v in cluster.items() if k != "active"}
        view["health"] = self._health(cluster)
        view["configuredActive"] = cluster.get("active")
        return view

    def _org(self, **_: Any) -> tuple[int, Any]:
        return 200, {"uid": "org-1", "domain": self.domain, "name": "Acme"}

    def _license(self, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        name = query.get("name", "")
        if not NAME.match(name):
            raise ApiFailure(422, [f"name {name!r} is invalid"])
        if any(n["name"] == name for n in self.nodes.values()):
            raise ApiFailure(422, [f"name {name!r} is already taken"])
        uid = self.add_node(name, online=self.auto_online)
        header = _b64({"alg": "RS512", "typ": "JWT"})
        claims = _b64({"jti": uid, "sub": name, "iss": "stub"})
        token = f"{header}.{claims}.{base64.urlsafe_b64encode(b'signature-' + uid.encode()).decode().rstrip('=')}"
        self.licenses[uid] = token
        return 200, token

    def _node_by_fqdn(self, fqdn: str, **_: Any) -> tuple[int, Any]:
        node = next((n for n in self.nodes.values() if n["fqdn"] == fqdn), None)
        if node is None:
            raise ApiFailure(404, [f"node {fqdn} not found"])
        return 200, node

    def _get_node(self, uid: str, **_: Any) -> tuple[int, Any]:
        return 200, self._node(uid)

    def _delete_node(self, uid: str, **_: Any) -> tuple[int, Any]:
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
            if old in self.clusters and self.clusters[old].get("active") == uid:
                self._fail_over(self.clusters[old])
        return 200, None

    def _put_heartbeat(self, uid: str, body: Any, **_: Any) -> tuple[int, Any]:
        node = self._node(uid)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("enabled"), bool)
            or not isinstance(body.get("host"), str)
            or not isinstance(body.get("port"), int)
            or not 1 <= body["port"] <= 65535
        ):
            raise ApiFailure(422, ["enabled, host and port (1-65535) are required"])
        node["config"]["cluster"] = body
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
        self.clusters[fqdn] = {"name": name, "fqdn": fqdn, "mode": "autoFailback", "config": {}, "active": None}
        return 200, {"name": name, "fqdn": fqdn}

    def _get_cluster(self, fqdn: str, **_: Any) -> tuple[int, Any]:
        return 200, self._cluster_view(self._cluster(fqdn))

    def _put_cluster(self, fqdn: str, body: Any, **_: Any) -> tuple[int, Any]:
        cluster = self._cluster(fqdn)
        mode = (body or {}).get("mode")
        if mode not in ("autoFailback", "manualFailback"):
            raise ApiFailure(422, ["mode must be autoFailback or manualFailback"])
        cluster["mode"] = mode
        return 200, None

    def _delete_cluster(self, fqdn: str, **_: Any) -> tuple[int, Any]:
        self._cluster(fqdn)
        for node in self._members(fqdn):
            node.pop("cluster", None)
        del self.clusters[fqdn]
        return 200, None

    def _set_active(self, fqdn: str, uid: str, **_: Any) -> tuple[int, Any]:
        cluster = self._cluster(fqdn)
        if self._node(uid).get("cluster") != fqdn:
            raise ApiFailure(422, [f"node {uid} is not a member of {fqdn}"])
        cluster["active"] = uid
        return 200, None

    def _put_cluster_network(self, fqdn: str, body: Any, **_: Any) -> tuple[int, Any]:
        self._cluster(fqdn)["config"]["network"] = _valid_network(body)
        return 200, None


def _valid_network(body: Any) -> dict[str, Any]:
    interfaces = (body or {}).get("interfaces")
    if not isinstance(interfaces, list) or not all(isinstance(i, dict) and i.get("nic") for i in interfaces):
        raise ApiFailure(422, ["interfaces must be a list of objects with nic"])
    return copy.deepcopy(body)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
