"""The cluster's virtual-network attachment against the stand-in: create, update of each field, delete, portal
edits kept, a detached network re-attached, the domain-level opt-in, and API faults at each step. Every request
body is checked against the published request models (``schema_violations``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.lambda_.conftest import Deployed, World
from tests.lambda_.trustgrid_stub import error
from trustgrid_ha_runtime.contract import (
    VIRTUAL_NETWORK_TYPE,
    AccessPolicyProperties,
    NatProperties,
    VirtualNetworkProperties,
    VpnRouteProperties,
)
from trustgrid_ha_runtime.handler import handle_event
from trustgrid_ha_runtime.vpn import MANAGED, NetworkRefused

NET = "corp-vnet"


def spec(deployed: Deployed, **changes: Any) -> VirtualNetworkProperties:
    base = VirtualNetworkProperties(
        deployed.fqdn,
        "prod-gw",
        NET,
        "100.64.10.0/24",
        inside_nats=(NatProperties("100.64.10.0/24", "10.0.0.0/24", "vpc"),),
        routes=(VpnRouteProperties("100.64.30.0/24", "", 5),),
    )
    return replace(base, **changes)


def send(world: World, request: str, new: VirtualNetworkProperties, old: VirtualNetworkProperties | None = None,
         physical: str | None = None) -> dict[str, Any]:  # fmt: skip
    event: dict[str, Any] = {
        "RequestType": request,
        "ResourceType": VIRTUAL_NETWORK_TYPE,
        "ResourceProperties": new.to_properties(),
        "StackId": world.stack_id,
        "LogicalResourceId": "GatewaysVirtualNetwork",
    }
    if old is not None:
        event["OldResourceProperties"] = old.to_properties()
    if physical is not None:
        event["PhysicalResourceId"] = physical
    return handle_event(event, world.runtime())


def writes(world: World, since: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in world.stub.requests[since:] if r.write]


@pytest.fixture(autouse=True)
def every_request_as_published(world: World) -> Any:
    """Every request of every test here conforms to the published request models."""
    yield
    assert world.stub.schema_violations == []


@pytest.fixture
def attached(world: World, deployed: Deployed) -> tuple[VirtualNetworkProperties, str]:
    world.stub.add_network(NET)
    created = spec(deployed)
    return created, send(world, "Create", created)["PhysicalResourceId"]


def test_a_create_attaches_the_network_the_lan_interface_with_its_nats_and_the_static_routes(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    _, physical = attached
    attachment = world.stub.attachments[deployed.fqdn][NET]
    assert attachment["route"] == "100.64.10.0/24"
    interface = attachment["interfaces"]["ens6"]  # the LAN interface the nodes reported
    assert interface["insideNats"] == [
        {"networkCidr": "100.64.10.0/24", "localCidr": "10.0.0.0/24", "description": "vpc"}
    ]
    assert [(r["networkCidr"], r["metric"], r["description"]) for r in attachment["routes"].values()] == [
        ("100.64.30.0/24", 5, MANAGED)
    ]
    assert physical == f"{deployed.fqdn}/{NET}/ai"  # it made the attachment and the interface
    assert world.stub.schema_violations == []
    assert world.stub.commits == {}  # nothing domain-level without the second opt-in


def test_an_update_with_nothing_changed_writes_nothing(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    created, physical = attached
    start = len(world.stub.requests)
    assert send(world, "Update", created, created, physical)["PhysicalResourceId"] == physical
    assert writes(world, start) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"route": "100.64.11.0/24"}, ("PUT", f"/vpn/{NET}")),
        ({"inside_nats": (NatProperties("100.64.12.0/24", "10.0.1.0/24"),)}, ("PUT", f"/vpn/{NET}/interface/ens6")),
        (
            {"outside_nats": (NatProperties("100.64.40.0/24", "172.16.0.0/24", proxy_arp=True),)},
            ("PUT", f"/vpn/{NET}/interface/ens6"),
        ),
        ({"in_default_route": True}, ("PUT", f"/vpn/{NET}/interface/ens6")),
        ({"routes": (VpnRouteProperties("100.64.31.0/24", "", 7),)}, ("POST", f"/vpn/{NET}/route")),
    ],
)
def test_an_update_writes_only_what_changed(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str], change: dict[str, Any],
    expected: tuple[str, str],
) -> None:  # fmt: skip
    created, physical = attached
    start = len(world.stub.requests)
    updated = replace(created, **change)
    send(world, "Update", updated, created, physical)
    done = writes(world, start)
    assert done and all(path.startswith(f"/v2/cluster/{deployed.fqdn}") for _, path in done)
    assert (expected[0], f"/v2/cluster/{deployed.fqdn}{expected[1]}") in done
    assert not any(m == "DELETE" and path.endswith(f"/vpn/{NET}") for m, path in done)
    assert world.stub.schema_violations == []
    if "routes" in change:  # the old static route is removed, the new one added
        routes = world.stub.attachments[deployed.fqdn][NET]["routes"].values()
        assert [(r["networkCidr"], r["metric"]) for r in routes] == [("100.64.31.0/24", 7)]


def test_what_people_configured_in_the_portal_is_kept_on_update_and_on_delete(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    created, physical = attached
    attachment = world.stub.attachments[deployed.fqdn][NET]
    theirs = {"networkCidr": "100.64.99.0/24", "localCidr": "10.0.9.0/24", "description": "portal"}
    attachment["interfaces"]["ens6"]["insideNats"].append(theirs)
    attachment["routes"]["theirs"] = {"uid": "theirs", "networkCidr": "100.64.98.0/24", "metric": 9}
    updated = replace(created, inside_nats=(NatProperties("100.64.12.0/24", "10.0.1.0/24"),))
    send(world, "Update", updated, created, physical)
    assert theirs in attachment["interfaces"]["ens6"]["insideNats"]
    assert [n["networkCidr"] for n in attachment["interfaces"]["ens6"]["insideNats"]] == ["100.64.99.0/24",
                                                                                          "100.64.12.0/24"]  # fmt: skip
    send(world, "Delete", updated, physical=physical)
    assert NET not in world.stub.attachments[deployed.fqdn]  # it made the attachment: it removes it


def test_a_delete_removes_exactly_what_it_made_in_reverse_order_and_leaves_an_attachment_it_found(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    world.stub.attachments[deployed.fqdn] = {NET: {"route": "100.64.10.0/24", "interfaces": {}, "routes": {}}}
    created = spec(deployed)
    physical = send(world, "Create", created)["PhysicalResourceId"]
    assert physical.endswith("/i")  # the attachment was there before: only the interface is its own
    start = len(world.stub.requests)
    send(world, "Delete", created, physical=physical)
    assert [m for m, _ in writes(world, start)] == ["DELETE", "DELETE"]  # the route, then the interface
    assert writes(world, start)[-1][1].endswith("/interface/ens6")
    assert world.stub.attachments[deployed.fqdn][NET] == {"route": "100.64.10.0/24", "interfaces": {}, "routes": {}}
    # a second delivery, and the delete of an attachment someone already removed, succeed
    send(world, "Delete", created, physical=physical)
    del world.stub.attachments[deployed.fqdn][NET]
    send(world, "Delete", created, physical=physical)


def test_a_network_detached_in_the_portal_is_attached_again_by_the_next_update(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    created, physical = attached
    del world.stub.attachments[deployed.fqdn][NET]
    send(world, "Update", replace(created, routes=()), created, physical)
    attachment = world.stub.attachments[deployed.fqdn][NET]
    assert attachment["route"] == created.route and "ens6" in attachment["interfaces"]


def test_a_network_that_does_not_exist_is_refused_naming_what_exists(world: World, deployed: Deployed) -> None:
    world.stub.add_network("other-vnet")
    start = len(world.stub.requests)
    with pytest.raises(NetworkRefused, match="no virtual network named 'corp-vnet' \\(it has: other-vnet\\)"):
        send(world, "Create", spec(deployed))
    assert writes(world, start) == []


@pytest.mark.parametrize("step", ["vpn_attach", "vpn_add_interface", "vpn_add_route"])
def test_an_api_fault_at_any_step_of_a_create_is_retried_and_a_refusal_leaves_nothing_behind(
    world: World, deployed: Deployed, step: str
) -> None:
    world.stub.add_network(NET)
    world.stub.inject(step, error(503))  # transient: retried
    physical = send(world, "Create", spec(deployed))["PhysicalResourceId"]
    send(world, "Delete", spec(deployed), physical=physical)
    world.stub.inject(step, error(422))  # refused: the create fails and removes what it made
    with pytest.raises(Exception, match="422"):
        send(world, "Create", spec(deployed))
    assert NET not in world.stub.attachments.get(deployed.fqdn, {})


def test_the_cluster_cannot_be_deleted_while_a_network_is_attached_and_can_after(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    """CloudFormation deletes the attachment first (it depends on the cluster); the stand-in refuses the other
    order, as the vendor's teardown order has it."""
    created, physical = attached
    send(world, "Delete", created, physical=physical)
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert deployed.fqdn not in world.stub.clusters


