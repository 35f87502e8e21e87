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
    API_SECRET_ENV,
    API_URL_ENV,
    CLUSTER_TYPE,
    DEFAULT_API_URL,
    GATE_TYPE,
    GUARD_TYPE,
    IMAGE_TYPE,
    LICENSE_TYPE,
    MEMBER_TYPE,
    PROTECTION_TYPE,
    SEAT_TYPE,
    VIRTUAL_NETWORK_TYPE,
    ClusterProperties,
    GateProperties,
    GuardProperties,
    ImageProperties,
    LicenseProperties,
    ProtectionProperties,
    SeatProperties,
    SwapProperties,
    VirtualNetworkProperties,
)
from .image import keeps_image, resolve_image
from .license import LicenseManager, needs_new_license
from .lifecycle import (
    Superseded,
    gate_wait,
    guard_decision,
    guard_hand_over,
    needs_checks,
    protected_instances,
    protection_delete,
    refuse_delete_of_protected,
    rollback_gate_step,
    rollback_hand_over,
    rollback_restarts,
    set_protection,
    superseded,
)
from .log import JsonLogger
from .stack import ROLLBACK_CLEANUP, ROLLBACK_STATUSES, UPDATE_CLEANUP, stack_status
from .swap import PairRestore, SeatSwap, attach, detach, step_specs, swaps, swaps_member
from .vpn import VirtualNetworkReconciler, physical_id

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
#: A rollback Update waits this long at most (for the first gateway at the gate, for the cluster to converge back),
#: then lets the rollback go on: it never fails a rollback (UPDATE_ROLLBACK_FAILED can only be freed by hand).
ROLLBACK_WAIT_SECONDS = 600
#: The resource types whose requests the waiter polls.
POLLED = frozenset({CLUSTER_TYPE, GATE_TYPE, GUARD_TYPE, SEAT_TYPE, MEMBER_TYPE})


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
                secret = secrets.get_secret_value(SecretId=os.environ[API_SECRET_ENV])["SecretString"]
            except Exception as exc:  # deleted, or no longer readable
                raise SecretUnavailable(
                    f"The Trustgrid API secret {os.environ[API_SECRET_ENV]} cannot be read "
                    f"({type(exc).__name__}). Restore it (or its read permission) and retry."
                ) from None
            return TrustgridClient(
                os.environ.get(API_URL_ENV, DEFAULT_API_URL),
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
        VIRTUAL_NETWORK_TYPE: virtual_network_event,
        SEAT_TYPE: seat_event,
        MEMBER_TYPE: member_event,
    }
    if kind not in handlers:
        raise ValueError(f"This provider does not handle resource type {kind!r}")
    return handlers[kind](event, rt)


def owner_of(event: dict[str, Any]) -> str:
    """The identity of this cluster resource (stack and logical ID): the tag that proves a cluster is ours."""
    return str(uuid.uuid5(OWNER_NAMESPACE, f"{event.get('StackId', '')}/{event.get('LogicalResourceId', '')}"))


def _phase(event: dict[str, Any], rt: Runtime) -> str | None:
    """The stack operation this request belongs to (asked again with backoff when DescribeStacks is throttled)."""
    return stack_status(rt.cloudformation, event.get("StackId"), rt.log, attempts=STATUS_ATTEMPTS, sleep=rt.sleep)


def _waiting(event: dict[str, Any], rt: Runtime, seconds: float, phase: str | None = "") -> dict[str, str]:
    """What every poll of this request needs: its deadline and the stack operation it belongs to."""
    phase = _phase(event, rt) if phase == "" else phase
    if phase in ROLLBACK_STATUSES:  # a rollback waits a little at most, and never fails
        seconds = min(seconds, ROLLBACK_WAIT_SECONDS)
    return {"WaitDeadline": f"{rt.now() + seconds:.0f}", "Phase": phase or ""}


def cluster_event(event: dict[str, Any], rt: Runtime) -> Response:
    request = event["RequestType"]
    if request == "Delete":  # done by the polls, which wait out an outage or a revoked key within the budget
        ClusterProperties.parse(event["ResourceProperties"], strict=False)
        return {"PhysicalResourceId": event["PhysicalResourceId"], "Data": _waiting(event, rt, DELETE_WAIT_SECONDS)}
    phase = _phase(event, rt)
    # A rollback puts back properties an earlier version of this library accepted: never refuse them by a newer rule.
    spec = ClusterProperties.parse(event["ResourceProperties"], strict=phase not in ROLLBACK_STATUSES)
    old = old_cluster_properties(event)
    if old is not None and old.name == spec.name:
        fqdn = event["PhysicalResourceId"]
    else:  # a create (a rename is refused by the change guard before it gets here)
        fqdn = f"{spec.name}.{rt.api().org_domain()}"
    data = {"ClusterFqdn": fqdn, **_waiting(event, rt, int(spec.wait_timeout_seconds), phase)}
    return {"PhysicalResourceId": fqdn, "Data": data}


