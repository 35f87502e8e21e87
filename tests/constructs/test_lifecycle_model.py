"""Every everyday change, applied to the synthesized template by a model of CloudFormation (tests/cfn_model.py):
never both gateways interrupted at once, nothing replaced while its interfaces are attached, a protected delete
refused before anything is removed, a failed create that rolls back completely."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from tests.cfn_model import Change, ancestors, plan
from tests.contract_check import resolve
from trustgrid_ha import TrustgridHaCluster
from trustgrid_ha_runtime.contract import GuardProperties, ProtectionProperties
from trustgrid_ha_runtime.lifecycle import refused_changes

BASE: dict[str, Any] = {"cluster_name": "prod-gw", "edge_cidrs": ["172.16.0.0/16"], "instance_type": "c6i.large"}
IN_PLACE = {
    "type in the same generation": {"instance_type": "c6i.xlarge"},
    "user data (a new enroll endpoint)": {"enroll_endpoint": "https://keymaster.example.com/v2/enroll"},
    "edge CIDRs": {"edge_cidrs": ["172.16.0.0/16", "172.20.0.0/16"]},
    "termination protection off": {"termination_protection": False},
}
REFUSED = {
    "type in another generation": {"instance_type": "c7i.large"},
    "image refresh": {"image_refresh_token": "2026-12"},
    "root volume": {"root_volume_size_gib": 40},
    "subnet": {"lan_subnet": "subnet-0prv2"},
    "gateway rename": {"gateway_names": ["prod-gw-x", "prod-gw-b"]},
    "cluster rename": {"cluster_name": "prod-gw2"},
}


def build(app: App, name: str, settings: dict[str, Any]) -> Stack:
    stack = Stack(app, name)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", vpc_cidr_block="10.9.0.0/16",
        availability_zones=["us-east-1a", "us-east-1b"], public_subnet_ids=["subnet-0pub0", "subnet-0pub1"],
        private_subnet_ids=["subnet-0prv0", "subnet-0prv1"],
        private_subnet_route_table_ids=["rtb-0023456789abcdef0", "rtb-0123456789abcdef0"],
    )  # fmt: skip
    settings = dict(settings)
    lan = settings.pop("lan_subnet", None)
    if lan:
        subnets = [
            ec2.Subnet.from_subnet_attributes(
                stack, "Lan0", subnet_id=lan, availability_zone="us-east-1a", route_table_id="rtb-0223456789abcdef0"
            ),
            ec2.Subnet.from_subnet_attributes(
                stack,
                "Lan1",
                subnet_id="subnet-0prv1",
                availability_zone="us-east-1b",
                route_table_id="rtb-0123456789abcdef0",
            ),
        ]
        settings["lan_subnets"] = ec2.SubnetSelection(subnets=subnets)
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    TrustgridHaCluster(stack, "Gateways", api_secret=api, vpc=vpc, **settings)
    return stack


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    app = App()
    stacks = {"base": build(app, "Base", BASE)}
    for index, (kind, change) in enumerate({**IN_PLACE, **REFUSED}.items()):
        stacks[kind] = build(app, f"Change{index}", {**BASE, **change})
    return {kind: Template.from_stack(stack).to_json() for kind, stack in stacks.items()}


def logical(template: dict[str, Any], resource_type: str) -> list[str]:
    return sorted(k for k, r in template["Resources"].items() if r["Type"] == resource_type)


def primary_and_secondary(template: dict[str, Any]) -> tuple[str, str]:
    primary, secondary = logical(template, "AWS::EC2::Instance")
    assert "Primary" in primary and "Secondary" in secondary
    return primary, secondary


def guard_of(template: dict[str, Any]) -> GuardProperties:
    (guard,) = logical(template, "Custom::TrustgridChangeGuard")
    properties = resolve(template["Resources"][guard]["Properties"], template)
    return GuardProperties.parse({k: v for k, v in properties.items() if k != "ServiceToken"})


@pytest.mark.parametrize("kind", list(IN_PLACE))
def test_an_in_place_change_interrupts_at_most_one_gateway_at_a_time(templates, kind: str) -> None:
    change = plan(templates["base"], templates[kind])
    assert refused_changes(guard_of(templates["base"]), guard_of(templates[kind])) == [], "the guard lets it through"
    assert change.of_type("AWS::EC2::Instance", "replace") == [], "no gateway is replaced"
    assert change.of_type("AWS::EC2::NetworkInterface", "replace", "remove") == [], "the interfaces stay"
    interrupted = change.of_type("AWS::EC2::Instance", "interrupt")
    primary, secondary = primary_and_secondary(templates[kind])
    (gate,) = logical(templates[kind], "Custom::TrustgridMemberReady")
    if len(interrupted) == 2:
        # the secondary is stopped only after the gate, which waits for the primary to be back and healthy
        assert change.actions.get(gate) == "update"
        assert change.before_(primary, gate) and change.before_(gate, secondary)
    else:
        assert len(interrupted) <= 1


def test_the_same_change_without_the_gate_would_stop_both_at_once(templates) -> None:
    change = plan(templates["base"], templates["type in the same generation"])
    primary, secondary = primary_and_secondary(templates["base"])
    assert change.of_type("AWS::EC2::Instance", "interrupt") == [primary, secondary]
    (gate,) = logical(templates["base"], "Custom::TrustgridMemberReady")
    without = {k: {d for d in v if d != gate} for k, v in change.graph.items()}
    assert not Change(change.before, change.after, change.actions, without).before_(primary, secondary)


@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_replacing_or_renaming_change_is_refused_by_the_guard_before_anything_changes(templates, kind: str) -> None:
    change = plan(templates["base"], templates[kind])
    (guard,) = logical(templates[kind], "Custom::TrustgridChangeGuard")
    touched = [k for k, a in change.actions.items() if a in ("replace", "interrupt") and k != guard]
    assert touched or kind.endswith("rename"), "the change really would replace or rename something"
    assert change.actions.get(guard) == "update"
    for resource in [*touched, *logical(templates[kind], "Custom::TrustgridCluster"),
                     *logical(templates[kind], "Custom::TrustgridNodeLicense")]:  # fmt: skip
        assert change.before_(guard, resource), f"{resource} would change before the guard refuses"
    problems = refused_changes(guard_of(templates["base"]), guard_of(templates[kind]))
    assert problems, f"the guard would let {kind} through"


def test_a_protected_stack_delete_is_refused_before_anything_is_removed(templates) -> None:
    template = templates["base"]
    (protection,) = logical(template, "Custom::TrustgridProtection")
    graph = plan(template, template).graph
    cluster_resources = {k for k in template["Resources"] if k.startswith("Gateways")} - {protection}
    # CloudFormation deletes in the reverse order: nothing the protection depends on goes before it
    assert cluster_resources <= ancestors(graph, protection)
    properties = ProtectionProperties.parse(resolve(template["Resources"][protection]["Properties"], template))
    assert properties.enabled is True and len(properties.instance_ids) == 2
    off = ProtectionProperties.parse(
        resolve(templates["termination protection off"]["Resources"][protection]["Properties"], template)
    )
    assert off.enabled is False


def test_a_failed_first_create_rolls_back_completely(templates) -> None:
    template = templates["base"]
    (protection,) = logical(template, "Custom::TrustgridProtection")
    (cluster,) = logical(template, "Custom::TrustgridCluster")
    graph = plan(template, template).graph
    assert cluster in ancestors(graph, protection), "protection only once the cluster has verified"
    for instance in logical(template, "AWS::EC2::Instance"):
        assert template["Resources"][instance]["Properties"]["DisableApiTermination"] is False


def test_a_create_boots_both_gateways_without_waiting_for_registration(templates) -> None:
    template = templates["base"]
    primary, secondary = primary_and_secondary(template)
    (gate,) = logical(template, "Custom::TrustgridMemberReady")
    graph = plan(template, template).graph
    # the secondary waits only for the primary's launch and the gate's create, which returns at once
    assert gate in graph[secondary]
    licenses = logical(template, "Custom::TrustgridNodeLicense")
    assert all(lic not in ancestors(graph, primary) or "Primary" in lic for lic in licenses)
