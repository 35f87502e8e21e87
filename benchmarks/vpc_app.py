"""A reference point: the smallest real network stack, one two-AZ VPC and nothing else."""

from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2

app = App()
ec2.Vpc(Stack(app, "VpcOnly"), "Vpc", max_azs=2, nat_gateways=0)
app.synth()
