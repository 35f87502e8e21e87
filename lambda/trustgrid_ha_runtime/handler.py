"""Entry points of the custom-resource provider (``on_event`` and ``is_complete``).

One provider per stack serves three resource types; the handler dispatches on
the resource type and the request type to small functions and raises to fail
(the Provider framework turns an exception into a FAILED response with the
message). Dependencies (API client, EC2, Secrets Manager, clock) are built from
the environment by :meth:`Runtime.from_environment` and injected, so tests run
the same code against a local API stand-in and moto.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import monitor
from .api import ApiError, Credentials, RetryPolicy, TrustgridClient, Unauthorized, Unavailable
from .cluster import CLAIM_SETTLE_SECONDS, CREATE_PLAN, ClusterReconciler, plan_update
from .contract import (
    CLUSTER_TYPE,
    DEFAULT_API_URL,
    GATE_TYPE,
    GUARD_TYPE,
    IMAGE_TYPE,
    LICENSE_TYPE,
    PROTECTION_TYPE,
    ClusterProperties,
    GateProperties,
    GuardProperties,
    ImageProperties,
    LicenseProperties,
    ProtectionProperties,
)
from .image import keeps_image, resolve_image
from .license import LicenseManager, needs_new_license
from .lifecycle import (
    Superseded,
    gate_check,
    gate_wait,
    guard_hand_over,
    guard_update,
    protected_instances,
    protection_delete,
    refuse_conflicts,
    refuse_delete_of_protected,
    refused_changes,
    restart_plan,
    route_conflicts,
    set_protection,
    superseded,
)
from .log import JsonLogger
from .stack import ROLLBACK_CLEANUP, ROLLBACK_STATUSES, stack_status

Response = dict[str, Any]
SAFETY_MARGIN_SECONDS = 15.0
#: How long a cluster delete waits out an API outage or a refused key before it fails.
DELETE_WAIT_SECONDS = 900
OWNER_NAMESPACE = uuid.UUID("0b7e9a3c-5d41-4f5e-8f7e-2a1c9d3b6e10")
#: CloudFormation shows at most 4 KB of a failure's reason.
REASON_LIMIT = 3800
#: A decision that depends on the stack's status asks this often (about 1.5 minutes with backoff): DescribeStacks
#: is throttled under load, and an error must never turn into the refusal of a rollback.
STATUS_ATTEMPTS = 8
#: How long a graceful hand-over of the active role may take before a planned restart gives up (nothing stopped).
HANDOVER_SECONDS = 900
#: In a rollback, the gate waits this long at most for the first gateway, then lets the rollback go on: it never
#: fails a rollback (UPDATE_ROLLBACK_FAILED can only be freed by hand).
ROLLBACK_GATE_SECONDS = 300


@dataclass
class Runtime:
    """What the handler needs from the outside world."""

    api: Callable[[], TrustgridClient]
    ec2: Any
    secrets: Any
    cloudformation: Any
    cloudwatch: Any
    log: JsonLogger
    region: str
    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_environment(cls, context: Any, log: JsonLogger) -> Runtime:
        import boto3  # the Lambda runtime provides boto3; imported here to keep cold starts of tests cheap

        region = os.environ.get("AWS_REGION", "us-east-1")
        secrets = boto3.client("secretsmanager", region_name=region)
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS

        def api() -> TrustgridClient:
            try:
                secret = secrets.get_secret_value(SecretId=os.environ["TRUSTGRID_API_SECRET_ARN"])["SecretString"]
            except Exception as exc:  # deleted, or no longer readable
                raise SecretUnavailable(
                    f"The Trustgrid API secret {os.environ['TRUSTGRID_API_SECRET_ARN']} cannot be read "
                    f"({type(exc).__name__}). Restore it (or its read permission) and retry."
                ) from None
            return TrustgridClient(
                os.environ.get("TRUSTGRID_API_URL", DEFAULT_API_URL),
                Credentials.from_secret_string(secret),
                logger=log,
                policy=RetryPolicy(),
                budget=lambda: deadline - time.monotonic(),
            )

        return cls(
            api=_once(api),
            ec2=boto3.client("ec2", region_name=region),
            secrets=secrets,
            cloudformation=boto3.client("cloudformation", region_name=region),
            cloudwatch=boto3.client("cloudwatch", region_name=region),
            log=log,
            region=region,
        )


class SecretUnavailable(RuntimeError):
    """The Trustgrid API secret cannot be read (deleted, or its permission gone)."""


def _once(factory: Callable[[], TrustgridClient]) -> Callable[[], TrustgridClient]:
    made: list[TrustgridClient] = []

    def get() -> TrustgridClient:
        if not made:
            made.append(factory())
        return made[0]

    return get


def on_event(event: dict[str, Any], context: Any) -> Response:
    return _entry(handle_event, event, context)


def is_complete(event: dict[str, Any], context: Any) -> Response:
    return _entry(handle_is_complete, event, context)


def _entry(handle: Callable[[dict[str, Any], Runtime], Response], event: dict[str, Any], context: Any) -> Response:
    log = JsonLogger(
        request=event.get("RequestType"),
        resource=event.get("ResourceType"),
        logical_id=event.get("LogicalResourceId"),
    )
    log.info("request.start", physical_id=event.get("PhysicalResourceId"))
    try:
        response = handle(event, Runtime.from_environment(context, log))
    except Exception as exc:
        log.error("request.failed", error=type(exc).__name__, message=str(exc))
        message = str(exc)
        if len(message) > REASON_LIMIT:  # the actionable part comes first; the log line above has it all
            raise RuntimeError(message[: REASON_LIMIT - 40] + " … (the full message is in the log)") from None
        raise
    log.info("request.done", physical_id=response.get("PhysicalResourceId"), complete=response.get("IsComplete"))
    return response


def old_cluster_properties(event: dict[str, Any]) -> ClusterProperties | None:
    """The properties an update replaces, parsed leniently (an older library version wrote them)."""
    if event["RequestType"] != "Update":
        return None
    return ClusterProperties.parse(event["OldResourceProperties"], strict=False)


# -- on_event ------------------------------------------------------------------------------


def handle_event(event: dict[str, Any], rt: Runtime) -> Response:
    kind = event["ResourceType"]
    handlers: dict[str, Callable[[dict[str, Any], Runtime], Response]] = {
        CLUSTER_TYPE: cluster_event,
        LICENSE_TYPE: license_event,
        IMAGE_TYPE: image_event,
        GUARD_TYPE: guard_event,
        GATE_TYPE: gate_event,
        PROTECTION_TYPE: protection_event,
    }
    if kind not in handlers:
        raise ValueError(f"This provider does not handle resource type {kind!r}")
    return handlers[kind](event, rt)


def owner_of(event: dict[str, Any]) -> str:
    """The identity of this cluster resource (stack and logical ID): the tag that proves a cluster is ours."""
    return str(uuid.uuid5(OWNER_NAMESPACE, f"{event.get('StackId', '')}/{event.get('LogicalResourceId', '')}"))


def _waiting(event: dict[str, Any], rt: Runtime, seconds: float) -> dict[str, str]:
    """What every poll of this request needs: its deadline and the stack operation it belongs to."""
    phase = stack_status(rt.cloudformation, event.get("StackId"), rt.log) or ""
    return {"WaitDeadline": f"{rt.now() + seconds:.0f}", "Phase": phase}


def cluster_event(event: dict[str, Any], rt: Runtime) -> Response:
    request = event["RequestType"]
    spec = ClusterProperties.parse(event["ResourceProperties"], strict=request != "Delete")
    if request == "Delete":  # done by the polls, which wait out an outage or a revoked key within the budget
        return {"PhysicalResourceId": event["PhysicalResourceId"], "Data": _waiting(event, rt, DELETE_WAIT_SECONDS)}
    old = old_cluster_properties(event)
    if old is not None and old.name == spec.name:
        fqdn = event["PhysicalResourceId"]
    else:  # a create (a rename is refused by the change guard before it gets here)
        fqdn = f"{spec.name}.{rt.api().org_domain()}"
    data = {"ClusterFqdn": fqdn, **_waiting(event, rt, int(spec.wait_timeout_seconds))}
    return {"PhysicalResourceId": fqdn, "Data": data}


def guard_event(event: dict[str, Any], rt: Runtime) -> Response:
    physical = event.get("PhysicalResourceId") or f"guard-{owner_of(event)}"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical}
    new = GuardProperties.parse(event["ResourceProperties"])
    old = (
        GuardProperties.parse(event["OldResourceProperties"], strict=False)
        if event["RequestType"] == "Update"
        else None
    )
    refused = refused_changes(old, new) if old is not None else []
    conflicts = route_conflicts(rt.ec2, new, old)
    restarts = old is not None and new.restarts(old)
    if not (refused or conflicts or restarts):
        return {"PhysicalResourceId": physical}
    # only now does it matter whether this is a rollback (of a refusal, say): a rollback is never refused
    status = stack_status(rt.cloudformation, event.get("StackId"), rt.log, attempts=STATUS_ATTEMPTS, sleep=rt.sleep)
    if status is None:
        raise StackStatusUnknown(
            "The change guard could not read the stack's status (DescribeStacks kept failing), so it cannot tell a "
            "rollback from a new change; nothing was changed. Retry the deployment (or, in a rollback, continue it)."
        )
    if status in ROLLBACK_STATUSES:
        rt.log.info("guard.rollback_allowed", status=status)
        return {"PhysicalResourceId": physical}
    refuse_conflicts(conflicts, rt.log)
    if old is not None:
        guard_update(old, new, rt.log)
    to = restart_plan(rt.api(), new, rt.log) if restarts else None
    if to is None:
        return {"PhysicalResourceId": physical}
    rt.log.info("guard.hand_over_first", to=to, reason="the update stops and starts the primary, which holds the role")
    data = {"WaitDeadline": f"{rt.now() + HANDOVER_SECONDS:.0f}", "Phase": status, "HandOverTo": to}
    return {"PhysicalResourceId": physical, "Data": data}


class StackStatusUnknown(RuntimeError):
    """A decision needed the stack's status and CloudFormation did not give it."""


