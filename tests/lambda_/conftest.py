"""A small world for the handler tests: the Trustgrid stand-in, moto's EC2 and Secrets Manager,
and helpers that drive the handler the way the Provider framework does."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.lambda_.trustgrid_stub import TrustgridStub
from trustgrid_ha_runtime import api as api_module
from trustgrid_ha_runtime.api import Credentials, RetryPolicy, TrustgridClient
from trustgrid_ha_runtime.contract import (
    CLUSTER_TYPE,
    LICENSE_TYPE,
    ClusterProperties,
    LicenseProperties,
    MemberProperties,
)
from trustgrid_ha_runtime.handler import Runtime, handle_event, handle_is_complete, owner_of
from trustgrid_ha_runtime.log import JsonLogger

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
FAST = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05, request_timeout=0.4)


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class World:
    stub: TrustgridStub
    ec2: Any
    secrets: Any
    clock: Clock
    logs: io.StringIO
    vpc_id: str
    subnets: list[str]
    route_tables: list[str]
    license_secrets: list[str]
    api_secret_arn: str
    cloudformation: Any
    stack_id: str
    enis: dict[str, str] = field(default_factory=dict)  # lan subnet -> ENI
    ips: dict[str, str] = field(default_factory=dict)  # ENI -> LAN IP
    instances: dict[str, str] = field(default_factory=dict)  # LAN ENI -> the instance it is attached to
    http: Any = None
    #: what the handler slept (it never really sleeps in the tests)
    sleeps: list[float] = field(default_factory=list)
    #: cluster FQDN -> the (route table, CIDR) pairs its active member managed at the last look
    managed: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def runtime(self, *, key_secret: str | None = None) -> Runtime:
        log = JsonLogger(stream=self.logs)
        creds = Credentials(self.stub.key_id, key_secret or self.stub.key_secret)

        def api() -> TrustgridClient:
            return TrustgridClient(self.stub.url, creds, logger=log, policy=FAST, http=self.http, sleep=lambda s: None)

        return Runtime(
            api=api,
            ec2=self.ec2,
            secrets=self.secrets,
            cloudformation=self.cloudformation,
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
            log=log,
            region=REGION,
            now=self.clock,
            sleep=self.sleeps.append,
        )

    def set_stack_status(self, status: str) -> None:
        """What CloudFormation reports about the stack the custom resources belong to."""
        from moto.cloudformation import cloudformation_backends

        cloudformation_backends[ACCOUNT][REGION].stacks[self.stack_id].status = status

    # -- requests as the Provider framework sends them -------------------------------------

    def license(self, request: str, name: str, index: int, physical: str | None = None, **extra: Any) -> dict[str, Any]:
        props = {**LicenseProperties(name, self.license_secrets[index]).to_properties(), **extra}
        event = {
            "RequestType": request,
            "ResourceType": LICENSE_TYPE,
            "ResourceProperties": props,
            "StackId": self.stack_id,
        }
        if physical:
            event["PhysicalResourceId"] = physical
        if request == "Update":
            event["OldResourceProperties"] = props
        return handle_event(event, self.runtime())

    def member(self, uid: str, name: str, index: int) -> dict[str, str]:
        eni = self.enis[self.subnets[index]]
        member = MemberProperties(
            uid, name, eni, self.ips[eni], f"10.0.{100 + index}.10", f"198.51.100.{10 + index}", self.subnets[index]
        )
        return member.to_properties()

    def cluster_props(self, members: list[dict[str, str]], **overrides: Any) -> dict[str, Any]:
        props = ClusterProperties(
            name="prod-gw",
            members=tuple(MemberProperties.parse(m) for m in members),
            edge_cidrs=("172.16.0.0/16",),
            route_table_ids=tuple(self.route_tables),
            lan_interface_name="ens6",
            wait_timeout_seconds=600,
        ).to_properties()
        props.update(overrides)
        return props

    def cluster(
        self,
        request: str,
        props: dict[str, Any],
        *,
        old: dict[str, Any] | None = None,
        physical: str | None = None,
        max_polls: int = 10,
        runtime: Runtime | None = None,
        logical_id: str = "GatewaysCluster",
    ) -> dict[str, Any]:
        """on_event, then is_complete until complete; between polls the nodes move on (booting, restarting)
        and the active member's route agent runs."""
        event: dict[str, Any] = {
            "RequestType": request,
            "ResourceType": CLUSTER_TYPE,
            "ResourceProperties": props,
            "StackId": self.stack_id,
            "LogicalResourceId": logical_id,
        }
        if old is not None:
            event["OldResourceProperties"] = old
        if physical is not None:
            event["PhysicalResourceId"] = physical
        rt = runtime or self.runtime()
        response = handle_event(event, rt)
        event = {**event, **response}
        for _ in range(max_polls):
            result = handle_is_complete(event, rt)
            if result["IsComplete"]:
                return {**response, **result}
            self.between_polls()
        raise AssertionError(f"not complete after {max_polls} polls")

    def between_polls(self) -> None:
        """What happens in the 30 s between two polls: nodes boot and restart, the active member moves routes."""
        self.stub.tick()
        self.route_agent()
        self.clock.t += 30

    def route_agent(self) -> None:
        """What the active member does itself: point the edge-CIDR routes at its LAN ENI (DeleteRoute of
        the old member's entry, then CreateRoute, as Trustgrid's members do on a failover). A route a cluster no
        longer manages (its configuration dropped it) is deleted when it still points at that member."""
        for fqdn, cluster in self.stub.clusters.items():
            active = cluster.get("active")
            if not active or not self.stub.nodes.get(active, {}).get("online"):
                continue
            eni = self.stub.lan_enis[active]
            managed = {
                (table, entry["route"])
                for iface in (cluster["config"].get("network") or {}).get("interfaces", [])
                for table in iface.get("clusterRouteTables", [])
                if table in self.route_tables
                for entry in iface.get("cloudRoutes", [])
            }
            for table, cidr in self.managed.get(fqdn, set()) - managed:
                if self._route(table, cidr).get("NetworkInterfaceId") == eni:
                    self.ec2.delete_route(RouteTableId=table, DestinationCidrBlock=cidr)
            self.managed[fqdn] = managed
            for table, cidr in sorted(managed):
                current = self._route(table, cidr)
                if current.get("NetworkInterfaceId") == eni:
                    continue
                if current:
                    self.ec2.delete_route(RouteTableId=table, DestinationCidrBlock=cidr)
                self.ec2.create_route(RouteTableId=table, DestinationCidrBlock=cidr, NetworkInterfaceId=eni)

    def _route(self, table: str, cidr: str) -> dict[str, Any]:
        routes = self.ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        return next((r for r in routes if r.get("DestinationCidrBlock") == cidr), {})

    @property
    def owner(self) -> str:
        """The owner tag the cluster resource of these events writes."""
        return owner_of({"StackId": self.stack_id, "LogicalResourceId": "GatewaysCluster"})

    def log_text(self) -> str:
        return self.logs.getvalue()

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_text().splitlines()]


