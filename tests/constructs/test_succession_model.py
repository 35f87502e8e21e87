"""The successor path for every change a running pair cannot take in place, applied to the synthesized templates
by the model of CloudFormation (tests/cfn_model.py): building the successor touches nothing of the running pair,
the cut-over updates only the two cluster resources (the predecessor's after the successor's), and removing the
predecessor touches nothing of the successor."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from tests.cfn_model import plan
from tests.constructs.test_lifecycle_model import REFUSED
from trustgrid_ha import TrustgridHaCluster

OLD = {"cluster_name": "prod-gw", "edge_cidrs": ["172.16.0.0/16"], "instance_type": "c6i.large"}


def stack(app: App, name: str, old: bool, new: dict[str, Any] | None) -> Stack:
    """The stack of one stage: the predecessor (``old``), the successor (``new``), or both."""
    scope = Stack(app, name)
    vpc = ec2.Vpc.from_vpc_attributes(
        scope, "Vpc", vpc_id="vpc-0123456789abcdef0", vpc_cidr_block="10.9.0.0/16",
        availability_zones=["us-east-1a", "us-east-1b"], public_subnet_ids=["subnet-0pub0", "subnet-0pub1"],
        private_subnet_ids=["subnet-0prv0", "subnet-0prv1"],
        private_subnet_route_table_ids=["rtb-0023456789abcdef0", "rtb-0123456789abcdef0"],
    )  # fmt: skip
    api = secretsmanager.Secret.from_secret_name_v2(scope, "Api", "trustgrid/api")
    if old:
        TrustgridHaCluster(scope, "Old", api_secret=api, vpc=vpc, **OLD)
    if new is not None:
        TrustgridHaCluster(scope, "New", api_secret=api, vpc=vpc, **new)
    return scope


def successor_of(kind: str) -> dict[str, Any]:
    """The successor that carries the change: its own name and gateway names, the predecessor's edge CIDRs."""
    change = {k: v for k, v in REFUSED[kind].items() if k not in ("cluster_name", "lan_subnet", "gateway_names")}
    name = REFUSED[kind].get("cluster_name", "prod-gw-next")
    return {**OLD, **change, "cluster_name": name, "succeeds": "prod-gw"}


@pytest.fixture(scope="module")
def stages() -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for kind in REFUSED:  # one app a stage: the same stack, as CloudFormation sees it from one deploy to the next
        new = successor_of(kind)
        stages = {
            "running": (True, None),
            "built": (True, new),
            "cut": (True, {**new, "cut_over": True}),
            "alone": (False, {**new, "cut_over": True}),
        }
        found[kind] = {
            name: Template.from_stack(stack(App(), "Gateways", old, settings)).to_json()
            for name, (old, settings) in stages.items()
        }
    return found


def ids(template: dict[str, Any], prefix: str) -> set[str]:
    return {k for k in template["Resources"] if k.startswith(prefix)}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_each_change_goes_through_a_successor_without_touching_a_running_gateway(
    stages: dict[str, dict[str, dict[str, Any]]], kind: str
) -> None:
    running, built, cut, alone = (stages[kind][s] for s in ("running", "built", "cut", "alone"))
    old = ids(running, "Old")
    # 1. building the successor: nothing of the running pair changes (the stack's one provider gains its grants)
    change = plan(running, built)
    assert {a for k, a in change.actions.items() if k in old} == set(), kind
    assert {a for k, a in change.actions.items() if k not in ids(built, "New")} <= {"update"}
    # 2. the cut-over: no instance replaced or stopped; the two cluster resources update, the predecessor's after
    change = plan(built, cut)
    instances = [k for k, r in cut["Resources"].items() if r["Type"] == "AWS::EC2::Instance"]
    assert not {change.actions.get(k) for k in instances} - {None}, kind
    (old_cluster,) = [k for k in ids(cut, "Old") if cut["Resources"][k]["Type"] == "Custom::TrustgridCluster"]
    (new_cluster,) = [k for k in ids(cut, "New") if cut["Resources"][k]["Type"] == "Custom::TrustgridCluster"]
    assert change.actions[new_cluster] == change.actions[old_cluster] == "update"
    assert change.before_(new_cluster, old_cluster)  # the predecessor lets go after the routes moved
    # 3. removing the predecessor: its own resources go, nothing of the successor's changes (the provider's grants
    # shrink)
    change = plan(cut, alone)
    assert {k for k, a in change.actions.items() if a == "remove"} == ids(cut, "Old")
    assert not {k for k in change.actions if k in ids(alone, "New")}
