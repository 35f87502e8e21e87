"""The node-license resource: one per gateway.

The license reaches the instance through a Secrets Manager secret that only
the gateways' role may read: minted licenses are written there by this
handler, supplied ones are already there. The license is never returned as a
resource attribute, never logged and never part of an error message.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol

from .api import ApiError, NotFound, TrustgridClient
from .log import JsonLogger
from .props import LicenseSpec


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


ROLLBACK_STATUSES = frozenset(
    {
        "ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "IMPORT_ROLLBACK_IN_PROGRESS",
    }
)


def is_rolling_back(cloudformation: Any, stack_id: str, log: JsonLogger) -> bool:
    """Whether the stack is undoing a failed deployment (so what it deletes now, it made in that deployment)."""
    try:
        status = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    except Exception as exc:  # no answer: keep the record, the safe side
        log.warning("license.stack_status_unknown", error=type(exc).__name__)
        return False
    return status in ROLLBACK_STATUSES


def attributes(spec: LicenseSpec, uid: str, domain: str) -> dict[str, str]:
    return {"NodeUid": uid, "NodeName": spec.node_name, "NodeFqdn": f"{spec.node_name}.{domain}"}


def needs_new_license(old: LicenseSpec, new: LicenseSpec) -> bool:
    return (old.node_name, old.source, old.license_secret_arn) != (new.node_name, new.source, new.license_secret_arn)


class LicenseManager:
    def __init__(self, client: TrustgridClient, secrets: SecretStore, log: JsonLogger) -> None:
        self._client = client
        self._secrets = secrets
        self._log = log

    def provide(self, spec: LicenseSpec) -> tuple[str, dict[str, str]]:
        """Mint (or read) the license, make it available to the instance; the uid and attributes."""
        log = self._log.bind(node=spec.node_name)
        domain = self._client.org_domain()
        if spec.source == "secret":
            token = self._secrets.get_secret_value(SecretId=spec.license_secret_arn)["SecretString"].strip()
            uid = license_uid(token)
            log.info("license.supplied", uid=uid)
            return uid, attributes(spec, uid, domain)
        try:
            token = self._client.mint_license(spec.node_name)
        except ApiError as exc:
            if exc.status == 422:
                raise ApiError(
                    exc.operation,
                    exc.status,
                    f"Trustgrid refused the node name {spec.node_name!r}; it is probably taken in this "
                    "organization. Choose other gateway names or delete the old node record.",
                    exc.messages,
                ) from None
            raise
        uid = license_uid(token)
        try:
            self._secrets.put_secret_value(SecretId=spec.license_secret_arn, SecretString=token)
        except Exception:
            log.error("license.store_failed", uid=uid, action="deleting the node record just minted")
            self._forget(uid, log)
            raise
        log.info("license.minted", uid=uid)
        return uid, attributes(spec, uid, domain)

    def describe(self, spec: LicenseSpec, uid: str) -> dict[str, str]:
        """The attributes of a license that stays as it is."""
        return attributes(spec, uid, self._client.org_domain())

    def remove(self, spec: LicenseSpec, uid: str, *, rolling_back: bool) -> None:
        """Delete the node record when asked to, or when a failed deployment is undoing its own license.

        A license deleted by a rollback was minted by that failed deployment and never served a running
        gateway; keeping its record would only make the next attempt fail with "name taken".
        """
        log = self._log.bind(node=spec.node_name, uid=uid)
        if spec.remove_node_on_delete or rolling_back:
            log.info("license.forget", reason="RemoveNodeOnDelete" if spec.remove_node_on_delete else "rollback")
            self._forget(uid, log)
        else:
            log.info("license.node_record_kept", reason="RemoveNodeOnDelete is false")

    def _forget(self, uid: str, log: JsonLogger) -> None:
        try:
            self._client.delete_node(uid)
            log.info("license.node_record_deleted")
        except NotFound:
            log.info("license.node_record_already_gone")
