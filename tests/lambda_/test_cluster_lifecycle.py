"""Create, update and delete of the cluster resource, end to end against the API stand-in and moto."""

from __future__ import annotations

import pytest

from tests.lambda_.conftest import Deployed, World, mint_and_register, register
from trustgrid_ha_runtime.network import MARK

FQDN = "prod-gw.acme.trustgrid.io"


def calls(world: World, since: int = 0, writes_only: bool = False) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in world.stub.requests[since:] if not writes_only or r.write]


def test_create_configures_every_manual_step(world: World) -> None:
    members = mint_and_register(world)
    a, b = (m["Uid"] for m in members)
    start = len(world.stub.requests)

    response = world.cluster("Create", world.cluster_props(members))

    assert response["PhysicalResourceId"] == FQDN
    assert response["Data"]["ClusterFqdn"] == FQDN
    assert calls(world, start, writes_only=True) == [
        ("PUT", f"/node/{a}/config/gateway"),  # first: enabling it restarts the node's service
        ("PUT", f"/node/{b}/config/gateway"),
        ("POST", "/cluster"),
        ("PUT", f"/cluster/{FQDN}/tag/trustgrid-ha-cluster-owner"),  # this resource made it
        ("PUT", f"/node/{a}"),
        ("PUT", f"/node/{b}"),
        ("PUT", f"/node/{a}/config/cluster"),
        ("PUT", f"/node/{b}/config/cluster"),
        ("PUT", f"/cluster/{FQDN}/config/network"),
        ("PUT", f"/cluster/{FQDN}/active/{a}"),
    ]
    # reads: only answers the handler does not have yet (the org domain is cached since the licenses; a
    # cluster it just created is not read back). The first poll writes everything and verifies what the
    # restarted nodes report; the second finds nothing to write and verifies on what it read.
    reads = [(m, p) for m, p in calls(world, start) if m == "GET"]
    nodes = [("GET", f"/node/{a}"), ("GET", f"/node/{b}")]
    cluster = [("GET", f"/cluster/{FQDN}")]
    assert reads == [*nodes, *cluster, *cluster, *nodes, *nodes, *cluster]
    membership = [r.body for r in world.stub.requests[start:] if r.path == f"/node/{a}" and r.write]
    assert membership == [{"cluster": FQDN}]
    state = world.stub.snapshot()
    cluster = state["clusters"][FQDN]
    assert cluster["health"] == "healthy"
    assert cluster["mode"] == "autoFailback"
    assert cluster["configured"] == a and cluster["role"] == a
    for member in members:
        assert state["nodes"][member["Uid"]] == {
            "cluster": FQDN,
            "heartbeat": {"enabled": True, "host": member["LanIp"], "port": 9000},
            # a public gateway on its Elastic IP: TCP and UDP on the tunnel port
            "gateway": {
                "enabled": True,
                "type": "public",
                "host": member["PublicIp"],
                "port": 8443,
                "udpEnabled": True,
                "udpPort": 8443,
            },
        }
    (lan,) = cluster["config"]["network"]["interfaces"]
    assert lan["nic"] == "ens6"
    assert lan["cloudRoutes"] == [{"route": "172.16.0.0/16", "description": f"{MARK}: edge CIDR"}]
    assert lan["clusterRouteTables"] == world.route_tables
    # different AZs: each member's LAN subnet through the other subnet's VPC router (network + 1)
    assert [(r["route"], r["next"]) for r in lan["routes"]] == [
        ("10.0.2.0/24", "10.0.1.1"),
        ("10.0.1.0/24", "10.0.2.1"),
    ]
    # the edge-CIDR route exists in every managed table and points at the active member's LAN ENI
    for table in world.ec2.describe_route_tables(RouteTableIds=world.route_tables)["RouteTables"]:
        edge = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "172.16.0.0/16"]
        assert [r["NetworkInterfaceId"] for r in edge] == [members[0]["LanEniId"]]


def test_unverified_routes_fail_after_the_deadline_naming_the_table(world: World, monkeypatch) -> None:
    members = mint_and_register(world)
    monkeypatch.setattr(World, "route_agent", lambda self: None)  # the active member never creates its route
    props = world.cluster_props(members, WaitTimeoutSeconds="60")
    with pytest.raises(RuntimeError) as failure:
        world.cluster("Create", props, max_polls=5)
    assert world.route_tables[0] in str(failure.value) and "172.16.0.0/16" in str(failure.value)
    world.set_stack_status("ROLLBACK_IN_PROGRESS")  # the Delete CloudFormation sends, with the real id
    world.cluster("Delete", props, physical=FQDN)
    assert world.stub.clusters == {}, "a failed create's Delete removes the cluster it made"
    assert all(n.get("cluster") is None for n in world.stub.nodes.values())


def test_verification_can_be_switched_off(world: World, monkeypatch) -> None:
    members = mint_and_register(world)
    monkeypatch.setattr(World, "route_agent", lambda self: None)
    world.cluster("Create", world.cluster_props(members, VerifyRoutes="false"))
    assert FQDN in world.stub.clusters