def guard_event(event: dict[str, Any], rt: Runtime) -> Response:
    physical = event.get("PhysicalResourceId") or f"guard-{owner_of(event)}"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical}
    new = GuardProperties.parse(event["ResourceProperties"])
    update = event["RequestType"] == "Update"
    old = GuardProperties.parse(event["OldResourceProperties"], strict=False) if update else None
    if not needs_checks(old, new):
        return {"PhysicalResourceId": physical}
    # an update may be a rollback (of a refusal, say), which is never refused: ask first, before any other call
    status = stack_status(rt.cloudformation, event.get("StackId"), rt.log, attempts=STATUS_ATTEMPTS, sleep=rt.sleep)
    if update and status is None:  # the waiter asks again, and decides once CloudFormation answers
        return {"PhysicalResourceId": physical, "Data": _guard_data(rt, "", Decide="true")}
    to, best_effort = _guard_decide(rt, old, new, status)
    if to is None:
        return {"PhysicalResourceId": physical}
    rt.log.info("guard.hand_over_first", to=to, reason="the update stops and starts the primary, which holds the role")
    data = _guard_data(rt, status or "", HandOverTo=to, **({"BestEffort": "true"} if best_effort else {}))
    return {"PhysicalResourceId": physical, "Data": data}


def _guard_data(rt: Runtime, phase: str, **extra: str) -> dict[str, str]:
    return {"WaitDeadline": f"{rt.now() + HANDOVER_SECONDS:.0f}", "Phase": phase, **extra}


def _guard_decide(
    rt: Runtime, old: GuardProperties | None, new: GuardProperties, status: str | None
) -> tuple[str | None, bool]:
    """(the member to hand the role to first, or None; whether only as a best effort). Raises a refusal."""
    if status in ROLLBACK_STATUSES:
        rt.log.info("guard.rollback_allowed", status=status)
        to = rollback_hand_over(rt.api(), rt.ec2, new, rt.log) if old is not None and new.restarts(old) else None
        return to, True
    return guard_decision(rt.api, rt.ec2, old, new, rt.log), False


class StackStatusUnknown(RuntimeError):
    """A decision needed the stack's status and CloudFormation did not give it."""


def gate_event(event: dict[str, Any], rt: Runtime) -> Response:
    physical = event.get("PhysicalResourceId") or f"gate-{owner_of(event)}"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical}
    spec = GateProperties.parse(event["ResourceProperties"])
    if event["RequestType"] == "Update" and swapped_only(event, spec):
        rt.log.info("gate.swap_passes", node=spec.node_name, partner=spec.partner_name)
        return {"PhysicalResourceId": physical}
    data = _waiting(event, rt, int(spec.wait_timeout_seconds))
    if data["Phase"] in ROLLBACK_STATUSES:
        # A rollback waits for the first gateway only when it restarts the second one too (its live type is not the
        # one rolled back to): then as long as an update would, but it never fails. Otherwise it passes at once.
        if rollback_restarts(rt.ec2, spec, rt.log):
            data["WaitDeadline"] = f"{rt.now() + int(spec.wait_timeout_seconds):.0f}"
        else:
            data["Pass"] = "true"
    return {"PhysicalResourceId": physical, "Data": data}


def swapped_only(event: dict[str, Any], spec: GateProperties) -> bool:
    """Whether an update gave a position a new node (the first's, the second's or both), with nothing that restarts
    the gateways in place: the gate has nothing to wait for, the swap's own resources wait."""
    old = GateProperties.parse(event["OldResourceProperties"], strict=False)
    restart = {k: v for k, v in spec.fingerprint.items() if k != "LicenseSecretArn"}
    swapped = old.node_uid != spec.node_uid or old.partner_uid != spec.partner_uid
    return swapped and {k: v for k, v in old.fingerprint.items() if k != "LicenseSecretArn"} == restart