def gate_event(event: dict[str, Any], rt: Runtime) -> Response:
    physical = event.get("PhysicalResourceId") or f"gate-{owner_of(event)}"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical}
    spec = GateProperties.parse(event["ResourceProperties"])
    data = _waiting(event, rt, int(spec.wait_timeout_seconds))
    if data["Phase"] in ROLLBACK_STATUSES:
        data["WaitDeadline"] = f"{rt.now() + ROLLBACK_GATE_SECONDS:.0f}"
    return {"PhysicalResourceId": physical, "Data": data}


def protection_event(event: dict[str, Any], rt: Runtime) -> Response:
    request = event["RequestType"]
    spec = ProtectionProperties.parse(event["ResourceProperties"], strict=request != "Delete")
    physical = event.get("PhysicalResourceId") or f"protection-{owner_of(event)}"
    if request == "Delete":
        status = stack_status(rt.cloudformation, event.get("StackId"), rt.log, attempts=STATUS_ATTEMPTS, sleep=rt.sleep)
        if status == ROLLBACK_CLEANUP:
            # a failed update made this resource and was rolled back: the instances stay, as protected as the
            # rolled-back template has them (an upgrade from a version that protected them in the template)
            rt.log.info("protection.kept", reason="rollback cleanup: the instances stay as the template has them")
            return {"PhysicalResourceId": physical}
        protection_delete(rt.ec2, spec.instance_ids, bool(spec.enabled), status in ROLLBACK_STATUSES, rt.log)
    else:
        set_protection(rt.ec2, spec.instance_ids, bool(spec.enabled), rt.log)
    return {"PhysicalResourceId": physical}


