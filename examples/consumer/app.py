#!/usr/bin/env python3
"""A consumer app: two Trustgrid HA clusters in one stack, in an existing three-AZ VPC imported by attributes.

Everything is offline: the VPC is described by its attributes, not looked up. It shows the options a platform
team usually sets: the managed route tables (every private subnet's, in all three AZs, by default), the
workloads' security group allowed through the gateways (IConnectable), outputs, and an alarm on a metric.
"""

from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
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
    availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
    public_subnet_ids=["subnet-0aaa1111aaaa1111a", "subnet-0bbb2222bbbb2222b", "subnet-0ccc3333cccc3333c"],
    private_subnet_ids=["subnet-0ddd4444dddd4444d", "subnet-0eee5555eeee5555e", "subnet-0fff6666ffff6666f"],
    private_subnet_route_table_ids=["rtb-0eee5555eeee5555e", "rtb-0fff6666ffff6666f", "rtb-0abc7777abcd7777a"],
)
api_secret = secretsmanager.Secret.from_secret_name_v2(stack, "TrustgridApi", "trustgrid/api-key")
workloads = ec2.SecurityGroup(stack, "Workloads", vpc=vpc, description="Application tier")

production = TrustgridHaCluster(
    stack,
    "Production",
    cluster_name="prod-gw",
    api_secret=api_secret,
    edge_cidrs=["172.16.0.0/16"],
    vpc=vpc,
)
workloads.connections.allow_to(production, ec2.Port.all_traffic(), "to the edge sites")
production.add_outputs()
cloudwatch.Alarm(
    stack,
    "PrimaryCpu",
    metric=production.primary.metric_cpu_utilization(period=Duration.minutes(5)),
    threshold=80,
    evaluation_periods=3,
    alarm_description="prod-gw primary gateway CPU above 80 % for 15 minutes",
)

partners = TrustgridHaCluster(
    stack,
    "Partners",
    cluster_name="partner-gw",
    api_secret=api_secret,
    edge_cidrs=["172.24.0.0/16"],
    vpc=vpc,
    instance_type="c7i.large",
    failback_mode=FailbackMode.MANUAL,
    route_table_ids=["rtb-0eee5555eeee5555e", "rtb-0fff6666ffff6666f"],  # only two AZs' workloads reach partners
)
partners.add_outputs()

app.synth()
