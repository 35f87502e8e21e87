"""A small client for the Trustgrid management API.

Transient failures (connection errors, timeouts, 429 and 5xx) are retried with
exponential backoff and full jitter, honouring ``Retry-After``, within a time
budget so that every Lambda invocation ends well inside its timeout. Permanent
failures raise :class:`ApiError` at once, naming the operation, the HTTP status
and the API's validation messages. The credentials are never logged and never
part of an error message.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3

from .contract import DEFAULT_API_URL
from .log import JsonLogger

__all__ = [
    "DEFAULT_API_URL",
    "ApiError",
    "Credentials",
    "NotFound",
    "OutcomeUnknown",
    "TrustgridClient",
    "Unauthorized",
    "Unavailable",
]

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Answers that prove the API did not act: a call that is not idempotent may be sent again after these.
NOT_ACTED_STATUSES = frozenset({429, 503})
_ORG_DOMAINS: dict[tuple[str, str], str] = {}
#: The mint answers quickly; a lost answer costs a node name, so it gets a long read timeout.
MINT_TIMEOUT_SECONDS = 30.0


class ApiError(Exception):
    """A call to the Trustgrid API failed for good."""

    def __init__(self, operation: str, status: int | None, detail: str, messages: list[str] | None = None) -> None:
        self.operation = operation
        self.status = status
        self.messages = messages or []
        where = f"HTTP {status}" if status is not None else "no HTTP answer"
        text = f"Trustgrid API {operation} failed ({where}): {detail}"
        if self.messages:
            text += " Validation messages: " + "; ".join(self.messages)
        super().__init__(text)


class NotFound(ApiError):
    """The API answered 404: the node or cluster does not exist."""


class Unauthorized(ApiError):
    """The API answered 401 or 403."""


class OutcomeUnknown(ApiError):
    """A call that is not idempotent got no usable answer after it was sent: the API may have acted."""


class Unavailable(ApiError):
    """Transient failures (connection errors, timeouts, 429, 5xx) outlasted this invocation's retries: the API
    or the network is down for now. A waiting handler tries again at its next poll."""


@dataclass
class _Call:
    operation: str
    method: str
    path: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    payload: bytes | None = None
    text: bool = False
    idempotent: bool = True
    timeout: float = 10.0

    @property
    def what(self) -> str:
        return f"{self.method} {self.path}"


class _Retry(Exception):
    """A transient failure of one attempt: worth another."""

    def __init__(self, status: int | None, problem: str, after: float | None) -> None:
        self.status, self.problem, self.after = status, problem, after


@dataclass(frozen=True)
class Credentials:
    """A Trustgrid API key. ``repr`` never shows the secret."""

    key_id: str
    key_secret: str = field(repr=False)

    @classmethod
    def from_secret_string(cls, secret_string: str) -> Credentials:
        """Parse the Secrets Manager value ``{"apiKeyId": ..., "apiKeySecret": ...}``."""
        try:
            data = json.loads(secret_string)
        except ValueError:
            raise ValueError(
                "The Trustgrid API secret is not JSON. Store it as "
                '{"apiKeyId": "<key id>", "apiKeySecret": "<key secret>"}.'
            ) from None
        missing = [k for k in ("apiKeyId", "apiKeySecret") if not isinstance(data, dict) or not data.get(k)]
        if missing:
            raise ValueError(
                f"The Trustgrid API secret lacks the key(s) {', '.join(missing)}. Store it as "
                '{"apiKeyId": "<key id>", "apiKeySecret": "<key secret>"}.'
            )
        return cls(str(data["apiKeyId"]), str(data["apiKeySecret"]))

    def header(self) -> str:
        return f"trustgrid-token {self.key_id}:{self.key_secret}"


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and time."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 8.0
    request_timeout: float = 10.0

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        return rng() * min(self.max_delay, self.base_delay * (2**attempt))


class InsecureApiUrl(ValueError):
    """An API URL the key must not be sent to."""


LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def api_url_problem(url: str) -> str | None:
    """Why the API key must not be sent to ``url``, or None. Only https is accepted, except for a stand-in on this
    machine's loopback interface (the key never leaves the machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return None
    return "give an https:// URL (the API key must not travel in clear), for example 'https://api.trustgrid.io'."


