"""Member swaps (``member_swap``), applied to the synthesized templates by the model of CloudFormation
(tests/cfn_model.py): for each change that needs a new node, which resources are created, updated and removed, in
which order; that no running gateway is replaced or restarted in place; that the positions swap strictly one after
the other; that the Elastic IPs stay. The stand-in runs the same order end to end (tests/lambda_/test_member_swap.py).

CloudFormation deletes the resources a template no longer names in its cleanup, after every create and update of the
deploy (cloudformation-facts: "Replacement creates the new resource first, then deletes the old one in the cleanup
phase"): the old gateways go only once both positions have swapped and the cluster resource has verified every
route at a current member's LAN interface.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from tests.cfn_model import Change, plan
from tests.constructs.test_lifecycle_model import BASE, build, guard_of, logical
from trustgrid_ha_runtime.lifecycle import refused_changes, swapped

SWAP = {**BASE, "member_swap": True}
SWAPS = {
    "image": ({"machine_image_id": "ami-0123456789abcdef0"}, ("Primary", "Secondary")),
    "image refresh": ({"image_refresh_token": "2026-12"}, ("Primary", "Secondary")),
    "root volume": ({"root_volume_size_gib": 40}, ("Primary", "Secondary")),
    "subnet": ({"lan_subnet": "subnet-0prv2"}, ("Primary",)),
    "gateway rename": ({"gateway_names": ["prod-gw-x", "prod-gw-b"]}, ("Primary",)),
    "secondary rename": ({"gateway_names": ["prod-gw-a", "prod-gw-y"]}, ("Secondary",)),
}
STILL_REFUSED = {
    "instance generation": {"instance_type": "c7i.large"},
    "cluster rename": {"cluster_name": "prod-gw2"},
}


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    app = App()
    stacks = {
        "base": build(app, "Base", SWAP),
        "in place": build(app, "InPlace", {**SWAP, "instance_type": "c6i.xlarge"}),
    }
    for index, (kind, (change, _)) in enumerate(SWAPS.items()):
        stacks[kind] = build(app, f"Swap{index}", {**SWAP, **change})
    for index, (kind, change) in enumerate(STILL_REFUSED.items()):
        stacks[kind] = build(app, f"Refused{index}", {**SWAP, **change})

    return {kind: Template.from_stack(stack).to_json() for kind, stack in stacks.items()}


def one(template: dict[str, Any], resource_type: str, position: str) -> str:
    (found,) = [k for k in logical(template, resource_type) if k.startswith(f"Gateways{position}")]
    return found


def gateway_resources(template: dict[str, Any], position: str) -> set[str]:
    """The resources of a position's gateway (everything under its revision-named construct)."""
    instance = one(template, "AWS::EC2::Instance", position)
    prefix = instance[: instance.index("Instance")]
    return {k for k in template["Resources"] if k.startswith(prefix)}


def order(change: Change, *logical_ids: str) -> None:
    for first, then in itertools.pairwise(logical_ids):
        assert change.before_(first, then), f"{first} must be done before {then} starts"


