"""Faults, interruptions and permanent failures of the cluster create, and secret hygiene."""

from __future__ import annotations

import pytest
import urllib3

from tests.lambda_.conftest import World, mint_and_register
from tests.lambda_.trustgrid_stub import DROP, Fault, error, slow
from trustgrid_ha_runtime.api import ApiError

FQDN = "prod-gw.acme.trustgrid.io"
CREATE_ENDPOINTS = [
    "org",
    "get_node",
    "put_gateway",
    "get_cluster",
    "create_cluster",
    "put_node",
    "put_heartbeat",
    "put_cluster_network",
    "set_active",
]
FAULTS = {
    "500": error(500),
    "503": error(503),
    "429": error(429, retry_after="0"),
    "slow": slow(0.6),  # longer than the client's 0.4 s read timeout; the API still acts
    "drop": DROP,
}


def expected_state(world: World, members: list[dict[str, str]]) -> dict:
    """The state a clean create of ``members`` leaves, spelled out."""
    mark = "managed by trustgrid-ha-cluster"
    return {
        "clusters": {
            FQDN: {
                "name": "prod-gw",
                "fqdn": FQDN,
                "mode": "autoFailback",
                "health": "healthy",
                "configured": members[0]["Uid"],
                "role": members[0]["Uid"],
                "tags": {"trustgrid-ha-cluster-owner": world.owner},
                "config": {
                    "network": {
                        "interfaces": [
                            {
                                "nic": "ens6",
                                "routes": [
                                    {
                                        "route": "10.0.2.0/24",
                                        "next": "10.0.1.1",
                                        "description": f"{mark}: heartbeat over the LAN",
                                    },
                                    {
                                        "route": "10.0.1.0/24",
                                        "next": "10.0.2.1",
                                        "description": f"{mark}: heartbeat over the LAN",
                                    },
                                ],
                                "cloudRoutes": [{"route": "172.16.0.0/16", "description": f"{mark}: edge CIDR"}],
                                "clusterRouteTables": world.route_tables,
                            }
                        ]
                    }
                },
            }
        },
        "nodes": {
            m["Uid"]: {
                "cluster": FQDN,
                "heartbeat": {"enabled": True, "host": m["LanIp"], "port": 9000},
                "gateway": {
                    "enabled": True,
                    "type": "public",
                    "host": m["PublicIp"],
                    "port": 8443,
                    "udpEnabled": True,
                    "udpPort": 8443,
                },
            }
            for m in members
        },
    }


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_create_call_survives_each_transient_fault(endpoint: str, fault: str, world: World) -> None:
    world.stub.inject(endpoint, FAULTS[fault], FAULTS[fault])  # before the licenses: they ask for the org first
    members = mint_and_register(world)
    world.cluster("Create", world.cluster_props(members))
    assert [r.fault for r in world.stub.requests if r.fault] == [FAULTS[fault].kind] * 2
    assert world.stub.snapshot() == expected_state(world, members)


class Interrupted(BaseException):
    """The Lambda process dies: no cleanup code runs."""


class DiesAfter(urllib3.PoolManager):
    """Lets ``n`` writes through, then kills the invocation as the (n+1)th write is sent."""

    def __init__(self, writes: int) -> None:
        super().__init__(retries=False)
        self.left = writes

    def request(self, method: str, url: str, **kwargs):  # type: ignore[override]
        if method != "GET":
            if self.left == 0:
                raise Interrupted()
            self.left -= 1
        return super().request(method, url, **kwargs)


CREATE_WRITES = 9  # two gateway services, the cluster, two members, two heartbeats, network, active member


@pytest.mark.parametrize("writes_before_interruption", range(CREATE_WRITES))
def test_create_repeated_after_an_interruption_converges(writes_before_interruption: int, world: World) -> None:
    members = mint_and_register(world)
    props = world.cluster_props(members)
    world.http = DiesAfter(writes_before_interruption)
    with pytest.raises(Interrupted):
        world.cluster("Create", props)
    world.http = None  # CloudFormation retries the deployment
    world.cluster("Create", props)
    assert world.stub.snapshot() == expected_state(world, members)


def test_unauthorized_fails_clearly_and_creates_nothing(world: World) -> None:
    members = mint_and_register(world)
    with pytest.raises(ApiError) as failure:
        world.cluster("Create", world.cluster_props(members), runtime=world.runtime(key_secret="wrong"))
    message = str(failure.value)
    assert "HTTP 401" in message and "API key was refused" in message
    assert "wrong" not in message and world.stub.key_secret not in message
    assert world.stub.clusters == {}


def test_validation_error_fails_with_its_messages_and_leaves_nothing(world: World) -> None:
    members = mint_and_register(world)
    world.stub.inject("put_heartbeat", Fault("status", status=422))
    props = world.cluster_props(members)
    with pytest.raises(ApiError) as failure:
        world.cluster("Create", props)
    message = str(failure.value)
    assert "set cluster heartbeat" in message and "HTTP 422" in message and "injected fault" in message
    world.cluster("Delete", props, physical=FQDN)  # the Delete CloudFormation sends after a failed create
    assert world.stub.clusters == {}
    assert all(n.get("cluster") is None for n in world.stub.nodes.values())


def test_secrets_and_licenses_never_reach_logs_or_errors(world: World) -> None:
    members = mint_and_register(world)
    world.stub.inject("put_cluster_network", Fault("status", status=422))
    with pytest.raises(ApiError) as failure:
        world.cluster("Create", world.cluster_props(members))
    text = world.log_text() + str(failure.value)
    assert world.stub.licenses, "licenses were minted"
    for secret in [world.stub.key_secret, *world.stub.licenses.values()]:
        assert secret not in text
    assert "trustgrid-token" not in text
    assert all(isinstance(line, dict) and "event" in line for line in world.log_lines())


def test_an_outage_during_one_poll_does_not_fail_the_create(world: World) -> None:
    members = mint_and_register(world)
    world.stub.inject("get_node", *[error(503)] * 6)  # more than one invocation's retries: the whole poll fails
    world.cluster("Create", world.cluster_props(members))
    assert world.stub.snapshot() == expected_state(world, members)
    assert any(line["event"] == "api.unavailable_for_now" for line in world.log_lines())


def test_an_outage_that_outlasts_the_deadline_fails_clearly(world: World) -> None:
    members = mint_and_register(world)
    world.stub.inject("get_node", *[error(503)] * 60)
    with pytest.raises(ApiError, match="still failing after"):
        world.cluster("Create", world.cluster_props(members, WaitTimeoutSeconds="60"), max_polls=5)
