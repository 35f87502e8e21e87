"""The contract shared by the construct and the handler: encoding both ways, strict and lenient parsing."""

from __future__ import annotations

import collections.abc
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import fields

import pytest

from tests.lambda_.conftest import Deployed, World
from trustgrid_ha_runtime.contract import (
    CLUSTER_RULES,
    CLUSTER_TYPE,
    DEFAULT_TUNNEL_PORT,
    PROPERTY_STRUCTS,
    AccessPolicyProperties,
    ClusterProperties,
    FailbackMode,
    GateProperties,
    GatewayType,
    GuardedGateway,
    GuardProperties,
    HeartbeatInterface,
    ImageProperties,
    LicenseProperties,
    LicenseSource,
    MemberProperties,
    NatProperties,
    PropertyError,
    ProtectionProperties,
    SeatProperties,
    SwapProperties,
    VirtualNetworkProperties,
    VpnRouteProperties,
    property_names,
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
        tunnel_port=9443,
        tunnel_udp=False,
        max_ingress_mbps=300,
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
        ({"EdgeCidrs": []}, "EdgeCidrs=() is invalid: give at least one CIDR"),
        ({"RouteTableIds": ["rt-1"]}, "RouteTableIds='rt-1' is invalid"),
        ({"WaitTimeoutSeconds": "9999"}, "between 1 and 50 minutes"),
        ({"FailbackMode": "sometimes"}, "FailbackMode must be one of autoFailback, manualFailback"),
        ({"TunnelUdp": "maybe"}, "TunnelUdp must be true or false"),
        ({"MaxIngressMbps": "0"}, "Mbit/s"),
        ({"Members": []}, "exactly two gateways"),
        ({"EdgeCidrs": ["fd00::/8"]}, "EdgeCidrs='fd00::/8' is invalid: IPv6 is not supported"),
        ({"EdgeCidrs": ["172.16.0.0/16", "172.16.4.0/24"]}, "EdgeCidrs[1]='172.16.4.0/24' is invalid: it overlaps"),
        ({"TunnelPort": "22"}, "TunnelPort=22 is invalid: port 22 is the appliance's SSH port"),
        ({"Members": [MEMBERS[0].to_properties()] * 2}, "it names one node twice"),
        ({"Members": [MEMBERS[0].to_properties(), {**MEMBERS[1].to_properties(), "Name": "B"}]}, "Members[1].Name="),
    ],
)
def test_a_new_request_is_parsed_strictly_with_the_constructs_rules(change: dict, message: str) -> None:
    properties = {**ClusterProperties("prod-gw", MEMBERS, ("172.16.0.0/16",), (), "ens6").to_properties(), **change}
    with pytest.raises(PropertyError, match=re.escape(message)):
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
    assert old.tunnel == (DEFAULT_TUNNEL_PORT, True, None, None, GatewayType.PUBLIC, ())  # the defaults of the time
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


EXAMPLES = {
    ClusterProperties: ClusterProperties(
        "prod-gw", MEMBERS, ("172.16.0.0/16",), ("rtb-0123456789abcdef0",), "ens6", max_client_write_mbps=20
    ),
    LicenseProperties: LicenseProperties("prod-gw-a", "arn:secret", LicenseSource.SECRET, remove_node_on_delete=True),
    ImageProperties: ImageProperties("679593333241", "trustgrid-*", "gen2", "2027-01"),
    GuardProperties: GuardProperties(
        "prod-gw",
        (GuardedGateway("Primary", "prod-gw-a", "gen2", "ami-1", 30, "subnet-1", "subnet-2"),),
        ("172.16.0.0/16",),
        restart={"InstanceType": "c6i.large"},
    ),
    GateProperties: GateProperties("prod-gw", "uid-1", "gw-1", "i-1", {"InstanceType": "c6i.large"}, 900, "eni-1"),
    ProtectionProperties: ProtectionProperties(("i-1", "i-2"), enabled=False),
    VirtualNetworkProperties: VirtualNetworkProperties(
        "prod-gw.acme.trustgrid.io",
        "prod-gw",
        "corp-vnet",
        "100.64.10.0/24",
        inside_nats=(NatProperties("100.64.10.0/24", "10.60.0.0/24"),),
        outside_nats=(NatProperties("100.64.20.0/24", "172.16.0.0/24", "branch", proxy_arp=True),),
        in_default_route=True,
        routes=(VpnRouteProperties("100.64.30.0/24", "prod-gw-a", 5),),
        publish=True,
        access_policies=(AccessPolicyProperties("100.64.20.0/24", "100.64.10.0/24", protocol="tcp", ports="443"),),
    ),
    SeatProperties: SeatProperties(
        "prod-gw", "prod-gw-a-1a2b3c", "eipalloc-1", "eni-1", ("172.16.0.0/16",), ("rtb-0123456789abcdef0",), False, 900
    ),
    SwapProperties: SwapProperties(
        "prod-gw",
        MEMBERS,
        ("172.16.0.0/16",),
        ("rtb-0123456789abcdef0",),
        "ens6",
        position=1,
        allocation_ids=("eipalloc-1", "eipalloc-2"),
        wan_eni_ids=("eni-1", "eni-2"),
    ),
}


