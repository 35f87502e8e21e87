"""The node-license resource: one per gateway.

The license reaches the instance through a Secrets Manager secret that only
the gateways' role may read: minted licenses are written there by this
handler, supplied ones are already there. The license is never returned as a
resource attribute, never logged and never part of an error message.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from .api import ApiError, NotFound, OutcomeUnknown, TrustgridClient
from .contract import LicenseProperties, LicenseSource
from .log import JsonLogger


class SecretStore(Protocol):
    """The Secrets Manager calls the license resource makes (a boto3 client fits)."""

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]: ...

    def put_secret_value(self, **kwargs: Any) -> dict[str, Any]: ...


def license_uid(token: str) -> str:
    """The node uid a license is for: its ``jti`` claim. The signature is the node's to check."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        uid = claims["jti"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise ValueError(
            "The node license is not a Trustgrid license (a JWT with a jti claim). "
            "Store the license text exactly as Trustgrid issued it."
        ) from None
    if not isinstance(uid, str) or not uid:
        raise ValueError("The node license's jti claim is empty; ask Trustgrid for a new license.")
    return uid


def is_uid(value: str) -> bool:
    """Whether a physical id is a node uid (CloudFormation makes up another kind for a cancelled Create)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _uid_or_none(token: str | None) -> str | None:
    try:
        return license_uid(token) if token else None
    except ValueError:
        return None


#: How long (seconds, one after the other) a taken name waits for a concurrent delivery to store its license.
STORE_WAITS = (2.0, 4.0, 8.0)

#: Namespace of the secret version IDs that tie a stored license to the node name it was minted for.
_VERSIONS = uuid.UUID("5f0c3a56-7c1e-4a8e-9a43-1d3f3e0b6f21")


def stored_version(spec: LicenseProperties, uid: str) -> str:
    """The Secrets Manager version ID under which the license of ``uid`` for this node name is stored."""
    return str(uuid.uuid5(_VERSIONS, f"{spec.node_name}/{uid}"))


def attributes(spec: LicenseProperties, uid: str, domain: str) -> dict[str, str]:
    return {"NodeUid": uid, "NodeName": spec.node_name, "NodeFqdn": f"{spec.node_name}.{domain}"}


def needs_new_license(old: LicenseProperties, new: LicenseProperties) -> bool:
    return (old.node_name, old.source, old.license_secret_arn) != (new.node_name, new.source, new.license_secret_arn)


class LicenseManager:
    """``client`` builds the API client when a call needs it: a delete that keeps the record reads no API secret."""

    def __init__(
        self,
        client: Callable[[], TrustgridClient],
        secrets: SecretStore,
        log: JsonLogger,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client_factory = client
        self._made: TrustgridClient | None = None
        self._secrets = secrets
        self._log = log
        self._sleep = sleep

    @property
    def _client(self) -> TrustgridClient:
        if self._made is None:
            self._made = self._client_factory()
        return self._made

    def provide(self, spec: LicenseProperties) -> tuple[str, dict[str, str]]:
        """Mint (or read) the license, make it available to the instance; the uid and attributes."""
        log = self._log.bind(node=spec.node_name)
        domain = self._client.org_domain()
        if spec.source is LicenseSource.SECRET:
            token = self._secrets.get_secret_value(SecretId=spec.license_secret_arn)["SecretString"].strip()
            uid = license_uid(token)
            log.info("license.supplied", uid=uid)
            return uid, attributes(spec, uid, domain)
        token, adopted = self._mint(spec, domain, self._minted_before(spec), log)
        if token is None:  # another delivery of this request (earlier, or at the same time) minted and stored it
            log.info("license.adopted", uid=adopted, reason="another delivery of this request minted and stored it")
            return adopted, attributes(spec, adopted, domain)
        uid = license_uid(token)
        try:
            self._secrets.put_secret_value(
                SecretId=spec.license_secret_arn, SecretString=token, ClientRequestToken=stored_version(spec, uid)
            )
        except Exception:
            log.error("license.store_failed", uid=uid, action="deleting the node record just minted")
            self._forget(uid, log)
            raise
        log.info("license.minted", uid=uid)
        return uid, attributes(spec, uid, domain)

    def _mint(
        self, spec: LicenseProperties, domain: str, adopted: str | None, log: JsonLogger
    ) -> tuple[str | None, str]:
        """A new license (and ""), or None and the uid of the license this resource stored under the taken name.

        Minting reserves the name and is not idempotent. A mint whose answer was lost is asked once more: if
        the first never reached Trustgrid, the second mints; if it did, the second answers 422 and the
        name's owner decides what happens next (:meth:`_taken`).
        """
        for attempt in (1, 2):
            try:
                return self._client.mint_license(spec.node_name), ""
            except OutcomeUnknown as exc:
                log.warning("license.mint_outcome_unknown", attempt=attempt, detail=str(exc))
                if attempt == 2:
                    raise
            except ApiError as exc:
                if exc.status != 422:
                    raise
                return None, self._taken(spec, domain, adopted, exc)
        raise AssertionError("unreachable")

    def _taken(self, spec: LicenseProperties, domain: str, ours: str | None, refusal: ApiError) -> str:
        """The uid of this resource's own license when it holds the taken name; raise, saying why, otherwise.

        A delivery of the same request running at the same time may have minted the name a moment ago and be
        about to store it: the secret is read again for a while before the name counts as someone else's."""
        node = self._client.find_node_by_fqdn(f"{spec.node_name}.{domain}")
        for wait in STORE_WAITS:
            if ours is not None and (node is None or node.get("uid") == ours):
                return ours
            if node is not None:
                break
            self._log.info("license.name_taken_waiting_for_secret", node=spec.node_name, seconds=wait)
            self._sleep(wait)
            ours = self._minted_before(spec)
        if ours is not None and (node is None or node.get("uid") == ours):
            return ours
        if node is not None:
            raise ApiError(
                refusal.operation,
                422,
                f"The node name {spec.node_name!r} belongs to a registered node ({node.get('uid')}, "
                f"{'online' if node.get('online') else 'offline'}) that this stack did not create. Choose other "
                "gateway names, or delete that node in the Trustgrid portal if it is no longer used.",
            ) from None
        raise ApiError(
            refusal.operation,
            422,
            f"The node name {spec.node_name!r} is reserved by a license that has not registered and that this "
            "stack does not hold: a mint whose answer was lost, or someone else's pending license. Trustgrid "
            "cannot reissue a license for that name. Choose other gateway names, or ask Trustgrid support to "
            "release the name, then deploy again.",
            refusal.messages,
        ) from None

    def _minted_before(self, spec: LicenseProperties) -> str | None:
        """The uid of a license for this node name that this handler already stored in the secret, if any."""
        try:
            stored = self._secrets.get_secret_value(SecretId=spec.license_secret_arn)
        except Exception as exc:  # a new secret has no value yet
            self._log.info("license.secret_empty", node=spec.node_name, error=type(exc).__name__)
            return None
        uid = _uid_or_none(str(stored.get("SecretString") or "").strip())
        if uid is None or stored.get("VersionId") != stored_version(spec, uid):
            return None  # a placeholder, or the license of another name (before a rename)
        return uid

    def describe(self, spec: LicenseProperties, uid: str) -> dict[str, str]:
        """The attributes of a license that stays as it is."""
        return attributes(spec, uid, self._client.org_domain())

    def remove(self, spec: LicenseProperties, uid: str, *, rolling_back: bool, replaced: bool = False) -> None:
        """Delete the node record when asked to, or when a failed deployment is undoing its own license.

        A license deleted by a rollback was minted by that failed deployment and never served a running
        gateway; keeping its record would only make the next attempt fail with "name taken".
        """
        if not is_uid(uid):  # a Create that CloudFormation cancelled: its license, if any, is the one it stored
            stored = self._minted_before(spec) if spec.source is LicenseSource.MINT else None
            self._log.info("license.delete_of_a_cancelled_create", node=spec.node_name, stored=stored)
            if stored is None:  # it minted nothing (or nothing it stored): no record to remove
                return
            uid = stored
        log = self._log.bind(node=spec.node_name, uid=uid)
        if replaced and self._swapped_out(spec, uid, log):  # a member swap's old gateway: its record goes with it
            log.info("license.forget", reason="replaced by a member swap")
            self._forget(uid, log)
            return
        if spec.remove_node_on_delete or rolling_back:
            if rolling_back and not spec.remove_node_on_delete and (self._client.find_node(uid) or {}).get("cluster"):
                log.warning("license.node_record_kept", reason="a rollback left the node in a cluster")
                return
            log.info("license.forget", reason="RemoveNodeOnDelete" if spec.remove_node_on_delete else "rollback")
            self._forget(uid, log)
        else:
            log.info("license.node_record_kept", reason="RemoveNodeOnDelete is false")

    def _swapped_out(self, spec: LicenseProperties, uid: str, log: JsonLogger) -> bool:
        """Whether the node was swapped out: its cluster still exists (an update that removed the whole cluster
        keeps the records, as RemoveNodeOnDelete says) and the node is no member of any cluster."""
        node = self._client.find_node(uid)
        if node is not None and node.get("cluster"):
            log.warning("license.node_record_kept", reason="the replaced node is still in a cluster")
            return False
        if self._client.find_cluster(f"{spec.swap_cluster}.{self._client.org_domain()}") is None:
            log.info("license.node_record_kept", reason="its cluster was removed too")
            return False
        return True

    def _forget(self, uid: str, log: JsonLogger) -> None:
        try:
            self._client.delete_node(uid)
            log.info("license.node_record_deleted")
        except NotFound:
            log.info("license.node_record_already_gone")