@pytest.mark.parametrize("kind", list(SWAPS))
def test_a_change_that_needs_a_new_node_swaps_the_members_one_at_a_time(templates, kind: str) -> None:
    before, after = templates["base"], templates[kind]
    change = plan(before, after)
    _, positions = SWAPS[kind]
    old_guard, new_guard = guard_of(before), guard_of(after)
    assert refused_changes(old_guard, new_guard) == [], "the guard lets a swap through"
    assert swapped(old_guard, new_guard) == list(positions)
    (guard,) = logical(after, "Custom::TrustgridChangeGuard")
    (cluster,) = logical(after, "Custom::TrustgridCluster")
    (protection,) = logical(after, "Custom::TrustgridProtection")

    for position in ("Primary", "Secondary"):
        old, new = gateway_resources(before, position), gateway_resources(after, position)
        address = one(after, "AWS::EC2::EIP", position)
        assert address in before["Resources"] and change.actions.get(address) is None, "the position keeps its EIP"
        if position not in positions:
            assert old == new and not {change.actions.get(k) for k in new} & {"replace", "interrupt", "remove"}
            continue
        assert not old & new, "the new gateway is built beside the old one, nothing of the old one is reused"
        assert {change.actions[k] for k in old} == {"remove"}, "the old gateway goes in the cleanup, at the end"
        assert {change.actions[k] for k in new} == {"add"}
        seat, member = (one(after, t, position) for t in ("Custom::TrustgridSeat", "Custom::TrustgridMember"))
        assert change.actions[seat] == change.actions[member] == "update"
        order(change, guard, seat, one(after, "AWS::EC2::Instance", position), member, cluster, protection)
    assert change.of_type("AWS::EC2::Instance", "replace", "interrupt") == [], "no running gateway is touched in place"
    # strictly one position after the other: the secondary's address moves only once the primary's member is back
    order(change, one(after, "Custom::TrustgridMember", "Primary"), one(after, "Custom::TrustgridSeat", "Secondary"))


def test_a_swap_needs_no_address_association_of_its_own(templates) -> None:
    """The seat puts the address on the new gateway before its instance boots: there is no EIPAssociation that
    CloudFormation could delete (and with it the address of a running gateway) in a cleanup or a rollback."""
    for template in templates.values():
        assert logical(template, "AWS::EC2::EIPAssociation") == []
        for position in ("Primary", "Secondary"):
            seat = one(template, "Custom::TrustgridSeat", position)
            instance = one(template, "AWS::EC2::Instance", position)
            assert seat in (template["Resources"][instance].get("DependsOn") or [])


def test_an_in_place_restart_still_goes_through_the_gate(templates) -> None:
    change = plan(templates["base"], templates["in place"])
    primary, secondary = (one(templates["in place"], "AWS::EC2::Instance", p) for p in ("Primary", "Secondary"))
    assert change.of_type("AWS::EC2::Instance", "interrupt") == sorted([primary, secondary])
    (gate,) = logical(templates["in place"], "Custom::TrustgridMemberReady")
    order(change, primary, gate, secondary)
    assert swapped(guard_of(templates["base"]), guard_of(templates["in place"])) == []


@pytest.mark.parametrize("kind", list(STILL_REFUSED))
def test_a_generation_change_and_a_cluster_rename_are_still_refused(templates, kind: str) -> None:
    problems = refused_changes(guard_of(templates["base"]), guard_of(templates[kind]))
    assert problems, f"{kind} must go through a successor"
    if kind == "instance generation":
        assert all("same appliance model" in p for p in problems)


def test_member_swap_is_chosen_when_a_cluster_is_created(templates) -> None:
    """Turning it on (or off) for a running cluster would rebuild both gateways at once, with their Elastic IP
    associations changing hands in CloudFormation's cleanup: refused, naming the successor path."""
    app = App()
    plain = guard_of(Template.from_stack(build(app, "Plain", BASE)).to_json())
    swapping = guard_of(templates["base"])
    for old, new in ((plain, swapping), (swapping, plain)):
        problems = refused_changes(old, new)
        assert len(problems) == 1 and "member_swap" in problems[0]


def test_the_protection_may_release_exactly_this_clusters_swapped_out_instances(templates) -> None:
    """A swapped-out instance leaves the template (and every policy that names instances) before the protection
    resource releases it: the release is allowed by the cluster tag, which every gateway instance carries."""
    template = templates["base"]
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ReleaseSwappedInstances"
    ]
    (statement,) = statements
    ((key, value),) = statement["Condition"]["StringEquals"].items()
    tag = key.removeprefix("ec2:ResourceTag/")
    for instance in logical(template, "AWS::EC2::Instance"):
        tags = {t["Key"]: t["Value"] for t in template["Resources"][instance]["Properties"]["Tags"]}
        assert tags[tag] == value == "prod-gw"
