"""The default app in a real account: an existing VPC by attributes or looked up (with the committed context
file), every LAN-side route table managed, account and region, and the AZs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from app import build_app
from trustgrid_ha import TrustgridConfigError

FIXTURES = Path(__file__).parent / "fixtures"
CLUSTER = {"name": "edge-gw", "edgeCidrs": ["172.16.0.0/16"]}
THREE_AZS = {
    "id": "vpc-0a1b2c3d4e5f60718",
    "cidr": "10.20.0.0/16",
    "availabilityZones": ["us-east-1a", "us-east-1b", "us-east-1c"],
    "publicSubnetIds": ["subnet-0aaa1111aaaa1111a", "subnet-0bbb2222bbbb2222b", "subnet-0ccc3333cccc3333c"],
    "privateSubnetIds": ["subnet-0ddd4444dddd4444d", "subnet-0eee5555eeee5555e", "subnet-0fff6666ffff6666f"],
    "privateRouteTableIds": ["rtb-0ddd4444dddd4444d", "rtb-0eee5555eeee5555e", "rtb-0fff6666ffff6666f"],
}
PRIVATE_TABLES = THREE_AZS["privateRouteTableIds"]


def synth(tmp: Path, settings: dict[str, Any], context: dict[str, Any] | None = None) -> tuple[dict, dict]:
    app = App(outdir=str(tmp), context={"trustgrid": settings, **(context or {})})
    build_app(app).synth()
    template = json.loads((tmp / "TrustgridGatewayCluster.template.json").read_text())
    return template, json.loads((tmp / "manifest.json").read_text())


def of_type(template: dict, kind: str) -> list[dict]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def managed_tables(template: dict) -> list[str]:
    (cluster,) = of_type(template, "Custom::TrustgridCluster")
    return cluster["Properties"]["RouteTableIds"]


def route_arns(template: dict) -> list[str]:
    arns = []
    for policy in of_type(template, "AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "FailoverRoutes":
                arns.append(json.dumps(statement["Resource"]))
    return arns


@pytest.fixture(scope="module")
def by_attributes(tmp_path_factory) -> tuple[dict, dict]:
    settings = {"account": "123456789012", "region": "us-east-1", "vpc": THREE_AZS, "clusters": [CLUSTER]}
    return synth(tmp_path_factory.mktemp("attrs"), settings)


def test_an_existing_vpc_by_attributes_in_three_azs_manages_every_lan_side_route_table(by_attributes) -> None:
    template, manifest = by_attributes
    assert managed_tables(template) == PRIVATE_TABLES, "the third AZ's workloads reach the edge sites too"
    arns = route_arns(template)
    assert len(arns) == 2, "one role per gateway"
    for arn in arns:
        assert all(f"route-table/{table}" in arn for table in PRIVATE_TABLES)
    subnets = {json.dumps(e["Properties"]["SubnetId"]) for e in of_type(template, "AWS::EC2::NetworkInterface")}
    assert subnets == {json.dumps(s) for s in [*THREE_AZS["publicSubnetIds"][:2], *THREE_AZS["privateSubnetIds"][:2]]}
    assert of_type(template, "AWS::EC2::VPC") == [], "no new VPC"
    (stack,) = (a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack")
    assert stack["environment"] == "aws://123456789012/us-east-1"


def test_a_looked_up_vpc_synthesizes_offline_from_the_committed_context_file(tmp_path: Path) -> None:
    settings = {"account": "123456789012", "region": "us-east-1", "vpc": {"id": THREE_AZS["id"]}, "clusters": [CLUSTER]}
    context = json.loads((FIXTURES / "lookup.context.json").read_text())
    template, manifest = synth(tmp_path, settings, context)
    assert "missing" not in manifest, "nothing left for the CLI to look up"
    assert managed_tables(template) == PRIVATE_TABLES
    (cluster,) = of_type(template, "Custom::TrustgridCluster")
    assert [m["LanSubnetId"] for m in cluster["Properties"]["Members"]] == THREE_AZS["privateSubnetIds"][:2]


def test_the_route_tables_can_be_narrowed_or_extended(tmp_path_factory) -> None:
    narrowed = {**CLUSTER, "routeTableIds": PRIVATE_TABLES[:2]}
    extended = {
        **CLUSTER,
        "name": "other-gw",
        "edgeCidrs": ["172.17.0.0/16"],
        "extraRouteTableIds": ["rtb-0123456789abcdef0"],
    }
    template, _ = synth(tmp_path_factory.mktemp("narrow"), {"vpc": THREE_AZS, "clusters": [narrowed, extended]})
    tables = sorted(managed_tables_of(template))
    assert tables == sorted([PRIVATE_TABLES[:2], [*PRIVATE_TABLES, "rtb-0123456789abcdef0"]])


def managed_tables_of(template: dict) -> list[list[str]]:
    return [c["Properties"]["RouteTableIds"] for c in of_type(template, "Custom::TrustgridCluster")]


@pytest.mark.parametrize(
    ("settings", "setting", "fix"),
    [
        ({"vpc": {"id": "vpc-0a1b2c3d4e5f60718"}}, "trustgrid.vpc.id", "needs the account and region"),
        ({"vpc": {"id": "vpc-1"}}, "trustgrid.vpc.id", "a VPC ID"),
        (
            {"vpc": {**THREE_AZS, "privateRouteTableIds": ["rtb-0ddd4444dddd4444d"]}},
            "trustgrid.vpc.privateRouteTableIds",
            "one route table ID per private subnet",
        ),
        (
            {"vpc": {**THREE_AZS, "publicSubnetIds": THREE_AZS["publicSubnetIds"][:2]}},
            "trustgrid.vpc.publicSubnetIds",
            "same number of subnets in each",
        ),
        ({"vpc": THREE_AZS, "vpcCidr": "10.1.0.0/16"}, "trustgrid.vpcCidr", "vpcCidr is for a new VPC"),
        (
            {"region": "us-east-1", "availabilityZones": ["us-east-1a", "eu-west-1b"]},
            "trustgrid.availabilityZones[1]",
            "an availability zone of us-east-1",
        ),
        ({"account": "12"}, "trustgrid.account", "12-digit"),
        ({"vpc": {**THREE_AZS, "colour": 1}}, "trustgrid.vpc.colour", "unknown setting"),
        ({"vpc": {**THREE_AZS, "cidr": "ten"}}, "trustgrid.vpc.cidr", "IPv4 network in CIDR notation"),
        ({"vpc": {**THREE_AZS, "cidr": "10.20.0.1/16"}}, "trustgrid.vpc.cidr", "no host bits"),
        ({"vpc": {**THREE_AZS, "cidr": "10.0.0.0/8"}}, "trustgrid.vpc.cidr", "from /16 to /28."),
        ({"vpc": {**THREE_AZS, "cidr": "fd00::/56"}}, "trustgrid.vpc.cidr", "IPv4 network"),
        (
            {"vpc": {**THREE_AZS, "availabilityZones": ["us-east-1a"]}},
            "trustgrid.vpc.availabilityZones",
            "at least two availability zones",
        ),
    ],
)
def test_bad_account_settings_are_refused(settings: dict, setting: str, fix: str) -> None:
    with pytest.raises(TrustgridConfigError) as failure:
        build_app(App(context={"trustgrid": {**settings, "clusters": [CLUSTER]}}))
    problem = next(p for p in failure.value.problems if p.setting == setting)
    assert fix in problem.fix


def test_a_new_vpc_in_the_configured_zones(tmp_path: Path) -> None:
    settings = {"account": "123456789012", "region": "eu-west-1", "availabilityZones": ["eu-west-1b", "eu-west-1c"],
                "clusters": [{**CLUSTER, "machineImageId": "ami-0123456789abcdef0"}]}  # fmt: skip
    template, _ = synth(tmp_path, settings)
    zones = sorted({s["Properties"]["AvailabilityZone"] for s in of_type(template, "AWS::EC2::Subnet")})
    assert zones == ["eu-west-1b", "eu-west-1c"]


def test_a_lookup_not_made_yet_synthesizes_and_asks_the_cli_for_it(tmp_path: Path) -> None:
    settings = {"account": "123456789012", "region": "us-east-1", "vpc": {"id": THREE_AZS["id"]}, "clusters": [CLUSTER]}
    _, manifest = synth(tmp_path, settings)  # no context yet: CDK answers a dummy VPC, our checks let it pass
    (missing,) = manifest["missing"]
    assert missing["provider"] == "vpc-provider" and missing["props"]["filter"] == {"vpc-id": THREE_AZS["id"]}


def test_an_existing_vpc_needs_only_awss_cidr_limits_a_new_one_the_gateway_layout() -> None:
    from trustgrid_ha import vpc_cidr_problem

    assert vpc_cidr_problem("10.20.0.0/24", new_vpc=False) is None
    assert "/22 or larger" in str(vpc_cidr_problem("10.20.0.0/24"))
    settings = {"account": "111111111111", "region": "us-east-1", "vpc": {**THREE_AZS, "cidr": "10.20.0.0/24"}}
    build_app(App(context={"trustgrid": {**settings, "clusters": [CLUSTER]}}), nag=False)
