"""Trustgrid as it really behaves: late registration, the gateway service, interface names, server fields."""

from __future__ import annotations

import pytest

from tests.lambda_.conftest import Deployed, World, mint, mint_and_register, register
from tests.lambda_.trustgrid_stub import SERVER_HEARTBEAT_FIELDS
from trustgrid_ha_runtime.cluster import InterfaceMismatch
from trustgrid_ha_runtime.contract import FIRST_BOOT_LOG

FQDN = "prod-gw.acme.trustgrid.io"


def waits(world: World) -> list[dict[str, str]]:
    """The node states of every waiting poll, as the handler logged them."""
    return [
        {n["node"]: n["state"] for n in line["nodes"]} | {"seconds_left": line["seconds_left"]}
        for line in world.log_lines()
        if line["event"] == "cluster.waiting_for_nodes"
    ]


def test_create_waits_while_both_nodes_register_late_at_different_polls(world: World) -> None:
    a, b = mint(world)
    register(world, a, register_in=2, online_in=1)  # registers at the 3rd poll, online one poll later
    register(world, b, register_in=4)  # registers (online) at the 5th poll
    start = len(world.stub.requests)

    world.cluster("Create", world.cluster_props([a, b]), max_polls=8)

    assert waits(world) == [
        {"prod-gw-a": "not registered", "prod-gw-b": "not registered", "seconds_left": 600},
        {"prod-gw-a": "not registered", "prod-gw-b": "not registered", "seconds_left": 570},
        {"prod-gw-a": "registered, offline", "prod-gw-b": "not registered", "seconds_left": 540},
        {"prod-gw-a": "online", "prod-gw-b": "not registered", "seconds_left": 510},
    ]
    polls = world.stub.requests[start:]
    first_write = next(i for i, r in enumerate(polls) if r.write)
    assert [r.status for r in polls[:first_write] if r.path.startswith("/node/")].count(404) == 6
    assert world.stub.snapshot()["clusters"][FQDN]["health"] == "healthy"


@pytest.mark.parametrize(
    ("boot", "state", "advice"),
    [
        ({"register_in": 99}, "not registered", FIRST_BOOT_LOG),
        ({"register_in": 1, "online_in": 99}, "registered, offline", "registered but is not connected"),
    ],
)
def test_a_node_that_never_comes_online_times_out_saying_how_far_it_came(
    world: World, boot: dict[str, int], state: str, advice: str
) -> None:
    a, b = mint(world)
    register(world, a)
    register(world, b, **boot)
    with pytest.raises(RuntimeError) as failure:
        world.cluster("Create", world.cluster_props([a, b], WaitTimeoutSeconds="60"), max_polls=5)
    message = str(failure.value)
    assert f"prod-gw-b (node {b['Uid']}) is {state}" in message
    assert advice in message
    assert "prod-gw-a" not in message, "the node that came online is not blamed"
    assert world.stub.clusters == {}
    assert [r.path for r in world.stub.writes() if r.status == 200] == [], "nothing was configured"


def test_gateway_service_keeps_portal_fields_and_sends_only_documented_ones(world: World) -> None:
    members = mint_and_register(world)
    portal = {"enabled": False, "cert": "gw.example.com", "clients": [{"name": "edge-1", "enabled": True}]}
    world.stub.nodes[members[0]["Uid"]]["config"]["gateway"] = dict(portal, unknownServerThing=1)
    world.cluster("Create", world.cluster_props(members, TunnelPort="9443", TunnelUdp="false", MaxIngressMbps="500"))
    (body,) = [r.body for r in world.stub.writes() if r.path == f"/node/{members[0]['Uid']}/config/gateway"]
    assert body == {
        "enabled": True,
        "cert": "gw.example.com",
        "clients": [{"name": "edge-1", "enabled": True}],
        "type": "public",
        "host": members[0]["PublicIp"],
        "port": 9443,
        "udpEnabled": False,
        "udpPort": 9443,
        "maxmbps": 500,
    }


