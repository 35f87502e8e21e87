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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .api import Credentials, RetryPolicy, TrustgridClient, Unavailable
from .cluster import CREATE_PLAN, ClusterReconciler, plan_update
from .contract import (
    CLUSTER_TYPE,
    DEFAULT_API_URL,
    IMAGE_TYPE,
    LICENSE_TYPE,
    ClusterProperties,
    ImageProperties,
    LicenseProperties,
)
from .image import keeps_image, resolve_image
from .license import LicenseManager, is_rolling_back, needs_new_license
from .log import JsonLogger

Response = dict[str, Any]
SAFETY_MARGIN_SECONDS = 15.0


@dataclass
class Runtime:
    """What the handler needs from the outside world."""

    api: Callable[[], TrustgridClient]
    ec2: Any
    secrets: Any
    cloudformation: Any
    log: JsonLogger
    region: str
    now: Callable[[], float] = time.time

    @classmethod
    def from_environment(cls, context: Any, log: JsonLogger) -> Runtime:
        import boto3  # the Lambda runtime provides boto3; imported here to keep cold starts of tests cheap

        region = os.environ.get("AWS_REGION", "us-east-1")
        secrets = boto3.client("secretsmanager", region_name=region)
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS

        def api() -> TrustgridClient:
            secret = secrets.get_secret_value(SecretId=os.environ["TRUSTGRID_API_SECRET_ARN"])["SecretString"]
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
            log=log,
            region=region,
        )


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
    if kind == CLUSTER_TYPE:
        return cluster_event(event, rt)
    if kind == LICENSE_TYPE:
        return license_event(event, rt)
    if kind == IMAGE_TYPE:
        return image_event(event, rt)
    raise ValueError(f"This provider does not handle resource type {kind!r}")


def cluster_event(event: dict[str, Any], rt: Runtime) -> Response:
    request = event["RequestType"]
    spec = ClusterProperties.parse(event["ResourceProperties"], strict=request != "Delete")
    if request == "Delete":
        fqdn = event["PhysicalResourceId"]
        if "." in fqdn:  # anything else is the id of a create that never made a cluster
            ClusterReconciler(rt.api(), rt.ec2, rt.log, rt.now).delete(fqdn, spec)
        return {"PhysicalResourceId": fqdn}
    old = old_cluster_properties(event)
    if old is not None and old.name == spec.name:
        fqdn = event["PhysicalResourceId"]
    else:  # a create, or a new name: a new cluster (CloudFormation then deletes the old one)
        fqdn = f"{spec.name}.{rt.api().org_domain()}"
    deadline = rt.now() + int(spec.wait_timeout_seconds)
    return {"PhysicalResourceId": fqdn, "Data": {"ClusterFqdn": fqdn, "WaitDeadline": f"{deadline:.0f}"}}


def license_event(event: dict[str, Any], rt: Runtime) -> Response:
    request = event["RequestType"]
    spec = LicenseProperties.parse(event["ResourceProperties"], strict=request != "Delete")
    manager = LicenseManager(rt.api(), rt.secrets, rt.log)
    if request == "Delete":
        rolling_back = not spec.remove_node_on_delete and is_rolling_back(rt.cloudformation, event["StackId"], rt.log)
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
    if event["ResourceType"] != CLUSTER_TYPE or event["RequestType"] == "Delete":
        return {"IsComplete": True}
    spec = ClusterProperties.parse(event["ResourceProperties"])
    fqdn = event["PhysicalResourceId"]
    old = old_cluster_properties(event)
    plan = CREATE_PLAN if old is None else plan_update(old, spec)
    deadline = float(event["Data"]["WaitDeadline"])
    reconciler = ClusterReconciler(rt.api(), rt.ec2, rt.log, rt.now)
    try:
        outcome = reconciler.converge(fqdn, spec, plan, old, deadline)
    except Unavailable as exc:
        if rt.now() < deadline:  # an outage of the API or the network: the next poll tries again
            rt.log.warning("cluster.api_unavailable", detail=str(exc), seconds_left=round(deadline - rt.now()))
            return {"IsComplete": False}
        if plan.create:
            _undo_create(reconciler, fqdn, spec, rt.log)
        raise
    except Exception:
        if plan.create:
            # The Provider framework sends no Delete after a failed create: undo what was made here.
            _undo_create(reconciler, fqdn, spec, rt.log)
        raise
    if not outcome.complete:
        return {"IsComplete": False}
    return {"IsComplete": True, "Data": {"ClusterFqdn": fqdn}}


def _undo_create(reconciler: ClusterReconciler, fqdn: str, spec: ClusterProperties, log: JsonLogger) -> None:
    log.warning("cluster.undo_create", cluster=fqdn)
    try:
        reconciler.delete(fqdn, spec)
    except Exception as exc:  # the original failure is the one to report
        log.error("cluster.undo_failed", cluster=fqdn, error=type(exc).__name__, message=str(exc))