@pytest.mark.parametrize("struct", list(PROPERTY_STRUCTS.values()), ids=lambda s: s.__name__)
def test_every_struct_is_declared_once_and_round_trips_with_values_of_their_real_types(struct: type) -> None:
    example = EXAMPLES[struct]
    properties = example.to_properties()
    assert list(properties) == property_names(struct)  # one wire key per field, in the order declared
    assert all(isinstance(v, (str, list, dict)) for v in properties.values()), "CloudFormation hands over strings"
    parsed = struct.parse(properties)
    assert parsed == example
    hints = typing.get_type_hints(struct)
    for spec in fields(struct):
        value, annotation = getattr(parsed, spec.name), hints[spec.name]
        expected = typing.get_origin(annotation) or annotation
        if expected in (typing.Union, types.UnionType):
            expected = tuple(a for a in typing.get_args(annotation))
        elif expected is Mapping or expected is collections.abc.Mapping:
            expected = collections.abc.Mapping
        assert isinstance(value, expected), f"{struct.__name__}.{spec.name} decoded as {value!r}"


def test_the_construct_and_the_handler_apply_the_same_rules_across_fields() -> None:
    """One tuple of rules: the construct's config reports under its keywords what the handler reports under the
    wire keys."""
    from trustgrid_ha.config import ClusterConfig
    from trustgrid_ha.errors import TrustgridConfigError

    values = {"heartbeat_port": 9443, "tunnel_port": 9443, "edge_cidrs": ("172.16.0.0/16", "172.16.4.0/24")}
    findings = [f for rule in CLUSTER_RULES for f in rule(values)]
    assert {(f.field, f.index) for f in findings} == {("heartbeat_port", None), ("edge_cidrs", 1)}
    with pytest.raises(TrustgridConfigError) as refused:
        ClusterConfig.validated(complete=False, cluster_name="prod-gw", **values)
    assert {(p.setting, p.fix) for p in refused.value.problems} == {
        (f.field + ("" if f.index is None else f"[{f.index}]"), f.fix) for f in findings
    }


def test_the_wire_format_is_the_one_deployed_stacks_hold() -> None:
    """Written out by hand (not from the declarations): renaming a wire key or changing an encoding fails here."""
    spec = ClusterProperties("prod-gw", MEMBERS, ("172.16.0.0/16",), ("rtb-0123456789abcdef0",), "ens6")
    assert spec.to_properties() == {
        "ContractVersion": "2",
        "ClusterName": "prod-gw",
        "Members": [
            {"Uid": f"uid-{i}", "Name": f"gw-{i}", "LanEniId": f"eni-{i}", "LanIp": f"10.0.{i}.5",
             "WanIp": f"10.0.{i + 10}.5", "PublicIp": f"198.51.100.{i}", "LanSubnetId": f"subnet-{i}"}
            for i in (1, 2)
        ],
        "EdgeCidrs": ["172.16.0.0/16"],
        "RouteTableIds": ["rtb-0123456789abcdef0"],
        "LanInterfaceName": "ens6",
        "LanInterfaceOverride": "false",
        "HeartbeatInterface": "LAN",
        "HeartbeatPort": "9000",
        "TunnelPort": "8443",
        "TunnelUdp": "true",
        "MaxIngressMbps": "",
        "MaxClientWriteMbps": "",
        "GatewayType": "public",
        "GatewayClients": [],
        "FailbackMode": "autoFailback",
        "VerifyHealth": "true",
        "VerifyRoutes": "true",
        "WaitTimeoutSeconds": "2700",
        "MetricsName": "",
        "OwnsRoutes": "true",
        "Predecessor": "",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"EdgeCidrs": "not a list"}, "edge_cidrs", ()),
        ({"RouteTableIds": 7}, "route_table_ids", ()),
        ({"ContractVersion": 2}, "version", 2),
        ({"ContractVersion": "0"}, "version", None),
        ({"ContractVersion": "²"}, "version", None),
    ],
)
def test_a_lenient_parse_gives_a_bad_value_its_default(change: dict, field: str, expected: object) -> None:
    base = ClusterProperties("prod-gw", MEMBERS, ("172.16.0.0/16",), (), "ens6").to_properties()
    assert getattr(ClusterProperties.parse({**base, **change}, strict=False), field) == expected


def test_members_are_required_even_leniently_and_an_empty_public_ip_is_refused_strictly() -> None:
    base = ClusterProperties("prod-gw", MEMBERS, ("172.16.0.0/16",), (), "ens6").to_properties()
    with pytest.raises(PropertyError, match="exactly two gateways"):
        ClusterProperties.parse({k: v for k, v in base.items() if k != "Members"}, strict=False)
    members = [{**base["Members"][0], "PublicIp": ""}, base["Members"][1]]
    with pytest.raises(PropertyError, match="PublicIp must be a non-empty string"):
        ClusterProperties.parse({**base, "Members": members})
    assert ClusterProperties.parse({**base, "Members": members}, strict=False).members[0].public_ip is None