def license_event(event: dict[str, Any], rt: Runtime) -> Response:
    request = event["RequestType"]
    spec = LicenseProperties.parse(event["ResourceProperties"], strict=request != "Delete")
    manager = LicenseManager(rt.api, rt.secrets, rt.log, rt.sleep)  # the API (and its secret) only when a call needs it
    if request == "Delete":
        rolling_back = not spec.remove_node_on_delete and (
            stack_status(rt.cloudformation, event.get("StackId"), rt.log, attempts=STATUS_ATTEMPTS, sleep=rt.sleep)
            in ROLLBACK_STATUSES
        )
        manager.remove(spec, event["PhysicalResourceId"], rolling_back=rolling_back)
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    old = LicenseProperties.parse(event["OldResourceProperties"], strict=False) if request == "Update" else None
    if old is not None and not needs_new_license(old, spec):
        uid = event["PhysicalResourceId"]
        return {"PhysicalResourceId": uid, "Data": manager.describe(spec, uid)}
    uid, data = manager.provide(spec)
    return {"PhysicalResourceId": uid, "Data": data}


def image_event(event: dict[str, Any], rt: Runtime) -> Response:
    request = event["RequestType"]
    if request == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    spec = ImageProperties.parse(event["ResourceProperties"])
    if request == "Update" and keeps_image(ImageProperties.parse(event["OldResourceProperties"], strict=False), spec):
        image_id = event["PhysicalResourceId"]
        rt.log.info("image.kept", image_id=image_id)
        return {"PhysicalResourceId": image_id, "Data": {"ImageId": image_id}}
    image_id, name = resolve_image(rt.ec2, spec, rt.region)
    rt.log.info("image.resolved", image_id=image_id, name=name)
    return {"PhysicalResourceId": image_id, "Data": {"ImageId": image_id}}


