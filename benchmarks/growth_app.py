"""One stack with N clusters (N from TRUSTGRID_BENCH_CLUSTERS) in one VPC, as a platform team might grow it."""

import os

from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager

from trustgrid_ha import TrustgridHaCluster

count = int(os.environ["TRUSTGRID_BENCH_CLUSTERS"])
# CloudFormation allows 500 resources a stack (about 18 clusters, see BENCHMARKS.md); the limit is lifted
# here only to measure how synthesis grows.
app = App(context={"@aws-cdk/core:stackResourceLimit": 5000})
stack = Stack(app, "Growth")
vpc = ec2.Vpc(stack, "Vpc", ip_addresses=ec2.IpAddresses.cidr("10.0.0.0/16"), max_azs=2, nat_gateways=0)
api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api-key")
for index in range(count):
    TrustgridHaCluster(
        stack,
        f"Cluster{index}",
        cluster_name=f"gw-{index}",
        api_secret=api,
        edge_cidrs=[f"10.{100 + index // 256}.{index % 256}.0/24"],  # outside the VPC and the appliance's bridge
        vpc=vpc,
    )
app.synth()