# -- the domain-level opt-in ---------------------------------------------------------------------------------


def published(deployed: Deployed) -> VirtualNetworkProperties:
    policy = AccessPolicyProperties("100.64.20.0/24", "100.64.10.0/24", protocol="tcp", ports="443")
    return spec(deployed, publish=True, network_route_metric=20, access_policies=(policy,))


def test_publishing_routes_the_clusters_subnet_to_it_adds_the_policies_and_commits_once(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    physical = send(world, "Create", published(deployed))["PhysicalResourceId"]
    routes = world.stub.published_routes(NET)
    assert [(r["nodeName"], r["networkCidr"], r["metric"]) for r in routes] == [("prod-gw", "100.64.10.0/24", 20)]
    policies = list(world.stub.networks[NET]["policies"].values())
    assert [(p["source"], p["dest"], p["protocol"], p["ports"]) for p in policies] == [
        ("100.64.20.0/24", "100.64.10.0/24", "tcp", "443")
    ]
    assert world.stub.commits == {NET: 1} and world.stub.staged[NET] == []
    assert world.stub.schema_violations == []
    send(world, "Delete", published(deployed), physical=physical)
    assert world.stub.published_routes(NET) == [] and world.stub.networks[NET]["policies"] == {}
    assert world.stub.commits == {NET: 2}


def test_publishing_is_refused_while_others_changes_are_staged_naming_them_before_any_write(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    world.stub.stage_foreign_route(NET, "100.64.50.0/24", "branch-7")
    start = len(world.stub.requests)
    with pytest.raises(NetworkRefused, match=r"staged changes this stack did not make \(route 100.64.50.0/24 to "):
        send(world, "Create", published(deployed))
    assert writes(world, start) == []
    assert len(world.stub.staged[NET]) == 1  # theirs, untouched


def test_a_commit_that_failed_is_published_by_the_retry(world: World, deployed: Deployed) -> None:
    world.stub.add_network(NET)
    world.stub.inject("network_commit", error(422))
    with pytest.raises(Exception, match="422"):
        send(world, "Create", published(deployed))
    # the failed create removed what it made; its staged route and policy were withdrawn and published
    assert NET not in world.stub.attachments.get(deployed.fqdn, {})
    physical = send(world, "Create", published(deployed))["PhysicalResourceId"]
    assert len(world.stub.published_routes(NET)) == 1 and world.stub.staged[NET] == []
    assert physical.endswith("/ai")


def test_the_scheduled_check_alarms_when_the_network_is_detached_and_status_shows_it(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    import io

    import boto3

    from tests.lambda_.conftest import REGION
    from trustgrid_ha_runtime import monitor
    from trustgrid_ha_tools import status

    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    watched = [{"name": "prod-gw", "fqdn": deployed.fqdn, "network": NET}]
    rt = world.runtime()
    assert monitor.check(watched, rt.api(), world.ec2, cloudwatch, rt.log)["prod-gw"]["VirtualNetworkAttached"] == 1
    out = io.StringIO()
    status.main(["--secret-id", world.api_secret_arn, "--api-url", world.stub.url, "--cluster", deployed.fqdn],
                secrets=world.secrets, ec2=world.ec2, out=out)  # fmt: skip
    assert f"network {NET}  route 100.64.10.0/24  interfaces ens6 (inside 100.64.10.0/24=10.0.0.0/24)" in out.getvalue()
    assert "public" in out.getvalue()  # each member's gateway type
    world.stub.attachments[deployed.fqdn][NET]["interfaces"].clear()  # someone detached the LAN interface
    values = monitor.check(watched, rt.api(), world.ec2, cloudwatch, rt.log)["prod-gw"]
    assert values["VirtualNetworkAttached"] == 0 and values["ClusterHealthy"] == 1
    # a cluster without a network publishes no such metric
    assert (
        "VirtualNetworkAttached"
        not in monitor.check([{"name": "prod-gw", "fqdn": deployed.fqdn}], rt.api(), world.ec2, cloudwatch, rt.log)[
            "prod-gw"
        ]
    )
