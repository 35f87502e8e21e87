"""The gateway-cluster stack: a two-AZ VPC and one TrustgridHaCluster per configured cluster."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from trustgrid_ha import TrustgridConfigError, TrustgridHaCluster
from trustgrid_ha.errors import check_cidr

from .settings import AppSettings


class GatewayClusterStack(Stack):
    """Everything one environment needs: the VPC, the gateway clusters and their custom resources."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: AppSettings, **kwargs: Any) -> None:
        self._zones = settings.availability_zones
        super().__init__(scope, construct_id, **kwargs)
        check_cidr("trustgrid.vpcCidr", settings.vpc_cidr)
        if settings.is_example:
            Annotations.of(self).add_warning_v2(
                "trustgrid:example-settings",
                "EXAMPLE settings: no 'trustgrid' context was given, so this template uses example values "
                "(cluster 'example-gw-cluster', edge CIDR 172.16.0.0/16, API secret 'trustgrid/api-key'). "
                "Set the 'trustgrid' context in cdk.json before deploying.",
            )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(settings.vpc_cidr),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Wan", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="Lan", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
        )
        self.vpc.add_flow_log("FlowLog")
        api_secret = secretsmanager.Secret.from_secret_name_v2(self, "TrustgridApiSecret", settings.api_secret_name)
        self.clusters: list[TrustgridHaCluster] = []
        for cluster in settings.clusters:
            try:
                self.clusters.append(
                    TrustgridHaCluster(
                        self,
                        _construct_id(cluster.name),
                        cluster_name=cluster.name,
                        api_secret=api_secret,
                        api_url=settings.api_url,
                        edge_cidrs=cluster.edge_cidrs,
                        vpc=self.vpc,
                        **cluster.options,
                    )
                )
            except TrustgridConfigError as exc:  # name the setting as the app's user wrote it
                raise TrustgridConfigError(
                    f"trustgrid.clusters[{cluster.name}].{exc.setting}", exc.value, exc.fix
                ) from None

    @property
    def availability_zones(self) -> list[str]:
        """The configured AZs, else the region's first two by ``Fn::GetAZs``: never an AWS lookup at synth."""
        if self._zones:
            return list(self._zones)
        return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]


def _construct_id(cluster_name: str) -> str:
    """A stable construct ID from the cluster name (IDs are part of the contract: renaming replaces)."""
    return "Cluster-" + cluster_name