# -- is_complete ---------------------------------------------------------------------------


def handle_is_complete(event: dict[str, Any], rt: Runtime) -> Response:
    kind, request = event["ResourceType"], event["RequestType"]
    if kind not in (CLUSTER_TYPE, GATE_TYPE, GUARD_TYPE) or (kind != CLUSTER_TYPE and request == "Delete"):
        return {"IsComplete": True}
    if kind == GUARD_TYPE and "HandOverTo" not in (event.get("Data") or {}):
        return {"IsComplete": True}
    data = event.get("Data") or {}
    current = stack_status(rt.cloudformation, event.get("StackId"), rt.log)
    if superseded(data.get("Phase"), current):
        rt.log.warning("request.superseded", recorded=data.get("Phase"), current=current)
        raise Superseded(
            f"This {request} request belongs to a stack operation that has ended ({data.get('Phase')}; the stack "
            f"is now {current}): stopped without writing."
        )
    deadline = float(data["WaitDeadline"])
    if kind == GUARD_TYPE:
        guard = GuardProperties.parse(event["ResourceProperties"])
        to = str(data["HandOverTo"])
        return _retrying(rt, deadline, lambda: guard_hand_over(rt.api(), rt.ec2, guard, to, deadline, rt.now, rt.log))
    if kind == GATE_TYPE:
        return _gate_poll(event, rt, deadline)
    if request == "Delete":
        return _delete_cluster(event, rt, deadline)
    return _converge_cluster(event, rt, deadline)


def _gate_poll(event: dict[str, Any], rt: Runtime, deadline: float) -> Response:
    spec = GateProperties.parse(event["ResourceProperties"])
    if (event.get("Data") or {}).get("Phase") in ROLLBACK_STATUSES:
        # a rollback puts back what ran before: it waits a little for the first gateway, never hands the role over,
        # and never fails (waiting again for a gateway that did not come back would end in UPDATE_ROLLBACK_FAILED)
        try:
            back = gate_check(rt.api(), rt.ec2, spec, rt.api().find_node(spec.node_uid)).ready
        except Exception as exc:  # nothing may fail a rollback
            rt.log.warning("gate.rollback_check_failed", error=type(exc).__name__)
            back = False
        if not back and rt.now() < deadline:
            return {"IsComplete": False}
        rt.log.info("gate.rollback_passes", first_gateway_back=back)
        return {"IsComplete": True}
    first = event["RequestType"] == "Create"
    return _retrying(rt, deadline, lambda: gate_wait(rt.api(), rt.ec2, spec, deadline, rt.now, rt.log, create=first))


