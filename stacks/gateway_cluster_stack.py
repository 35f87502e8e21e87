"""The gateway-cluster stack: a two-AZ VPC and one TrustgridHaCluster per configured cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aws_cdk import Annotations, CfnParameter, CfnRule, CfnRuleAssertion, Fn, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from trustgrid_ha import Problem, TrustgridConfigError, TrustgridHaCluster, gateway_vpc

from .settings import SECRET_ARN, SIX_AFTER_A_HYPHEN, AppSettings, ClusterSettings


class GatewayClusterStack(Stack):
    """Everything one environment needs: the VPC, the gateway clusters and their custom resources.

    ``clusters``: the clusters this stack holds (default: all of them); ``vpc``: another stack's VPC to place them in
    (with ``stackPerCluster`` the VPC stack holds the VPC and each cluster has a stack of its own)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: AppSettings,
        clusters: Sequence[ClusterSettings] | None = None,
        vpc: ec2.IVpc | None = None,
        **kwargs: Any,
    ) -> None:
        self._zones = settings.availability_zones
        super().__init__(scope, construct_id, **kwargs)
        if settings.is_example:
            Annotations.of(self).add_warning_v2(
                "trustgrid:example-settings",
                "EXAMPLE settings: no 'trustgrid' context was given, so this template uses example values "
                "(cluster 'example-gw-cluster', edge CIDR 172.16.0.0/16, API secret 'trustgrid/api-key'). "
                "Set the 'trustgrid' context in cdk.json before deploying.",
            )
            self._refuse_every_deployment()
        problems: list[Problem] = []
        self.vpc = vpc or self._vpc(settings)
        self.clusters: list[TrustgridHaCluster] = []
        members = settings.clusters if clusters is None else clusters
        for cluster in members:
            api_secret = self._api_secret(settings.api_secret_name)
            topic: sns.ITopic | None = None
            arn = cluster.alarm_topic_arn
            if arn is not None:  # cdk.json gives the topic's ARN
                if not Token.is_unresolved(self.region) and arn.split(":")[3] != self.region:
                    problems.append(
                        Problem(
                            f"{cluster.where}.alarmTopicArn",
                            arn,
                            f"CloudWatch alarms notify topics of their own region only; give a topic in {self.region}.",
                        )
                    )
                    continue
                topic = sns.Topic.from_topic_arn(self, f"{_construct_id(cluster.name)}-AlarmTopic", arn)
            assert cluster.config is not None  # a cluster whose settings are wrong never gets here
            config = replace(cluster.config, api_secret=api_secret, vpc=self.vpc, alarm_topic=topic)
            try:
                built = TrustgridHaCluster.from_config(self, _construct_id(cluster.name), config)
            except TrustgridConfigError as exc:  # every cluster's problems, in the user's spelling
                problems += exc.renamed(cluster.rename).problems
                continue
            built.add_outputs()
            self.clusters.append(built)
        if problems:
            raise TrustgridConfigError.of(problems)

    def _refuse_every_deployment(self) -> None:
        """The example can be synthesized but never deployed, whatever deploys it (`cdk deploy`, the console, a
        pipeline): CloudFormation checks the template's rules before it creates anything, and this one cannot hold."""
        settings = CfnParameter(
            self,
            "TrustgridSettings",
            default="example",
            allowed_values=["example"],
            description="Which settings this template was synthesized from (the README's example values).",
        )
        CfnRule(
            self,
            "ExampleSettingsAreNotDeployable",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(settings.value_as_string, "configured"),
                    assert_description=(
                        "This template holds the README's EXAMPLE settings (no 'trustgrid' context was given to "
                        "cdk synth). Set the 'trustgrid' context in cdk.json, synthesize again, then deploy."
                    ),
                )
            ],
        )

    def _vpc(self, settings: AppSettings) -> ec2.IVpc:
        """A new two-AZ VPC (with a flow log), or the existing one: looked up by ID, or described by attributes."""
        vpc = settings.vpc
        if vpc.kind == "lookup":
            return ec2.Vpc.from_lookup(self, "Vpc", vpc_id=vpc.vpc_id)
        if vpc.kind == "attributes":
            return ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=str(vpc.vpc_id),
                vpc_cidr_block=str(vpc.vpc_cidr),
                availability_zones=list(vpc.availability_zones),
                public_subnet_ids=list(vpc.public_subnet_ids),
                private_subnet_ids=list(vpc.private_subnet_ids),
                private_subnet_route_table_ids=list(vpc.private_route_table_ids) or None,
            )
        try:
            created = gateway_vpc(self, "Vpc", cidr=vpc.cidr)
        except TrustgridConfigError as exc:
            raise TrustgridConfigError(f"{settings.where}.vpcCidr", exc.value, exc.fix) from None
        created.add_flow_log("FlowLog")
        return created

    def _api_secret(self, value: str) -> secretsmanager.ISecret:
        """The API key secret by name, by complete ARN (with the random suffix) or by partial ARN (once a stack; the
        settings refused what CDK could not import, :func:`stacks.settings.secret_problem`)."""
        imported = self.node.try_find_child("TrustgridApiSecret")
        if imported is not None:
            return imported  # type: ignore[return-value]
        arn = SECRET_ARN.match(value)
        if arn is None:
            return secretsmanager.Secret.from_secret_name_v2(self, "TrustgridApiSecret", value)
        if SIX_AFTER_A_HYPHEN.search(arn["name"]):  # Secrets Manager's suffix (it may be all lowercase and digits)
            return secretsmanager.Secret.from_secret_complete_arn(self, "TrustgridApiSecret", value)
        return secretsmanager.Secret.from_secret_partial_arn(self, "TrustgridApiSecret", value)

    @property
    def availability_zones(self) -> list[str]:
        """The configured AZs, else the region's first two by ``Fn::GetAZs``: never an AWS lookup at synth."""
        if self._zones:
            return list(self._zones)
        return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]