@pytest.fixture(scope="session")
def aws() -> Iterator[None]:
    """One moto account for the whole session (its backends are costly to build); tests isolate by VPC."""
    with mock_aws():
        yield


@contextlib.contextmanager
def make_world() -> Iterator[World]:
    """A fresh API stand-in and a fresh VPC (two subnets in two AZs, route tables, LAN ENIs) in moto."""
    stub = TrustgridStub().start()
    api_module._ORG_DOMAINS.clear()  # a warm container's cache: a new stub may get an earlier one's port
    ec2 = boto3.client("ec2", region_name=REGION)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets, tables, enis, ips, instances = [], [], {}, {}, {}
    for index, az in enumerate(("us-east-1a", "us-east-1b")):
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{index + 1}.0/24", AvailabilityZone=az)
        subnet_id = subnet["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
        eni = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]
        instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet_id)
        instances[eni["NetworkInterfaceId"]] = instance["Instances"][0]["InstanceId"]
        ec2.attach_network_interface(
            NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=instances[eni["NetworkInterfaceId"]], DeviceIndex=1
        )
        subnets.append(subnet_id)
        tables.append(table)
        enis[subnet_id] = eni["NetworkInterfaceId"]
        ips[eni["NetworkInterfaceId"]] = eni["PrivateIpAddress"]
    api_secret = secrets.create_secret(
        Name=f"trustgrid/api-{vpc_id}",
        SecretString=json.dumps({"apiKeyId": stub.key_id, "apiKeySecret": stub.key_secret}),
    )["ARN"]
    license_secrets = [
        secrets.create_secret(Name=f"license-{vpc_id}-{i}", SecretString="placeholder")["ARN"] for i in (0, 1, 2)
    ]
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    stack_id = cloudformation.create_stack(
        StackName=f"gateways-{vpc_id}",
        TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
    )["StackId"]
    try:
        yield World(
            stub=stub,
            ec2=ec2,
            secrets=secrets,
            clock=Clock(),
            logs=io.StringIO(),
            vpc_id=vpc_id,
            subnets=subnets,
            route_tables=tables,
            license_secrets=license_secrets,
            api_secret_arn=api_secret,
            cloudformation=cloudformation,
            stack_id=stack_id,
            enis=enis,
            ips=ips,
            instances=instances,
        )
    finally:
        stub.stop()


@pytest.fixture
def world(aws: None) -> Iterator[World]:
    with make_world() as made:
        yield made


@dataclass
class Deployed:
    uids: list[str]
    members: list[dict[str, str]]
    props: dict[str, Any]
    fqdn: str


def mint(world: World, names: tuple[str, str] = ("prod-gw-a", "prod-gw-b")) -> list[dict[str, str]]:
    """Licenses for two gateways (their nodes not registered yet)."""
    return [
        world.member(world.license("Create", name, index)["PhysicalResourceId"], name, index)
        for index, name in enumerate(names)
    ]


def register(world: World, member: dict[str, str], **boot: Any) -> None:
    """The member's node registers (now, or as ``boot`` says) with its LAN ENI known to the route agent."""
    if boot:
        world.stub.boot(member["Uid"], **boot)
    else:
        world.stub.register(member["Uid"])
    world.stub.lan_enis[member["Uid"]] = member["LanEniId"]
    description = {"Value": f"Trustgrid {member['Name']} LAN"}  # as the construct describes its LAN interfaces
    world.ec2.modify_network_interface_attribute(NetworkInterfaceId=member["LanEniId"], Description=description)


def mint_and_register(world: World, names: tuple[str, str] = ("prod-gw-a", "prod-gw-b")) -> list[dict[str, str]]:
    """Licenses for two gateways and their nodes registered and online."""
    members = mint(world, names)
    for member in members:
        register(world, member)
    return members


@pytest.fixture
def deployed(world: World) -> Deployed:
    members = mint_and_register(world)
    props = world.cluster_props(members)
    response = world.cluster("Create", props)
    return Deployed([m["Uid"] for m in members], members, props, response["PhysicalResourceId"])