def _retrying(
    rt: Runtime, deadline: float, poll: Callable[[], bool], transient: tuple[type[Exception], ...] = (Unavailable,)
) -> Response:
    """One poll; an API outage before the deadline only means: try again next poll. Permanent errors (401, 403,
    422) fail at once, except for a delete, which waits out a refused key too (it may be restored)."""
    try:
        done = poll()
    except transient as exc:
        if rt.now() >= deadline:
            raise
        rt.log.warning("api.unavailable_for_now", detail=str(exc), seconds_left=round(deadline - rt.now()))
        return {"IsComplete": False}
    return {"IsComplete": done}


def _delete_cluster(event: dict[str, Any], rt: Runtime, deadline: float) -> Response:
    spec = ClusterProperties.parse(event["ResourceProperties"], strict=False)
    physical = event["PhysicalResourceId"]

    def delete() -> bool:
        # A Create that CloudFormation cancelled (a sibling failed) is deleted with an id CloudFormation made up:
        # the cluster that Create may have made is found by its name, and deleted only if it carries our tag.
        fqdn = physical if "." in physical else f"{spec.name}.{rt.api().org_domain()}"
        protected = protected_instances(rt.ec2, [m.lan_eni_id for m in spec.members])
        if protected:
            raise refuse_delete_of_protected(fqdn, protected)
        reconciler = _reconciler(event, rt)
        # done once a poll finds nothing of ours left: a cancelled Create's last poll may still be under way
        deleted = reconciler.delete(fqdn, spec)
        if spec.version is not None:
            reconciler.remove_own_routes(spec)
        return not deleted

    try:
        return _retrying(rt, deadline, delete, (Unavailable, Unauthorized, SecretUnavailable))
    except (Unavailable, Unauthorized, SecretUnavailable) as exc:
        raise ApiError(
            "delete cluster",
            getattr(exc, "status", None),
            f"The cluster {physical if '.' in physical else spec.name} could not be deleted before the deadline "
            f"({exc}). It still exists in Trustgrid. Restore a valid API key in the API secret and retry the delete, "
            "or delete the cluster in the Trustgrid portal and retry the stack delete retaining this resource.",
        ) from None


def _reconciler(event: dict[str, Any], rt: Runtime) -> ClusterReconciler:
    return ClusterReconciler(
        rt.api(), rt.ec2, rt.log, rt.now, owner=owner_of(event), settle=lambda: rt.sleep(CLAIM_SETTLE_SECONDS)
    )


def _converge_cluster(event: dict[str, Any], rt: Runtime, deadline: float) -> Response:
    spec = ClusterProperties.parse(event["ResourceProperties"])
    fqdn = event["PhysicalResourceId"]
    old = old_cluster_properties(event)
    plan = CREATE_PLAN if old is None else plan_update(old, spec)
    reconciler = _reconciler(event, rt)
    try:
        response = _retrying(rt, deadline, lambda: reconciler.converge(fqdn, spec, plan, old, deadline).complete)
    except Exception:
        if plan.create:
            # The Provider framework sends no Delete after a failed create: undo what was made here.
            _undo_create(reconciler, fqdn, spec, rt.log)
        raise
    if response["IsComplete"]:
        response["Data"] = {"ClusterFqdn": fqdn}
        if spec.metrics_name:
            _first_data_points(spec.metrics_name, fqdn, rt)
    return response


def _first_data_points(name: str, fqdn: str, rt: Runtime) -> None:
    """The scheduled check's metrics, once, from the verified cluster: its alarms (created after the cluster) never
    start on missing data, which they treat as breaching. A failure here fails nothing."""
    try:
        monitor.check([{"name": name, "fqdn": fqdn}], rt.api(), rt.ec2, rt.cloudwatch, rt.log)
    except Exception as exc:  # the next scheduled check publishes them
        rt.log.warning("cluster.first_data_points_failed", error=type(exc).__name__, message=str(exc))


def _undo_create(reconciler: ClusterReconciler, fqdn: str, spec: ClusterProperties, log: JsonLogger) -> None:
    log.warning("cluster.undo_create", cluster=fqdn)
    try:
        reconciler.delete(fqdn, spec)
    except Exception as exc:  # the original failure is the one to report
        log.error("cluster.undo_failed", cluster=fqdn, error=type(exc).__name__, message=str(exc))