def seat_event(event: dict[str, Any], rt: Runtime) -> Response:
    """A position's Elastic IP on its gateway's WAN interface. An update that brings a new gateway is done by the
    polls (the role leaves the old member, then the address moves); a delete takes the address off its own
    interface only (a cancelled create's made-up id included)."""
    request = event["RequestType"]
    physical = event.get("PhysicalResourceId") or f"seat-{owner_of(event)}"
    spec = SeatProperties.parse(event["ResourceProperties"], strict=request == "Create")
    if request == "Delete":
        detach(rt.ec2, spec, rt.log)
        return {"PhysicalResourceId": physical}
    old = SeatProperties.parse(event["OldResourceProperties"], strict=False) if request == "Update" else None
    if old is None or not swaps(old, spec):
        _while_permissions_propagate(rt, lambda: attach(rt.ec2, spec, rt.log))
        return {"PhysicalResourceId": physical}
    phase = _phase(event, rt)
    if phase is not None and phase not in ROLLBACK_STATUSES:
        SeatSwap(rt.api(), rt.ec2, rt.log, rt.now).check(old, spec)
    return {"PhysicalResourceId": physical, "Data": _swap_waiting(event, rt, HANDOVER_SECONDS, phase)}


def _while_permissions_propagate(rt: Runtime, call: Callable[[], object], attempts: int = 10) -> None:
    """A call right after its policy was created (a first create): IAM may not have it everywhere yet."""
    for attempt in range(1, attempts + 1):
        try:
            call()
            return
        except Exception as exc:  # botocore ClientError
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code not in ("UnauthorizedOperation", "AccessDenied") or attempt == attempts:
                raise
            rt.log.warning("iam.not_yet_propagated", error=code, attempt=attempt)
            rt.sleep(min(2.0**attempt, 15.0))


def _swap_waiting(event: dict[str, Any], rt: Runtime, seconds: float, phase: str | None) -> dict[str, str]:
    """A swap step's deadline and phase; without an answer from CloudFormation the polls ask again (``Decide``):
    a rollback must never be taken for a new change, nor the other way round."""
    data = _waiting(event, rt, seconds, phase)
    if phase is None:
        data["Decide"] = "true"
    return data


def _decided(event: dict[str, Any], rt: Runtime, deadline: float) -> str | None:
    """The phase a swap step belongs to; asked again while CloudFormation has not said (None: ask next poll)."""
    data = event.get("Data") or {}
    if not data.get("Decide"):
        return str(data.get("Phase") or "")
    status = stack_status(rt.cloudformation, event.get("StackId"), rt.log)
    if status is None and rt.now() >= deadline:
        raise StackStatusUnknown(
            "A member swap step could not read the stack's status for its whole deadline (DescribeStacks kept "
            "failing), so it cannot tell a rollback from a new change; it changed nothing. Retry the deployment (or, "
            "in a rollback, continue it)."
        )
    return status


def member_event(event: dict[str, Any], rt: Runtime) -> Response:
    """A position's member in the cluster: only an update that gives the position a new node does something, in
    the polls. Create and delete belong to the cluster resource."""
    physical = event.get("PhysicalResourceId") or f"member-{owner_of(event)}"
    if event["RequestType"] != "Update":
        return {"PhysicalResourceId": physical}
    phase = _phase(event, rt)
    strict = phase is not None and phase not in ROLLBACK_STATUSES
    new = SwapProperties.parse(event["ResourceProperties"], strict=strict)
    if not swaps_member(SwapProperties.parse(event["OldResourceProperties"], strict=False), new):
        return {"PhysicalResourceId": physical}
    return {"PhysicalResourceId": physical, "Data": _swap_waiting(event, rt, int(new.wait_timeout_seconds), phase)}


def virtual_network_event(event: dict[str, Any], rt: Runtime) -> Response:
    """The cluster's virtual-network attachment, done at once (a few API calls). Its physical id is the cluster and
    the network: an update to another network (or cluster) is a replacement, whose old one CloudFormation deletes
    in its cleanup. A Delete acts on its properties alone (ownership is read from Trustgrid), so a cancelled
    create's made-up id is handled like any other."""
    request, physical = event["RequestType"], str(event.get("PhysicalResourceId") or "")
    rolling_back = request != "Create" and _phase(event, rt) in ROLLBACK_STATUSES
    spec = VirtualNetworkProperties.parse(event["ResourceProperties"], strict=request != "Delete" and not rolling_back)
    reconciler = VirtualNetworkReconciler(rt.api(), rt.log, rolling_back=rolling_back)
    if request == "Delete":
        reconciler.delete(spec)
        return {"PhysicalResourceId": physical}
    old = VirtualNetworkProperties.parse(event["OldResourceProperties"], strict=False) if request == "Update" else None
    keeps = old is not None and physical == physical_id(spec) == physical_id(old)
    reconciler.converge(spec, old if keeps else None)
    return {"PhysicalResourceId": physical_id(spec), "Data": {"NetworkName": spec.network_name}}


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
        return {"PhysicalResourceId": physical}
    set_protection(rt.ec2, spec.instance_ids, bool(spec.enabled), rt.log)
    if request == "Update":  # instances no longer listed (swapped out, or a failed swap's): CloudFormation removes them
        old = ProtectionProperties.parse(event.get("OldResourceProperties") or {}, strict=False)
        set_protection(rt.ec2, tuple(i for i in old.instance_ids if i not in spec.instance_ids), False, rt.log)
    return {"PhysicalResourceId": physical}


