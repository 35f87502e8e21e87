"""Continuous health: the scheduled check that publishes each cluster's status as CloudWatch metrics.

An EventBridge rule invokes :func:`handler` every few minutes with ``{"clusters": [{"name", "fqdn"}]}``. It
reads the cluster as :mod:`trustgrid_ha_runtime.report` does (read only: it never writes to Trustgrid or to a
route table) and publishes, per cluster (dimension ``ClusterName``) in the namespace ``Trustgrid/HA``:

- ``ClusterHealthy``: 1 when Trustgrid reports the cluster healthy, else 0;
- ``RoutesOnActiveMember``: 1 when every managed route table sends every edge CIDR to the active member;
- ``MembersOnline``: how many members are online (2 is whole);
- ``GatewayServiceEnabled``: how many members have their gateway service enabled;
- ``VirtualNetworkAttached``: for a cluster the construct attached to a virtual network, 1 while the network and
  the LAN interface in it stay attached.

When Trustgrid cannot be asked, nothing is published for that cluster: its alarms treat missing data as
breaching.
"""

from __future__ import annotations

import os
from typing import Any

from .contract import (
    API_SECRET_ENV,
    API_URL_ENV,
    METRIC_CLUSTER_HEALTHY,
    METRIC_GATEWAY_SERVICE,
    METRIC_MEMBERS_ONLINE,
    METRIC_NETWORK_ATTACHED,
    METRIC_ROUTES_ON_ACTIVE,
    METRICS,
    METRICS_DIMENSION,
    METRICS_NAMESPACE,
)
from .log import JsonLogger
from .report import ClusterStatus, client_from_secret, cluster_status

NAMESPACE = METRICS_NAMESPACE
__all__ = ["METRICS", "NAMESPACE", "check", "handler", "metric_values", "publish"]


def metric_values(status: ClusterStatus, owns_routes: bool = True) -> dict[str, float]:
    """The metrics of one cluster; ``owns_routes`` false (a successor before its cut-over, a superseded
    predecessor): no route is expected, and any that is there must still be on the active member."""
    routes_ok = all(r.on_active_member for r in status.routes) and (bool(status.routes) or not owns_routes)
    return {
        METRIC_CLUSTER_HEALTHY: 1.0 if status.health == "healthy" else 0.0,
        METRIC_ROUTES_ON_ACTIVE: 1.0 if routes_ok else 0.0,
        METRIC_MEMBERS_ONLINE: float(sum(m.online for m in status.members)),
        METRIC_GATEWAY_SERVICE: float(sum(m.gateway_enabled for m in status.members)),
        **({METRIC_NETWORK_ATTACHED: 1.0 if status.network_attached else 0.0} if status.expected_network else {}),
    }


def publish(cloudwatch: Any, name: str, values: dict[str, float]) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": METRICS_DIMENSION, "Value": name}],
                "Value": value,
                "Unit": "Count",
            }
            for metric, value in values.items()
        ],
    )


def check(clusters: list[dict[str, Any]], client: Any, ec2: Any, cloudwatch: Any, log: JsonLogger) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for cluster in clusters:
        try:
            status = cluster_status(client, ec2, cluster["fqdn"], cluster.get("network"))
        except Exception as exc:  # Trustgrid or EC2 unavailable: publish nothing, the alarms see missing data
            log.error("monitor.check_failed", cluster=cluster["fqdn"], error=type(exc).__name__, message=str(exc))
            results[cluster["name"]] = None
            continue
        values = metric_values(status, cluster.get("ownsRoutes", True) is not False)
        publish(cloudwatch, cluster["name"], values)
        log.info("monitor.published", cluster=cluster["fqdn"], problems=status.problems, **values)
        results[cluster["name"]] = values
    return results


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3  # the Lambda runtime provides boto3

    log = JsonLogger()
    region = os.environ.get("AWS_REGION")
    secrets = boto3.client("secretsmanager", region_name=region)
    client = client_from_secret(secrets, os.environ[API_SECRET_ENV], os.environ[API_URL_ENV], log)
    return check(
        list(event.get("clusters") or []),
        client,
        boto3.client("ec2", region_name=region),
        boto3.client("cloudwatch", region_name=region),
        log,
    )
