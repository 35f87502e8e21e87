"""Continuous health: a scheduled check per cluster, its CloudWatch metrics, alarms and a dashboard.

One read-only function per stack (the provider's code package, ``trustgrid_ha_runtime.monitor``), invoked
by one EventBridge schedule per cluster. It never writes to Trustgrid or to a route table: it reads the API
key, describes route tables and network interfaces, and publishes metrics in ``Trustgrid/HA``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct, IDependable

from trustgrid_ha_runtime.contract import (
    API_SECRET_ENV,
    API_URL_ENV,
    METRIC_CLUSTER_HEALTHY,
    METRIC_GATEWAY_SERVICE,
    METRIC_MEMBERS_ONLINE,
    METRIC_NETWORK_ATTACHED,
    METRIC_ROUTES_ON_ACTIVE,
    METRICS_DIMENSION,
)
from trustgrid_ha_runtime.contract import METRICS_NAMESPACE as NAMESPACE

from .gateway import TrustgridGateway
from .instance_types import is_burstable
from .nag import acknowledge
from .provider import RUNTIME_PACKAGE, grant_get_secret_value, handler_code

MONITOR_ID = "TrustgridMonitor"
#: metric -> (the least healthy value, what its alarm says)
#: An alarm fires on this many checks in a row (one flapping check does not page anyone).
ALARM_EVALUATION_PERIODS = 2

THRESHOLDS = {
    METRIC_CLUSTER_HEALTHY: (1, "Trustgrid does not report the cluster healthy"),
    METRIC_ROUTES_ON_ACTIVE: (1, "an edge route does not point at the active member"),
    METRIC_MEMBERS_ONLINE: (2, "a member is offline"),
    METRIC_GATEWAY_SERVICE: (2, "a member's gateway service is not enabled"),
}
#: With a virtual network: the attachment and the LAN interface in it must stay.
NETWORK_THRESHOLD = {METRIC_NETWORK_ATTACHED: (1, "the virtual network (or the LAN interface in it) is detached")}


class TrustgridMonitorFunction(Construct):
    """The stack's one scheduled-check function. Use :meth:`of`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, api_secret: secretsmanager.ISecret, api_url: str
    ) -> None:
        super().__init__(scope, construct_id)
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Trustgrid HA cluster health check: read-only Trustgrid and EC2, CloudWatch metrics",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadOnlyEc2",
                actions=["ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces"],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishHealth",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
            )
        )
        grant_get_secret_value(api_secret, role)
        acknowledge(
            role,
            "ec2:Describe* and cloudwatch:PutMetricData support no resource-level permissions; PutMetricData is "
            f"limited to the {NAMESPACE} namespace by a condition.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.RETAIN
        )
        log_group.grant_write(role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            code=handler_code(),
            handler=f"{RUNTIME_PACKAGE}.monitor.handler",
            role=role,
            timeout=Duration.minutes(1),
            memory_size=256,
            environment={API_URL_ENV: api_url, API_SECRET_ENV: api_secret.secret_arn},
            log_group=log_group,
            description="Trustgrid HA cluster: scheduled, read-only health check that publishes metrics",
        )

    @classmethod
    def of(cls, scope: Construct, *, api_secret: secretsmanager.ISecret, api_url: str) -> TrustgridMonitorFunction:
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(MONITOR_ID)
        if isinstance(existing, TrustgridMonitorFunction):
            return existing
        return cls(stack, MONITOR_ID, api_secret=api_secret, api_url=api_url)