@pytest.mark.parametrize("mode", ["autoFailback", "manualFailback"])
@pytest.mark.parametrize("failed_over", [False, True])
def test_a_gateway_service_change_rolls_one_member_at_a_time_and_hands_the_role_over_first(
    world: World, deployed: Deployed, mode: str, failed_over: bool
) -> None:
    a, b = deployed.uids
    props = {**deployed.props, "FailbackMode": mode}
    world.cluster("Update", props, old=deployed.props, physical=deployed.fqdn)
    if failed_over:  # the primary went down and came back: in manualFailback mode the secondary keeps the role
        world.stub.set_online(a, False)
        world.between_polls()
        world.stub.set_online(a, True)
        world.between_polls()
        assert world.stub.configured(FQDN) == a, "the configured flag still names the primary"
    holder, standby = (b, a) if failed_over and mode == "manualFailback" else (a, b)
    assert world.stub.clusters[FQDN]["active"] == holder
    world.stub.role_moves.clear()
    world.stub.most_members_down[FQDN] = 0
    start = len(world.stub.requests)

    world.cluster("Update", {**props, "TunnelPort": "9443"}, old=props, physical=deployed.fqdn)

    writes = [r.path for r in world.stub.requests[start:] if r.write]
    assert writes == [
        f"/node/{standby}/config/gateway",  # the member that does not carry the traffic first
        f"/cluster/{FQDN}/active/{standby}",  # then a graceful hand-over to it
        f"/node/{holder}/config/gateway",  # and only once it holds the role and the routes: the other
    ]
    assert world.stub.role_moves[FQDN] == [("graceful", holder, standby)], "one move, graceful"
    assert world.stub.ungraceful_failovers(FQDN) == 0
    assert world.stub.most_members_down[FQDN] == 1, "never both gateways restarting at once"
    assert {world.stub.nodes[u]["config"]["gateway"]["port"] for u in deployed.uids} == {9443}


def test_no_op_update_makes_zero_writes_to_the_gateway_service(world: World, deployed: Deployed) -> None:
    start = len(world.stub.requests)
    world.cluster("Update", deployed.props, old=deployed.props, physical=deployed.fqdn)
    assert world.stub.requests[start:] == []


def test_an_update_from_a_stack_of_the_first_version_writes_only_what_differs(world: World, deployed: Deployed) -> None:
    old = {k: v for k, v in deployed.props.items() if k not in ("ContractVersion", "TunnelPort", "TunnelUdp")}
    old["Members"] = [{k: v for k, v in m.items() if k != "PublicIp"} for m in deployed.members]
    start = len(world.stub.requests)
    world.cluster("Update", deployed.props, old=old, physical=deployed.fqdn)
    assert [r for r in world.stub.requests[start:] if r.write] == []


def test_heartbeat_writes_never_send_the_servers_fields(world: World, deployed: Deployed) -> None:
    for uid in deployed.uids:  # what the server keeps on its own
        assert set(world.stub.nodes[uid]["config"]["cluster"]) >= SERVER_HEARTBEAT_FIELDS
        world.stub.nodes[uid]["config"]["cluster"]["statusPort"] = 9001  # set in the portal
    start = len(world.stub.requests)
    world.cluster("Update", {**deployed.props, "HeartbeatPort": "9100"}, old=deployed.props, physical=deployed.fqdn)
    bodies = [r.body for r in world.stub.requests[start:] if r.write]
    assert len(bodies) == 2
    for body in bodies:
        assert not set(body) & SERVER_HEARTBEAT_FIELDS
        assert body["port"] == 9100 and body["statusPort"] == 9001


def test_the_lan_interface_name_the_nodes_report_beats_the_table(world: World) -> None:
    members = mint(world)
    for member in members:
        world.stub.register(member["Uid"], lan_nic="enp40s0")
        world.stub.lan_enis[member["Uid"]] = member["LanEniId"]
    world.cluster("Create", world.cluster_props(members))  # the table said ens6
    (lan,) = world.stub.clusters[FQDN]["config"]["network"]["interfaces"]
    assert lan["nic"] == "enp40s0"


def test_an_override_that_disagrees_with_the_nodes_fails_naming_both(world: World) -> None:
    members = mint(world)
    for member in members:
        world.stub.register(member["Uid"], lan_nic="enp40s0")
    props = world.cluster_props(members, LanInterfaceName="eth1", LanInterfaceOverride="true")
    with pytest.raises(InterfaceMismatch) as failure:
        world.cluster("Create", props)
    assert "'eth1'" in str(failure.value) and "'enp40s0'" in str(failure.value)
    assert not any(r.path.endswith("/config/network") for r in world.stub.writes())


def test_nodes_without_device_information_use_the_table(world: World) -> None:
    members = mint(world)
    for member in members:
        world.stub.register(member["Uid"], lan_nic=None)
        world.stub.lan_enis[member["Uid"]] = member["LanEniId"]
    world.cluster("Create", world.cluster_props(members))
    assert world.stub.clusters[FQDN]["config"]["network"]["interfaces"][0]["nic"] == "ens6"


def test_the_stand_in_refuses_writes_of_server_managed_fields(world: World, deployed: Deployed) -> None:
    client = world.runtime().api()
    from trustgrid_ha_runtime.api import ApiError

    for write in (
        lambda: client.update_cluster(FQDN, {"mode": "manualFailback", "health": "healthy"}),
        lambda: client.update_cluster(FQDN, {"tgrn": "x"}),
        lambda: client.set_heartbeat(deployed.uids[0], {"enabled": True, "host": "10.0.1.9", "port": 1, "shared": ""}),
        lambda: client.set_gateway(deployed.uids[0], {"enabled": True, "type": "public", "bogus": 1}),
    ):
        with pytest.raises(ApiError, match="HTTP 422"):
            write()
