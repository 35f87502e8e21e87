"""A successor cluster next to its predecessor, in one stack and in a stack each: what the templates say."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from trustgrid_ha import TrustgridConfigError, TrustgridHaCluster


def pair(*, cut_over: bool) -> dict[str, Any]:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    common = {"api_secret": api, "edge_cidrs": ["172.16.0.0/16"]}
    old = TrustgridHaCluster(stack, "Old", cluster_name="prod-gw", **common)
    TrustgridHaCluster(stack, "New", cluster_name="prod-gw2", vpc=old.vpc, succeeds="prod-gw", cut_over=cut_over,
                       instance_type="c7i.large", **common)  # fmt: skip
    return Template.from_stack(stack).to_json()


def resource(template: dict[str, Any], kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in template["Resources"].items() if v["Type"] == kind and k.startswith(prefix)]
    return found


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    return pair(cut_over=False)


@pytest.fixture(scope="module")
def cut() -> dict[str, Any]:
    return pair(cut_over=True)


def test_a_successor_shares_the_edge_cidrs_and_is_built_without_the_routes(built: dict[str, Any]) -> None:
    _, new = resource(built, "Custom::TrustgridCluster", "New")
    assert (new["Properties"]["OwnsRoutes"], new["Properties"]["Predecessor"]) == ("false", "prod-gw")
    assert new["Properties"]["EdgeCidrs"] == ["172.16.0.0/16"]
    _, guard = resource(built, "Custom::TrustgridChangeGuard", "New")
    # its guard checks the routes too; those of its predecessor's members are the cut-over's to move
    assert (guard["Properties"]["EdgeCidrs"], guard["Properties"]["Predecessor"]) == (["172.16.0.0/16"], "prod-gw")
    _, old = resource(built, "Custom::TrustgridCluster", "Old")
    assert old["Properties"]["OwnsRoutes"] == "true"
    statements = [
        s for p in built["Resources"].values() if p["Type"] == "AWS::IAM::Policy"
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]  # fmt: skip
    assert any(s["Action"] == ["ec2:CreateRoute", "ec2:ReplaceRoute"] for s in statements)


def test_the_cut_over_marks_the_predecessor_after_the_successor(cut: dict[str, Any]) -> None:
    new_id, new = resource(cut, "Custom::TrustgridCluster", "New")
    _, old = resource(cut, "Custom::TrustgridCluster", "Old")
    assert new["Properties"]["OwnsRoutes"] == "true"
    assert old["Properties"]["OwnsRoutes"] == "false" and new_id in old["DependsOn"]
    _, rule = resource(cut, "AWS::Events::Rule", "OldMonitoring")
    assert '"ownsRoutes":false' in str(rule["Properties"]["Targets"][0]["Input"])


@pytest.mark.parametrize(
    ("settings", "setting", "fix"),
    [
        ({"cut_over": True}, "cut_over", "give succeeds"),
        ({"succeeds": "prod-gw"}, "succeeds", "a cluster succeeds another one"),
        ({"succeeds": "Prod GW"}, "succeeds", "lowercase"),
    ],
)
def test_what_cannot_succeed_is_refused(settings: dict[str, Any], setting: str, fix: str) -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    with pytest.raises(TrustgridConfigError) as refused:
        TrustgridHaCluster(stack, "C", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"], **settings)
    found = {p.setting: p.fix for p in refused.value.problems}
    assert setting in found and fix in found[setting], found


def test_with_a_stack_per_cluster_the_predecessor_is_superseded_and_deploys_after_its_successor() -> None:
    from app import build_app
    from tests.conftest import cdk_json_context

    context = {
        "stackPerCluster": True,
        "clusters": [
            {"name": "prod-gw", "edgeCidrs": ["172.16.0.0/16"]},
            {"name": "prod-gw2", "edgeCidrs": ["172.16.0.0/16"], "succeeds": "prod-gw", "cutOver": True},
        ],
    }
    app = build_app(App(context=cdk_json_context(trustgrid=context)), nag=False)
    stacks = {s.node.id: s for s in app.node.children if isinstance(s, Stack)}
    old, new = stacks["TrustgridCluster-prod-gw"], stacks["TrustgridCluster-prod-gw2"]
    assert new in old.dependencies
    _, cluster = resource(Template.from_stack(old).to_json(), "Custom::TrustgridCluster", "Cluster")
    assert cluster["Properties"]["OwnsRoutes"] == "false"


def test_a_successor_declared_before_its_predecessor_marks_it_too() -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    common = {"api_secret": api, "edge_cidrs": ["172.16.0.0/16"]}
    new = TrustgridHaCluster(stack, "New", cluster_name="prod-gw2", succeeds="prod-gw", cut_over=True, **common)
    TrustgridHaCluster(stack, "Old", cluster_name="prod-gw", vpc=new.vpc, **common)
    template = Template.from_stack(stack).to_json()
    new_id, _ = resource(template, "Custom::TrustgridCluster", "New")
    _, old = resource(template, "Custom::TrustgridCluster", "Old")
    assert old["Properties"]["OwnsRoutes"] == "false" and new_id in old["DependsOn"]
