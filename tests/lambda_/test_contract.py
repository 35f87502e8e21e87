"""The contract shared by the construct and the handler: encoding both ways, strict and lenient parsing."""

from __future__ import annotations

import pytest

from tests.lambda_.conftest import Deployed, World
from trustgrid_ha_runtime.contract import (
    CLUSTER_TYPE,
    ClusterProperties,
    FailbackMode,
    HeartbeatInterface,
    LicenseProperties,
    MemberProperties,
    PropertyError,
    TunnelProperties,
)
from trustgrid_ha_runtime.handler import handle_event

MEMBERS = tuple(
    MemberProperties(
        f"uid-{i}", f"gw-{i}", f"eni-{i}", f"10.0.{i}.5", f"10.0.{i + 10}.5", f"198.51.100.{i}", f"subnet-{i}"
    )
    for i in (1, 2)
)


def test_properties_survive_the_round_trip_through_cloudformations_strings() -> None:
    spec = ClusterProperties(
        name="prod-gw",
        members=MEMBERS,
        edge_cidrs=("172.16.0.0/16",),
        route_table_ids=("rtb-0123456789abcdef0",),
        lan_interface_name="ens6",
        lan_interface_override=True,
        heartbeat_interface=HeartbeatInterface.WAN,
        heartbeat_port=9100,
        tunnel=TunnelProperties(port=9443, udp=False, max_ingress_mbps=300),
        failback_mode=FailbackMode.MANUAL,
        verify_routes=False,
        wait_timeout_seconds=1200,
    )
    properties = spec.to_properties()
    assert all(isinstance(v, (str, list)) for v in properties.values()), "CloudFormation hands over strings"
    assert ClusterProperties.parse(properties) == spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"HeartbeatPort": "8443"}, "HeartbeatPort=8443 is invalid: port 8443 is the tunnel port"),
        ({"HeartbeatPort": "9443", "TunnelPort": "9443"}, "port 9443 is the tunnel port"),
        ({"HeartbeatPort": "nine"}, "HeartbeatPort must be a whole number"),
        ({"ClusterName": "Bad_Name"}, "ClusterName='Bad_Name' is invalid"),
        ({"EdgeCidrs": ["0.0.0.0/0"]}, "default route"),
        ({"EdgeCidrs": []}, "EdgeCidrs must list at least one CIDR"),
        ({"RouteTableIds": ["rt-1"]}, "RouteTableIds='rt-1' is invalid"),
        ({"WaitTimeoutSeconds": "9999"}, "between 1 and 50 minutes"),
        ({"FailbackMode": "sometimes"}, "FailbackMode must be one of autoFailback, manualFailback"),
        ({"TunnelUdp": "maybe"}, "TunnelUdp must be true or false"),
        ({"MaxIngressMbps": "0"}, "Mbit/s"),
        ({"Members": []}, "exactly two gateways"),
    ],
)
def test_a_new_request_is_parsed_strictly_with_the_constructs_rules(change: dict, message: str) -> None:
    properties = {**ClusterProperties("prod-gw", MEMBERS, ("172.16.0.0/16",), (), "ens6").to_properties(), **change}
    with pytest.raises(PropertyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ClusterProperties.parse(properties)


def test_a_value_that_was_a_token_at_synth_is_refused_at_deploy_before_any_write(
    world: World, deployed: Deployed
) -> None:
    start = len(world.stub.requests)
    bad = {**deployed.props, "ClusterName": "Prod GW"}  # a CfnParameter resolved to a bad name
    with pytest.raises(PropertyError, match="ClusterName"):
        handle_event(
            {"RequestType": "Create", "ResourceType": CLUSTER_TYPE, "ResourceProperties": bad}, world.runtime()
        )
    assert world.stub.requests[start:] == []


def first_version(props: dict) -> dict:
    """The properties as version 0.1.0 of this library wrote them."""
    old = {k: v for k, v in props.items() if k not in ("ContractVersion", "TunnelPort", "TunnelUdp", "MaxIngressMbps",
                                                         "MaxClientWriteMbps", "LanInterfaceOverride")}  # fmt: skip
    old["Members"] = [{k: v for k, v in m.items() if k != "PublicIp"} for m in props["Members"]]
    return old


def test_old_properties_parse_leniently_and_say_they_are_old(deployed: Deployed) -> None:
    old = ClusterProperties.parse(first_version(deployed.props), strict=False)
    assert old.version is None and old.members[0].public_ip is None
    assert old.tunnel == TunnelProperties()  # the defaults of the time
    with pytest.raises(PropertyError, match="PublicIp is missing"):
        ClusterProperties.parse(first_version(deployed.props))


def test_a_delete_of_a_cluster_made_by_the_first_version_works(world: World, deployed: Deployed) -> None:
    world.cluster("Delete", first_version(deployed.props), physical=deployed.fqdn)
    assert world.stub.clusters == {}


def test_a_license_delete_of_the_first_version_works(world: World) -> None:
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    props = {"NodeName": "prod-gw-a", "LicenseSecretArn": world.license_secrets[0], "Source": "mint"}
    handle_event(
        {"RequestType": "Delete", "ResourceType": "Custom::TrustgridNodeLicense", "ResourceProperties": props,
         "PhysicalResourceId": uid, "StackId": world.stack_id},
        world.runtime(),
    )  # fmt: skip
    assert LicenseProperties.parse(props, strict=False).version is None
