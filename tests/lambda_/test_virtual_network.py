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
from trustgrid_ha_runtime.network import MARK
from trustgrid_ha_runtime.vpn import NetworkRefused

NET = "corp-vnet"


def spec(deployed: Deployed, **changes: Any) -> VirtualNetworkProperties:
    base = VirtualNetworkProperties(
        deployed.fqdn,
        "prod-gw",
        NET,
        "100.64.10.0/24",
        edge_cidrs=("100.64.20.0/24",),  # the remote virtual space, inside the network's 100.64.0.0/16
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
        {"networkCidr": "100.64.10.0/24", "localCidr": "10.0.0.0/24", "description": f"vpc ({MARK})"}
    ]
    assert [(r["networkCidr"], r["metric"], r["description"]) for r in attachment["routes"].values()] == [
        ("100.64.30.0/24", 5, MARK)
    ]
    assert physical == f"{deployed.fqdn}/{NET}"
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
    # theirs stays, and with it the interface and the attachment it hangs on
    assert attachment["interfaces"]["ens6"]["insideNats"] == [theirs]
    assert list(attachment["routes"]) == ["theirs"]


def test_a_delete_removes_what_is_its_own_in_reverse_order_and_leaves_an_attachment_others_use(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    portal_route = {"uid": "theirs", "networkCidr": "100.64.98.0/24", "metric": 9, "description": "portal"}
    world.stub.attachments[deployed.fqdn] = {
        NET: {"route": "100.64.10.0/24", "interfaces": {}, "routes": {"theirs": portal_route}}
    }
    created = spec(deployed)
    physical = send(world, "Create", created)["PhysicalResourceId"]
    start = len(world.stub.requests)
    send(world, "Delete", created, physical=physical)
    assert [m for m, _ in writes(world, start)] == ["DELETE", "DELETE"]  # our static route, then the interface
    assert writes(world, start)[-1][1].endswith("/interface/ens6")
    assert world.stub.attachments[deployed.fqdn][NET]["routes"] == {"theirs": portal_route}
    # a second delivery, and the delete of an attachment someone already removed, succeed
    send(world, "Delete", created, physical=physical)
    del world.stub.attachments[deployed.fqdn][NET]
    send(world, "Delete", created, physical=physical)


def test_a_static_route_or_nat_like_ours_but_made_in_the_portal_is_never_removed(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    created, physical = attached
    attachment = world.stub.attachments[deployed.fqdn][NET]
    attachment["routes"]["twin"] = {"uid": "twin", "networkCidr": "100.64.30.0/24", "metric": 5}
    twin_nat = {"networkCidr": "100.64.10.0/24", "localCidr": "10.0.0.0/24"}
    attachment["interfaces"]["ens6"]["insideNats"].append(twin_nat)
    send(world, "Delete", created, physical=physical)
    assert list(attachment["routes"]) == ["twin"] and attachment["interfaces"]["ens6"]["insideNats"] == [twin_nat]


def test_a_duplicate_create_converges_and_a_cancelled_creates_delete_with_a_made_up_id_cleans_up(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    created, physical = attached
    assert send(world, "Create", created)["PhysicalResourceId"] == physical  # delivered again
    assert len(world.stub.attachments[deployed.fqdn][NET]["routes"]) == 1
    send(world, "Delete", created, physical="gateways-VirtualNetwork-1A2B3C4D5E6F")  # CloudFormation's own id
    assert NET not in world.stub.attachments[deployed.fqdn]
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)  # and the cluster can go
    assert deployed.fqdn not in world.stub.clusters


def test_the_lan_interface_is_the_one_the_cluster_configured_not_the_first_listed(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    network = world.stub.clusters[deployed.fqdn]["config"]["network"]
    network["interfaces"].insert(0, {"nic": "ens5", "routes": [], "cloudRoutes": [], "clusterRouteTables": []})
    send(world, "Create", spec(deployed))
    assert list(world.stub.attachments[deployed.fqdn][NET]["interfaces"]) == ["ens6"]


def test_an_edge_cidr_outside_a_nat_networks_virtual_space_is_refused_before_anything_changes(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET, "100.64.0.0/16")
    start = len(world.stub.requests)
    with pytest.raises(NetworkRefused, match=r"edge CIDR 172.16.0.0/16 lies neither in the network's virtual space"):
        send(world, "Create", spec(deployed, edge_cidrs=("172.16.0.0/16",)))
    assert writes(world, start) == []
    # the local side of an outside NAT is fine, and so is anything on a network without NAT
    outside = (NatProperties("100.64.40.0/24", "172.16.0.0/24", proxy_arp=True),)
    send(world, "Create", spec(deployed, edge_cidrs=("172.16.0.0/24",), outside_nats=outside))
    world.stub.add_network("flat", "100.65.0.0/16", no_nat=True)
    send(world, "Create", spec(deployed, network_name="flat", edge_cidrs=("172.16.0.0/16",)))


def test_a_network_detached_in_the_portal_is_attached_again_by_the_next_deploy_that_updates_it(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    """CloudFormation sends an update only when the properties change: the scheduled check alarms meanwhile."""
    created, physical = attached
    del world.stub.attachments[deployed.fqdn][NET]
    assert send(world, "Update", created, created, physical)["PhysicalResourceId"] == physical
    attachment = world.stub.attachments[deployed.fqdn][NET]
    assert attachment["route"] == created.route and "ens6" in attachment["interfaces"]
    send(world, "Delete", created, physical=physical)  # and it is removed as its own
    assert NET not in world.stub.attachments[deployed.fqdn]


@pytest.mark.parametrize(
    "change",
    [
        {"outside_nats": (NatProperties("100.64.40.0/24", "172.16.0.0/24", proxy_arp=False),)},
        {"inside_nats": (NatProperties("100.64.10.0/24", "10.0.0.0/24", "renamed"),)},
        {"routes": (VpnRouteProperties("100.64.30.0/24", "", 5, "renamed"),)},
        {"routes": (VpnRouteProperties("100.64.30.0/24", "prod-gw-a", 5),)},
    ],
)
def test_a_change_of_any_field_is_written(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str], change: dict[str, Any]
) -> None:
    created, physical = attached
    base = replace(created, outside_nats=(NatProperties("100.64.40.0/24", "172.16.0.0/24", proxy_arp=True),))
    send(world, "Update", base, created, physical)
    start = len(world.stub.requests)
    send(world, "Update", replace(base, **change), base, physical)
    assert writes(world, start), change


def test_a_rollback_across_two_networks_applies_no_old_properties_of_the_other_network(
    world: World, deployed: Deployed, attached: tuple[VirtualNetworkProperties, str]
) -> None:
    created, physical = attached
    world.stub.add_network("other-vnet")
    other = replace(created, network_name="other-vnet")
    moved = send(world, "Update", other, created, physical)["PhysicalResourceId"]
    assert moved == f"{deployed.fqdn}/other-vnet"  # a replacement: CloudFormation deletes the old one in cleanup
    portal = {"uid": "theirs", "networkCidr": "100.64.97.0/24", "metric": 3}
    world.stub.attachments[deployed.fqdn][NET]["routes"]["theirs"] = portal
    send(world, "Update", created, other, moved)  # the rollback: new and old swapped, the new physical id
    assert world.stub.attachments[deployed.fqdn][NET]["routes"]["theirs"] == portal


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


def test_publishing_never_commits_others_staged_changes_on_create_update_delete_or_undo(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    physical = send(world, "Create", published(deployed))["PhysicalResourceId"]
    world.stub.stage_foreign_route(NET, "100.64.50.0/24", "branch-7")
    # an update that writes nothing domain-level is not held up by others' staged changes
    send(world, "Update", replace(published(deployed), routes=()), published(deployed), physical)
    for request, new, old in (
        ("Update", replace(published(deployed), network_route_metric=30), published(deployed)),
        ("Update", spec(deployed), published(deployed)),  # publish turned off: its objects go, a commit is needed
        ("Delete", published(deployed), None),
    ):
        with pytest.raises(NetworkRefused, match=r"staged changes this stack did not make \(route 100.64.50.0/24"):
            send(world, request, new, old, physical)
        assert world.stub.commits == {NET: 1}, request  # never committed


def test_a_change_staged_by_someone_between_validation_and_commit_is_never_published(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    world.stub.on_validate = lambda: world.stub.stage_foreign_route(NET, "100.64.51.0/24", "branch-8")
    with pytest.raises(NetworkRefused, match=r"100\.64\.51\.0/24"):
        send(world, "Create", published(deployed))
    assert world.stub.commits.get(NET, 0) == 0


def test_a_commit_that_failed_is_published_by_the_retry_and_its_own_leftovers_too(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    world.stub.inject("network_commit", error(422))
    with pytest.raises(Exception, match="422"):
        send(world, "Create", published(deployed))
    assert NET not in world.stub.attachments.get(deployed.fqdn, {})  # the failed create removed what it made
    physical = send(world, "Create", published(deployed))["PhysicalResourceId"]
    assert len(world.stub.published_routes(NET)) == 1 and world.stub.staged[NET] == []
    # a leftover of ours, staged and not committed, is published by the next run that finds it
    world.stub.network_add_route_staged(NET, {**world.stub.published_routes(NET)[0], "uid": "leftover",
                                              "networkCidr": "100.64.10.0/24", "metric": 99})  # fmt: skip
    send(world, "Update", replace(published(deployed), routes=()), published(deployed), physical)
    assert world.stub.staged[NET] == []


def test_a_network_deleted_in_the_portal_does_not_hold_up_the_delete(world: World, deployed: Deployed) -> None:
    world.stub.add_network(NET)
    physical = send(world, "Create", published(deployed))["PhysicalResourceId"]
    del world.stub.networks[NET]
    world.stub.attachments[deployed.fqdn].pop(NET)
    send(world, "Delete", published(deployed), physical=physical)


def test_another_clusters_policies_and_a_portal_interfaces_flags_are_left_alone(
    world: World, deployed: Deployed
) -> None:
    world.stub.add_network(NET)
    physical = send(world, "Create", published(deployed))["PhysicalResourceId"]
    other = {"uid": "other", "action": "allow", "protocol": "any", "source": "100.64.60.0/24", "dest": "100.64.61.0/24",
             "lineNumber": 50, "description": f"{MARK}: other-gw"}  # fmt: skip
    world.stub.networks[NET]["policies"]["other"] = other  # a neighbouring cluster's, marked for it
    send(world, "Delete", published(deployed), physical=physical)
    assert world.stub.networks[NET]["policies"] == {"other": other}
    world.stub.attachments[deployed.fqdn] = {NET: {"route": "100.64.10.0/24", "routes": {}, "interfaces": {
        "ens6": {"interfaceName": "ens6", "insideNats": [], "outsideNats": [], "inDefaultRoute": True,
                 "outDefaultRoute": False}}}}  # fmt: skip
    send(world, "Delete", spec(deployed), physical=physical)  # its flags are not ours: interface and attachment stay
    assert world.stub.attachments[deployed.fqdn][NET]["interfaces"]["ens6"]["inDefaultRoute"] is True