class TrustgridClient:
    """Typed calls of the management API used by this project.

    ``budget`` returns the seconds this client may still spend (the Lambda
    handler passes the invocation's remaining time less a margin).
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        logger: JsonLogger | None = None,
        policy: RetryPolicy | None = None,
        budget: Callable[[], float] | None = None,
        http: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        problem = api_url_problem(base_url)
        if problem:
            raise InsecureApiUrl(f"The Trustgrid API URL {base_url!r} is refused: {problem}")
        self._base = base_url.rstrip("/")
        self._credentials = credentials
        self._log = logger or JsonLogger()
        self._policy = policy or RetryPolicy()
        started = time.monotonic()
        self._budget = budget or (lambda: 600.0 - (time.monotonic() - started))
        self._http = http or urllib3.PoolManager(retries=False)
        self._sleep = sleep
        self._rng = rng

    # -- transport -------------------------------------------------------------------------

    def _request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        text: bool = False,
        idempotent: bool = True,
        timeout: float | None = None,
    ) -> Any:
        """Send one call, retrying transient failures; a call that is not ``idempotent`` is sent again only
        when the failure proves the API did not act (no connection, 429, 503), else :class:`OutcomeUnknown`."""
        call = _Call(operation, method, path, self._base + path + (("?" + urlencode(query)) if query else ""))
        call.headers = {
            "Authorization": self._credentials.header(),
            "Accept": "text/plain" if text else "application/json",
        }
        if body is not None:
            call.payload = json.dumps(body).encode()
            call.headers["Content-Type"] = "application/json"
        call.text, call.idempotent, call.timeout = text, idempotent, timeout or self._policy.request_timeout
        attempt = 0
        while True:
            try:
                return self._attempt(call, attempt + 1)
            except _Retry as retry:
                attempt += 1
                delay = retry.after if retry.after is not None else self._policy.backoff(attempt, self._rng)
                if attempt >= self._policy.max_attempts or delay >= self._budget() - 0.5:
                    raise Unavailable(
                        operation,
                        retry.status,
                        f"still failing after {attempt} attempt(s) (last: {retry.problem}); the API or the network "
                        "is unavailable.",
                    ) from None
                self._log.info(
                    "api.retry", operation=operation, after_seconds=round(delay, 3), last=retry.problem, attempt=attempt
                )
                self._sleep(delay)

    def _attempt(self, call: _Call, attempt: int) -> Any:
        """One try: the decoded answer, a final error, or :class:`_Retry`."""
        remaining = self._budget()
        if remaining <= 0:
            raise Unavailable(call.operation, None, "the time budget of this invocation ran out before the call.")
        wait = max(0.5, min(call.timeout, remaining))
        try:
            response = self._http.request(
                call.method,
                call.url,
                body=call.payload,
                headers=call.headers,
                timeout=urllib3.Timeout(connect=min(3.0, wait), read=wait),
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            problem = type(exc).__name__
            if not call.idempotent and not isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
                # the request was sent (read timeout, connection dropped): the API may have acted
                raise OutcomeUnknown(
                    call.operation, None, f"{call.what} got no answer ({problem}); it may have acted."
                ) from None
            self._log.warning(
                "api.transport_error", operation=call.operation, method=call.method, path=call.path, error=problem,
                attempt=attempt,
            )  # fmt: skip
            raise _Retry(None, problem, None) from None
        self._log.info(
            "api.call", operation=call.operation, method=call.method, path=call.path, status=response.status,
            attempt=attempt,
        )  # fmt: skip
        return self._answer(call, response)

    def _answer(self, call: _Call, response: urllib3.BaseHTTPResponse) -> Any:
        status = response.status
        if status < 300:
            return self._decode(call.operation, response, call.text)
        if status == 404:
            raise NotFound(call.operation, 404, f"{call.what} found nothing.", _messages(response))
        if status in (401, 403):
            raise Unauthorized(
                call.operation,
                status,
                "the API key was refused. Check that the Secrets Manager secret holds a valid "
                "apiKeyId/apiKeySecret pair for this organization and API URL.",
            )
        if status not in TRANSIENT_STATUSES:
            raise ApiError(call.operation, status, f"{call.what} was refused.", _messages(response))
        if not call.idempotent and status not in NOT_ACTED_STATUSES:
            raise OutcomeUnknown(call.operation, status, f"{call.what} answered {status}; it may have acted.")
        raise _Retry(status, f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))

    @staticmethod
    def _decode(operation: str, response: urllib3.BaseHTTPResponse, text: bool) -> Any:
        raw = response.data
        if text:
            return raw.decode().strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(operation, response.status, "the answer was not JSON.") from None

    # -- organization and nodes ------------------------------------------------------------

    def org_domain(self) -> str:
        """The organization's domain; it never changes, so a warm Lambda container asks once per API key."""
        key = (self._base, self._credentials.key_id)
        if key not in _ORG_DOMAINS:
            _ORG_DOMAINS[key] = str(self._request("read organization", "GET", "/org/mine")["domain"])
        return _ORG_DOMAINS[key]

    def mint_license(self, node_name: str) -> str:
        """A new license for ``node_name``. Minting reserves the name, so it is never sent twice blindly."""
        return str(
            self._request(
                "mint node license",
                "GET",
                "/node/license",
                query={"name": node_name},
                text=True,
                idempotent=False,
                timeout=max(self._policy.request_timeout, MINT_TIMEOUT_SECONDS),
            )
        )

    def get_node(self, uid: str) -> dict[str, Any]:
        return dict(self._request("read node", "GET", f"/node/{quote(uid)}"))

    def find_node(self, uid: str) -> dict[str, Any] | None:
        try:
            return self.get_node(uid)
        except NotFound:
            return None

    def list_cluster_nodes(self, fqdn: str) -> list[dict[str, Any]]:
        """The members of a cluster (``GET /node?cluster=``; their config is not included)."""
        return list(self._request("list cluster members", "GET", "/node", query={"cluster": fqdn}) or [])

    def find_node_by_fqdn(self, fqdn: str) -> dict[str, Any] | None:
        """The registered node of that FQDN, or None (also while a minted license has not registered yet)."""
        try:
            return dict(self._request("read node by FQDN", "GET", f"/node/by-fqdn/{quote(fqdn)}"))
        except NotFound:
            return None

    def delete_node(self, uid: str) -> None:
        self._request("delete node", "DELETE", f"/node/{quote(uid)}")

    def set_node_cluster(self, uid: str, cluster_fqdn: str | None) -> None:
        operation = "add cluster member" if cluster_fqdn else "remove cluster member"
        self._request(operation, "PUT", f"/node/{quote(uid)}", body={"cluster": cluster_fqdn})

    def set_heartbeat(self, uid: str, config: dict[str, Any]) -> None:
        self._request("set cluster heartbeat", "PUT", f"/node/{quote(uid)}/config/cluster", body=config)

    def set_gateway(self, uid: str, config: dict[str, Any]) -> None:
        """Enable or change the node's gateway service (Trustgrid restarts the node's service)."""
        self._request("set gateway service", "PUT", f"/node/{quote(uid)}/config/gateway", body=config)

    # -- clusters --------------------------------------------------------------------------

    def create_cluster(self, name: str) -> None:
        self._request("create cluster", "POST", "/cluster", body={"name": name})

    def get_cluster(self, fqdn: str) -> dict[str, Any]:
        return dict(self._request("read cluster", "GET", f"/cluster/{quote(fqdn)}"))

    def find_cluster(self, fqdn: str) -> dict[str, Any] | None:
        try:
            return self.get_cluster(fqdn)
        except NotFound:
            return None

    def update_cluster(self, fqdn: str, changes: dict[str, Any]) -> None:
        self._request("update cluster", "PUT", f"/cluster/{quote(fqdn)}", body=changes)

    def delete_cluster(self, fqdn: str) -> None:
        self._request("delete cluster", "DELETE", f"/cluster/{quote(fqdn)}")

    def set_cluster_tag(self, fqdn: str, name: str, value: str) -> None:
        self._request("tag cluster", "PUT", f"/cluster/{quote(fqdn)}/tag/{quote(name)}", body={"value": value})

    def set_active_member(self, fqdn: str, uid: str) -> None:
        self._request("set active member", "PUT", f"/cluster/{quote(fqdn)}/active/{quote(uid)}")

    def put_cluster_network(self, fqdn: str, network: dict[str, Any]) -> None:
        self._request("write cluster network config", "PUT", f"/cluster/{quote(fqdn)}/config/network", body=network)

    # -- virtual networks: the cluster's attachment (/v2/cluster/{fqdn}/vpn) -----------------

    def _vpn(self, fqdn: str, network: str = "") -> str:
        return f"/v2/cluster/{quote(fqdn)}/vpn" + (f"/{quote(network)}" if network else "")

    def find_vpn_attachment(self, fqdn: str, network: str) -> dict[str, Any] | None:
        try:
            return dict(self._request("read network attachment", "GET", self._vpn(fqdn, network)) or {})
        except NotFound:
            return None

    def list_vpn_attachments(self, fqdn: str) -> list[dict[str, Any]]:
        return list(self._request("list network attachments", "GET", self._vpn(fqdn)) or [])

    def attach_vpn(self, fqdn: str, network: str, route: str) -> None:
        """Attach the network with the cluster's validation route. The published description names the network
        ``name``; Trustgrid's own provider sends ``networkName``: both are sent."""
        body = {"name": network, "networkName": network, "route": route}
        self._request("attach network", "POST", self._vpn(fqdn), body=body, idempotent=False)

    def update_vpn_attachment(self, fqdn: str, network: str, route: str) -> None:
        body = {"name": network, "networkName": network, "route": route}
        self._request("update network attachment", "PUT", self._vpn(fqdn, network), body=body)

    def detach_vpn(self, fqdn: str, network: str) -> None:
        self._request("detach network", "DELETE", self._vpn(fqdn, network))

    def list_vpn_interfaces(self, fqdn: str, network: str) -> list[dict[str, Any]]:
        return list(self._request("list network interfaces", "GET", self._vpn(fqdn, network) + "/interface") or [])

    def add_vpn_interface(self, fqdn: str, network: str, body: dict[str, Any]) -> None:
        path = self._vpn(fqdn, network) + "/interface"
        self._request("attach network interface", "POST", path, body=body, idempotent=False)

    def update_vpn_interface(self, fqdn: str, network: str, name: str, body: dict[str, Any]) -> None:
        path = self._vpn(fqdn, network) + f"/interface/{quote(name)}"
        self._request("update network interface", "PUT", path, body=body)

    def delete_vpn_interface(self, fqdn: str, network: str, name: str) -> None:
        path = self._vpn(fqdn, network) + f"/interface/{quote(name)}"
        self._request("detach network interface", "DELETE", path)

    def list_vpn_routes(self, fqdn: str, network: str) -> list[dict[str, Any]]:
        return list(self._request("list network static routes", "GET", self._vpn(fqdn, network) + "/route") or [])

    def add_vpn_route(self, fqdn: str, network: str, body: dict[str, Any]) -> None:
        path = self._vpn(fqdn, network) + "/route"
        self._request("add network static route", "POST", path, body=body, idempotent=False)

    def delete_vpn_route(self, fqdn: str, network: str, uid: str) -> None:
        path = self._vpn(fqdn, network) + f"/route/{quote(uid)}"
        self._request("delete network static route", "DELETE", path)

    # -- virtual networks: the domain's objects (/v2/domain/{domain}/network) -----------------

    def _network(self, network: str = "") -> str:
        return f"/v2/domain/{quote(self.org_domain())}/network" + (f"/{quote(network)}" if network else "")

    def list_networks(self) -> list[dict[str, Any]]:
        return list(self._request("list virtual networks", "GET", self._network()) or [])

    def list_network_routes(self, network: str) -> list[dict[str, Any]]:
        return list(self._request("list network routes", "GET", self._network(network) + "/route") or [])

    def add_network_route(self, network: str, body: dict[str, Any]) -> None:
        self._request("add network route", "POST", self._network(network) + "/route", body=body, idempotent=False)

    def delete_network_route(self, network: str, uid: str) -> None:
        self._request("delete network route", "DELETE", self._network(network) + f"/route/{quote(uid)}")

    def list_access_policies(self, network: str) -> list[dict[str, Any]]:
        return list(self._request("list access policies", "GET", self._network(network) + "/access-policy") or [])

    def add_access_policy(self, network: str, body: dict[str, Any]) -> None:
        path = self._network(network) + "/access-policy"
        self._request("add access policy", "POST", path, body=body, idempotent=False)

    def delete_access_policy(self, network: str, uid: str) -> None:
        self._request("delete access policy", "DELETE", self._network(network) + f"/access-policy/{quote(uid)}")

    def staged_changes(self, network: str) -> list[dict[str, Any]]:
        """The network's changes awaiting a commit (anyone's)."""
        return list(self._request("list staged network changes", "GET", self._network(network) + "/change") or [])

    def validate_changes(self, network: str) -> str:
        """Validate the network's staged changes; the digest that commits exactly those."""
        answer = self._request("validate network changes", "GET", self._network(network) + "/change/validate")
        return str((answer or {}).get("digest", ""))

    def commit_changes(self, network: str, digest: str) -> None:
        """Publish the staged changes the digest covers (refused when they changed since the validation)."""
        path = self._network(network) + "/change/commit"
        self._request("commit network changes", "POST", path, body={"digest": digest})


def _messages(response: urllib3.BaseHTTPResponse) -> list[str]:
    """The API's validation messages: a JSON array (or an object with ``message``), or a ``text/plain`` body
    (the license endpoint's). Bounded, so that a long answer cannot crowd out the rest of an error message."""
    raw = response.data or b""
    if str(response.headers.get("Content-Type", "")).startswith("text/plain"):
        text = raw.decode(errors="replace").strip()
        return [text[:500]] if text else []
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        return []
    if isinstance(data, list):
        return [(m if isinstance(m, str) else json.dumps(m))[:500] for m in data[:10]]
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return [data["message"][:500]]
    return []


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