class TrustgridClusterMonitoring(Construct):
    """The schedule, alarms and dashboard of one cluster. Created by :class:`TrustgridHaCluster`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str,
        cluster_fqdn: str,
        gateways: Sequence[TrustgridGateway],
        api_secret: secretsmanager.ISecret,
        api_url: str,
        interval: Duration,
        alarm_topic: sns.ITopic | None,
        virtual_network: str | None = None,
        owns_routes: bool = True,
        after: IDependable | None = None,
    ) -> None:
        """``after``: what must exist before the check runs and the alarms judge it (the verified cluster: no alarm
        while a first create still waits for the gateways to register). ``virtual_network``: the network the cluster
        must stay attached to (its own alarm). ``owns_routes`` false: the cluster writes no edge routes (a successor
        before its cut-over, a superseded predecessor), so none are expected."""
        super().__init__(scope, construct_id)
        self.cluster_name = cluster_name
        self.cluster_fqdn = cluster_fqdn
        self.virtual_network = virtual_network
        self.interval = interval
        function = TrustgridMonitorFunction.of(self, api_secret=api_secret, api_url=api_url).function
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.rate(interval),
            description=f"Trustgrid {cluster_name}: scheduled health check",
            targets=[
                targets.LambdaFunction(
                    function,
                    event=events.RuleTargetInput.from_object(self._input(owns_routes)),
                    retry_attempts=0,
                )
            ],
        )
        thresholds = {**THRESHOLDS, **(NETWORK_THRESHOLD if virtual_network else {})}
        self.alarms = {
            name: self._alarm(name, threshold, why, alarm_topic) for name, (threshold, why) in thresholds.items()
        }
        self.dashboard = self._dashboard(gateways)
        if after is not None:
            for construct in (self.rule, *self.alarms.values()):
                construct.node.add_dependency(after)

    def _input(self, owns_routes: bool) -> dict[str, Any]:
        """What the scheduled check is told about the cluster."""
        cluster: dict[str, Any] = {"name": self.cluster_name, "fqdn": self.cluster_fqdn}
        if self.virtual_network:
            cluster["network"] = self.virtual_network
        if not owns_routes:
            cluster["ownsRoutes"] = False
        return {"clusters": [cluster]}

    def expect_no_routes(self) -> None:
        """The cluster's routes went to its successor: the check expects none."""
        rule = self.rule.node.default_child
        assert isinstance(rule, events.CfnRule)
        rule.add_property_override("Targets.0.Input", Stack.of(self).to_json_string(self._input(owns_routes=False)))

    def metric(
        self, metric_name: str, *, statistic: str = "Minimum", period: Duration | None = None
    ) -> cloudwatch.Metric:
        """One of the scheduled check's metrics of this cluster (``ClusterHealthy``, ``RoutesOnActiveMember``,
        ``MembersOnline``, ``GatewayServiceEnabled``). @default - minimum over the check's interval."""
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=metric_name,
            dimensions_map={METRICS_DIMENSION: self.cluster_name},
            statistic=statistic,
            period=period or self.interval,
        )

    def _alarm(self, name: str, threshold: float, why: str, topic: sns.ITopic | None) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{name}Alarm",
            alarm_description=f"Trustgrid {self.cluster_name}: {why} (or the health check could not ask Trustgrid)",
            metric=self.metric(name),
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=ALARM_EVALUATION_PERIODS,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        if topic is not None:
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
            alarm.add_ok_action(cw_actions.SnsAction(topic))
        return alarm

    def _dashboard(self, gateways: Sequence[TrustgridGateway]) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Cluster healthy / routes on the active member",
                left=[self.metric(METRIC_CLUSTER_HEALTHY), self.metric(METRIC_ROUTES_ON_ACTIVE)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Members online / gateway services enabled",
                left=[self.metric(METRIC_MEMBERS_ONLINE), self.metric(METRIC_GATEWAY_SERVICE)],
                width=12,
            ),
        )
        for gateway in gateways:
            widgets: list[cloudwatch.IWidget] = [
                cloudwatch.GraphWidget(
                    title=f"{gateway.node_name}: status checks", left=[gateway.metric_status_check_failed()], width=6
                ),
                cloudwatch.GraphWidget(
                    title=f"{gateway.node_name}: CPU %", left=[gateway.metric_cpu_utilization()], width=6
                ),
                cloudwatch.GraphWidget(
                    title=f"{gateway.node_name}: network in / out",
                    left=[gateway.metric_network_in(), gateway.metric_network_out()],
                    width=6,
                ),
            ]
            if is_burstable(gateway.instance_type):
                widgets.append(
                    cloudwatch.GraphWidget(
                        title=f"{gateway.node_name}: CPU credits",
                        left=[gateway.metric_cpu_credit_balance(), gateway.metric_cpu_surplus_credit_balance()],
                        width=6,
                    )
                )
            dashboard.add_widgets(*widgets)
        return dashboard