def build_stacks(
    scope: Construct, settings: AppSettings, *, prefix: str = "", **kwargs: Any
) -> list[GatewayClusterStack]:
    """The stacks of one environment: ``<prefix>TrustgridGatewayCluster`` with the VPC and every cluster, or, with
    ``stackPerCluster``, the VPC there (when it is a new one) and each cluster in ``<prefix>TrustgridCluster-<name>``.
    A cluster's stack is named after it, so adding, removing or reordering clusters never moves another one."""
    if not settings.stack_per_cluster:
        return [GatewayClusterStack(scope, f"{prefix}TrustgridGatewayCluster", settings=settings, **kwargs)]
    stacks: list[GatewayClusterStack] = []
    vpc = None
    if settings.vpc.kind == "new":
        main = GatewayClusterStack(scope, f"{prefix}TrustgridGatewayCluster", settings=settings, clusters=[], **kwargs)
        stacks.append(main)
        vpc = main.vpc
    description = kwargs.pop("description", "Trustgrid HA gateway cluster")
    by_name: dict[str, GatewayClusterStack] = {}
    for cluster in settings.clusters:
        by_name[cluster.name] = GatewayClusterStack(
            scope,
            f"{prefix}TrustgridCluster-{cluster.name}",
            settings=settings,
            clusters=[cluster],
            vpc=vpc,
            description=f"{description}: {cluster.name}",
            **kwargs,
        )
        stacks.append(by_name[cluster.name])
    for cluster in settings.clusters:  # a superseded predecessor updates after its successor's cut-over
        successor = cluster.config.succeeds if cluster.config and cluster.config.cut_over else None
        if successor in by_name:
            by_name[str(successor)].add_dependency(by_name[cluster.name])
    return stacks


def _construct_id(cluster_name: str) -> str:
    """A stable construct ID from the cluster name (IDs are part of the contract: renaming replaces)."""
    return "Cluster-" + cluster_name