def test_create_adopts_an_existing_cluster_and_keeps_portal_entries(world: World) -> None:
    members = mint_and_register(world)
    world.stub.clusters[FQDN] = {
        "name": "prod-gw",
        "fqdn": FQDN,
        "mode": "autoFailback",
        "active": None,
        "tags": {"trustgrid-ha-cluster-owner": world.owner},  # an earlier attempt of this resource made it
        "config": {
            "network": {
                "interfaces": [
                    {
                        "nic": "ens6",
                        "routes": [{"route": "192.168.0.0/24", "next": "10.0.1.1", "description": "by hand"}],
                        "cloudRoutes": [{"route": "10.99.0.0/16", "description": "portal"}],
                        "clusterRouteTables": ["rtb-0aaaaaaaaaaaaaaaa"],
                    },
                    {"nic": "ens5", "routes": [], "cloudRoutes": [], "clusterRouteTables": []},
                ]
            }
        },
    }
    world.cluster("Create", world.cluster_props(members))
    assert not any(r.method == "POST" for r in world.stub.requests)
    lan, wan = world.stub.clusters[FQDN]["config"]["network"]["interfaces"]
    assert {"route": "192.168.0.0/24", "next": "10.0.1.1", "description": "by hand"} in lan["routes"]
    assert {"route": "10.99.0.0/16", "description": "portal"} in lan["cloudRoutes"]
    assert lan["clusterRouteTables"] == ["rtb-0aaaaaaaaaaaaaaaa", *world.route_tables]
    assert wan == {"nic": "ens5", "routes": [], "cloudRoutes": [], "clusterRouteTables": []}


def test_no_op_update_makes_no_call(world: World, deployed: Deployed) -> None:
    start = len(world.stub.requests)
    world.cluster("Update", deployed.props, old=deployed.props, physical=deployed.fqdn)
    assert calls(world, start) == []


def test_update_edge_cidrs_rewrites_only_the_network_config(world: World, deployed: Deployed) -> None:
    cluster = world.stub.clusters[FQDN]
    cluster["config"]["network"]["interfaces"][0]["cloudRoutes"].append(
        {"route": "10.99.0.0/16", "description": "portal"}
    )
    new = {**deployed.props, "EdgeCidrs": ["172.16.0.0/16", "172.20.0.0/16"]}
    start = len(world.stub.requests)

    world.cluster("Update", new, old=deployed.props, physical=deployed.fqdn)

    assert calls(world, start, writes_only=True) == [("PUT", f"/cluster/{FQDN}/config/network")]
    routes = [c["route"] for c in cluster["config"]["network"]["interfaces"][0]["cloudRoutes"]]
    assert sorted(routes) == ["10.99.0.0/16", "172.16.0.0/16", "172.20.0.0/16"]


def test_update_heartbeat_port_rewrites_both_heartbeats(world: World, deployed: Deployed) -> None:
    new = {**deployed.props, "HeartbeatPort": "9100"}
    start = len(world.stub.requests)
    world.cluster("Update", new, old=deployed.props, physical=deployed.fqdn)
    assert calls(world, start, writes_only=True) == [("PUT", f"/node/{u}/config/cluster") for u in deployed.uids]
    assert {world.stub.nodes[u]["config"]["cluster"]["port"] for u in deployed.uids} == {9100}


def test_update_heartbeat_to_wan_uses_the_wan_ips(world: World, deployed: Deployed) -> None:
    new = {**deployed.props, "HeartbeatInterface": "WAN"}
    world.cluster("Update", new, old=deployed.props, physical=deployed.fqdn)
    assert [world.stub.nodes[m["Uid"]]["config"]["cluster"]["host"] for m in deployed.members] == [
        m["WanIp"] for m in deployed.members
    ]


def test_update_replaced_gateway_swaps_the_member_and_never_moves_the_active_role(
    world: World, deployed: Deployed
) -> None:
    a, b = deployed.uids
    world.stub.fail_over(FQDN)  # a failover happened: the secondary holds the role now
    c = world.license("Create", "prod-gw-c", 2)["PhysicalResourceId"]
    replacement = {**world.member(c, "prod-gw-c", 0)}
    register(world, replacement)
    new = {**deployed.props, "Members": [replacement, deployed.members[1]]}
    start = len(world.stub.requests)

    world.cluster("Update", new, old=deployed.props, physical=deployed.fqdn)

    writes = calls(world, start, writes_only=True)
    assert writes == [
        ("PUT", f"/node/{c}/config/gateway"),  # the new node becomes a gateway while the pair still serves
        ("PUT", f"/node/{a}"),
        ("PUT", f"/node/{c}"),
        ("PUT", f"/node/{c}/config/cluster"),
        ("PUT", f"/cluster/{FQDN}/active/{b}"),  # the configured member left: the one holding the role is configured
    ]
    state = world.stub.snapshot()
    assert state["nodes"][a]["cluster"] is None
    assert state["nodes"][c]["cluster"] == FQDN
    assert state["clusters"][FQDN]["role"] == b, "the role stays where the failover put it"


def test_update_failback_mode(world: World, deployed: Deployed) -> None:
    new = {**deployed.props, "FailbackMode": "manualFailback"}
    start = len(world.stub.requests)
    world.cluster("Update", new, old=deployed.props, physical=deployed.fqdn)
    assert calls(world, start, writes_only=True) == [("PUT", f"/cluster/{FQDN}")]
    assert world.stub.clusters[FQDN]["mode"] == "manualFailback"


def test_delete_removes_members_then_the_cluster(world: World, deployed: Deployed) -> None:
    start = len(world.stub.requests)
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    a, b = deployed.uids
    assert calls(world, start, writes_only=True) == [
        ("PUT", f"/node/{a}"),
        ("PUT", f"/node/{b}"),
        ("DELETE", f"/cluster/{FQDN}"),
    ]
    assert (world.stub.requests[start].method, world.stub.requests[start].path) == ("GET", f"/cluster/{FQDN}")
    assert world.stub.clusters == {}
    assert all(n.get("cluster") is None for n in world.stub.nodes.values())


def test_delete_succeeds_when_everything_was_removed_by_hand(world: World, deployed: Deployed) -> None:
    del world.stub.clusters[FQDN]
    del world.stub.nodes[deployed.uids[0]]
    world.stub.nodes[deployed.uids[1]].pop("cluster")
    world.cluster("Delete", deployed.props, physical=deployed.fqdn)
    assert world.stub.clusters == {}