def license_event(event: dict[str, Any], rt: Runtime) -> Response:
    request = event["RequestType"]
    spec = LicenseProperties.parse(event["ResourceProperties"], strict=request != "Delete")
    manager = LicenseManager(rt.api, rt.secrets, rt.log, rt.sleep)  # the API (and its secret) only when a call needs it
    if request == "Delete":
        status = None if spec.remove_node_on_delete else _phase(event, rt)
        manager.remove(
            spec,
            event["PhysicalResourceId"],
            rolling_back=status in ROLLBACK_STATUSES,
            replaced=bool(spec.swap_cluster) and status == UPDATE_CLEANUP,
        )
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
    data = event.get("Data") or {}
    if not _polled(kind, request, data):
        return {"IsComplete": True}
    current = stack_status(rt.cloudformation, event.get("StackId"), rt.log)
    if superseded(data.get("Phase"), current):
        rt.log.warning("request.superseded", recorded=data.get("Phase"), current=current)
        raise Superseded(
            f"This {request} request belongs to a stack operation that has ended ({data.get('Phase')}; the stack "
            f"is now {current}): stopped without writing."
        )
    deadline = float(data["WaitDeadline"])
    if kind == CLUSTER_TYPE:
        return (_delete_cluster if request == "Delete" else _converge_cluster)(event, rt, deadline)
    return POLLS[kind](event, rt, deadline)


def _polled(kind: str, request: str, data: dict[str, Any]) -> bool:
    """Whether the waiter has anything to do: a cluster's every request; another resource's create or update that
    left a deadline to wait within (the guard: a hand-over to do, or a decision to make)."""
    if kind == CLUSTER_TYPE:
        return True
    if kind not in POLLED or request == "Delete":
        return False
    if kind == GUARD_TYPE:
        return bool({"HandOverTo", "Decide"} & set(data))
    return "WaitDeadline" in data


def _guard_poll(event: dict[str, Any], rt: Runtime, deadline: float) -> Response:
    data = event.get("Data") or {}
    new = GuardProperties.parse(event["ResourceProperties"])
    to, best_effort = data.get("HandOverTo"), bool(data.get("BestEffort"))
    if data.get("Decide"):  # CloudFormation did not say whether this is a rollback: ask again
        status = stack_status(rt.cloudformation, event.get("StackId"), rt.log)
        if status is None:
            if rt.now() >= deadline:
                raise StackStatusUnknown(
                    "The change guard could not read the stack's status for 15 minutes (DescribeStacks kept failing), "
                    "so it cannot tell a rollback from a new change; nothing was changed. Retry the deployment (or, "
                    "in a rollback, continue it)."
                )
            return {"IsComplete": False}
        old = GuardProperties.parse(event["OldResourceProperties"], strict=False)
        to, best_effort = _guard_decide(rt, old, new, status)
    if to is None:
        return {"IsComplete": True}
    step = lambda: guard_hand_over(  # noqa: E731
        rt.api(), rt.ec2, new, str(to), deadline, rt.now, rt.log, best_effort=best_effort
    )
    return _retrying(rt, deadline, step)


def _gate_poll(event: dict[str, Any], rt: Runtime, deadline: float) -> Response:
    spec = GateProperties.parse(event["ResourceProperties"])
    data = event.get("Data") or {}
    if data.get("Phase") in ROLLBACK_STATUSES:
        # a rollback puts back what ran before: it waits for the first gateway (and hands the role to it) only when
        # it restarts the second too, and never fails (UPDATE_ROLLBACK_FAILED could only be freed by hand)
        done = bool(data.get("Pass")) or rollback_gate_step(rt.api, rt.ec2, spec, rt.log)
        if not done and rt.now() < deadline:
            return {"IsComplete": False}
        rt.log.info("gate.rollback_passes", first_gateway_ready=done)
        return {"IsComplete": True}
    first = event["RequestType"] == "Create"
    return _retrying(rt, deadline, lambda: gate_wait(rt.api(), rt.ec2, spec, deadline, rt.now, rt.log, create=first))


