#!/usr/bin/env python3
"""A consumer app: two Trustgrid HA clusters in one stack, in an existing VPC imported by attributes.

Everything is offline: the VPC is described by its attributes, not looked up.
"""

from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager

from trustgrid_ha import FailbackMode, TrustgridHaCluster

app = App()
stack = Stack(app, "NetworkEdge", env=Environment(account="123456789012", region="us-east-1"))

vpc = ec2.Vpc.from_vpc_attributes(
    stack,
    "ExistingVpc",
    vpc_id="vpc-0a1b2c3d4e5f60718",
    vpc_cidr_block="10.20.0.0/16",
    availability_zones=["us-east-1a", "us-east-1b"],
    public_subnet_ids=["subnet-0aaa1111aaaa1111a", "subnet-0bbb2222bbbb2222b"],
    private_subnet_ids=["subnet-0ccc3333cccc3333c", "subnet-0ddd4444dddd4444d"],
    private_subnet_route_table_ids=["rtb-0eee5555eeee5555e", "rtb-0fff6666ffff6666f"],
)
api_secret = secretsmanager.Secret.from_secret_name_v2(stack, "TrustgridApi", "trustgrid/api-key")

TrustgridHaCluster(
    stack,
    "Production",
    cluster_name="prod-gw",
    api_secret=api_secret,
    edge_cidrs=["172.16.0.0/16"],
    vpc=vpc,
)
TrustgridHaCluster(
    stack,
    "Partners",
    cluster_name="partner-gw",
    api_secret=api_secret,
    edge_cidrs=["172.24.0.0/16"],
    vpc=vpc,
    instance_type="c7i.large",
    failback_mode=FailbackMode.MANUAL,
)

app.synth()