def _seat_poll(event: dict[str, Any], rt: Runtime, deadline: float) -> Response:
    phase = _decided(event, rt, deadline)
    if phase is None:
        return {"IsComplete": False}
    new = SeatProperties.parse(event["ResourceProperties"], strict=False)
    old = SeatProperties.parse(event["OldResourceProperties"], strict=False)
    swap = SeatSwap(rt.api(), rt.ec2, rt.log, rt.now)
    if phase not in ROLLBACK_STATUSES:
        return _retrying(rt, deadline, lambda: swap.step(old, new, deadline))
    try:
        return {"IsComplete": swap.step(old, new, deadline, rolling_back=True)}
    except Exception as exc:  # nothing may fail a rollback
        rt.log.error("seat.rollback_step_failed", error=type(exc).__name__, message=str(exc))
        return {"IsComplete": rt.now() >= deadline}


def _member_poll(event: dict[str, Any], rt: Runtime, deadline: float) -> Response:
    """One poll of a swap at one position (the reconciler of the cluster resource, on the cluster as it is before
    and after this step), or of its rollback, which never fails."""
    phase = _decided(event, rt, deadline)
    if phase is None:
        return {"IsComplete": False}
    rolling_back = phase in ROLLBACK_STATUSES
    new = SwapProperties.parse(event["ResourceProperties"], strict=not rolling_back)
    old = SwapProperties.parse(event["OldResourceProperties"], strict=False)
    reconciler = _reconciler(event, rt, rolling_back=rolling_back)
    if not rolling_back:
        fqdn = f"{new.name}.{rt.api().org_domain()}"
        before, after = step_specs(old, new)
        plan = plan_update(before, after)
        return _retrying(rt, deadline, lambda: reconciler.converge(fqdn, after, plan, before, deadline).complete)
    try:
        done = PairRestore(rt.api(), rt.ec2, reconciler, rt.log, rt.now).poll(new, old, deadline)
    except Exception as exc:  # nothing may fail a rollback
        rt.log.error("member.rollback_step_failed", error=type(exc).__name__, message=str(exc))
        done = rt.now() >= deadline
    return {"IsComplete": done}


POLLS: dict[str, Callable[[dict[str, Any], Runtime, float], Response]] = {
    GUARD_TYPE: _guard_poll,
    GATE_TYPE: _gate_poll,
    SEAT_TYPE: _seat_poll,
    MEMBER_TYPE: _member_poll,
}


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
        # a successor that took the routes gives them back to its predecessor while its own members still run
        gave_back = spec.version is not None and reconciler.give_back_routes(spec)
        # done once a poll finds nothing of ours left: a cancelled Create's last poll may still be under way
        deleted = reconciler.delete(fqdn, spec)
        if spec.version is not None and not gave_back:
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


def _reconciler(event: dict[str, Any], rt: Runtime, *, rolling_back: bool = False) -> ClusterReconciler:
    return ClusterReconciler(
        rt.api(),
        rt.ec2,
        rt.log,
        rt.now,
        owner=owner_of(event),
        settle=lambda: rt.sleep(CLAIM_SETTLE_SECONDS),
        rolling_back=rolling_back,
    )


def _converge_cluster(event: dict[str, Any], rt: Runtime, deadline: float) -> Response:
    """One poll of a create or update. A failure is raised and nothing is undone here: CloudFormation sends the
    Delete (a create's, with this resource's real id) or the rollback Update that puts things back. A rollback
    Update itself never fails: what it cannot finish before its (short) deadline is logged and left as it is, since
    UPDATE_ROLLBACK_FAILED could only be freed by hand."""
    rolling_back = (event.get("Data") or {}).get("Phase") in ROLLBACK_STATUSES
    spec = ClusterProperties.parse(event["ResourceProperties"], strict=not rolling_back)
    fqdn = event["PhysicalResourceId"]
    old = old_cluster_properties(event)
    plan = CREATE_PLAN if old is None else plan_update(old, spec)
    reconciler = _reconciler(event, rt, rolling_back=rolling_back)
    try:
        response = _retrying(rt, deadline, lambda: reconciler.converge(fqdn, spec, plan, old, deadline).complete)
    except Exception as exc:
        if not rolling_back:
            raise
        rt.log.error("cluster.rollback_left_unfinished", error=type(exc).__name__, message=str(exc))
        response = {"IsComplete": True}
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
