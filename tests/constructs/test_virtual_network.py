"""The construct with a virtual network and a private gateway: what it synthesizes, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from tests.contract_check import parse_every_custom_resource
from trustgrid_ha import (
    AccessPolicy,
    GatewayType,
    Nat,
    TrustgridConfigError,
    TrustgridHaCluster,
    VirtualNetwork,
    VpnRoute,
)

NETWORK = VirtualNetwork(
    name="corp-vnet",
    route="100.64.10.0/24",
    inside_nats=(Nat("100.64.10.0/24", "10.0.0.0/24", "vpc"),),
    outside_nats=(Nat("100.64.20.0/24", "172.16.0.0/24", proxy_arp=True),),
    routes=(VpnRoute("100.64.30.0/24", metric=5),),
    publish=True,
    access_policies=(AccessPolicy("100.64.20.0/24", "100.64.10.0/24", protocol="tcp", ports="443"),),
)


def build(**settings: Any) -> TrustgridHaCluster:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    keywords: dict[str, Any] = {"cluster_name": "prod-gw", "api_secret": api, "edge_cidrs": ["172.16.0.0/24"]}
    return TrustgridHaCluster(stack, "Gw", **{**keywords, **settings})


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    cluster = build(virtual_network=NETWORK, gateway_type=GatewayType.PRIVATE, gateway_clients=["branch-01"])
    return Template.from_stack(Stack.of(cluster)).to_json()


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_the_attachment_is_a_resource_of_its_own_after_the_cluster_and_before_the_protection(
    template: dict[str, Any],
) -> None:
    (logical, resource), = of_type(template, "Custom::TrustgridVirtualNetwork").items()  # fmt: skip
    (cluster_id,) = of_type(template, "Custom::TrustgridCluster")
    properties = resource["Properties"]
    assert properties["ClusterFqdn"] == {"Fn::GetAtt": [cluster_id, "ClusterFqdn"]}
    assert (properties["NetworkName"], properties["Route"], properties["Publish"]) == ("corp-vnet", "100.64.10.0/24",
                                                                                       "true")  # fmt: skip
    assert properties["InsideNats"] == [
        {"NetworkCidr": "100.64.10.0/24", "LocalCidr": "10.0.0.0/24", "Description": "vpc", "ProxyArp": "false"}
    ]
    assert properties["Routes"] == [{"NetworkCidr": "100.64.30.0/24", "Node": "", "Metric": "5", "Description": ""}]
    assert cluster_id in resource["DependsOn"]  # a stack delete removes it before the cluster
    (protection,) = of_type(template, "Custom::TrustgridProtection").values()
    assert logical in protection["DependsOn"]
    counts = parse_every_custom_resource(template)  # the handler's strict parse accepts what the construct wrote
    assert counts["Custom::TrustgridVirtualNetwork"] == 1


def test_the_gateways_are_private_with_their_clients_and_the_check_watches_the_attachment(
    template: dict[str, Any],
) -> None:
    (cluster,) = of_type(template, "Custom::TrustgridCluster").values()
    properties = cluster["Properties"]
    assert (properties["GatewayType"], properties["GatewayClients"]) == ("private", ["branch-01"])
    (rule,) = of_type(template, "AWS::Events::Rule").values()
    assert '"network":"corp-vnet"' in str(rule["Properties"]["Targets"][0]["Input"])
    alarms = [a["Properties"]["MetricName"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()]
    assert "VirtualNetworkAttached" in alarms


@pytest.mark.parametrize(
    ("settings", "setting", "fix"),
    [
        ({"gateway_type": GatewayType.PRIVATE}, "gateway_clients", "name at least one"),
        ({"gateway_clients": ["branch-01"]}, "gateway_clients", "a public gateway accepts every node"),
        ({"gateway_type": GatewayType.PRIVATE, "gateway_clients": ["Branch 1"]}, "gateway_clients[0]", "node or"),
        (
            {
                "virtual_network": VirtualNetwork(
                    "corp-vnet", "100.64.10.0/24", inside_nats=(Nat("100.64.10.0/24", "10.0.0.0/25"),)
                )
            },
            "virtual_network.insideNats[0].networkCidr",
            "same prefix length",
        ),
        (
            {
                "virtual_network": VirtualNetwork(
                    "corp-vnet", "100.64.10.0/24", in_default_route=True, out_default_route=True
                )
            },
            "virtual_network.outDefaultRoute",
            "mutually exclusive",
        ),
        ({"virtual_network": VirtualNetwork("corp vnet", "100.64.10.0/24")}, "virtual_network.name", "existing"),
        ({"virtual_network": VirtualNetwork("corp-vnet", "not a cidr")}, "virtual_network.route", "CIDR"),
        (
            {
                "virtual_network": VirtualNetwork(
                    "corp-vnet", "100.64.10.0/24", routes=(VpnRoute("10.9.0.0/16", metric=500),)
                )
            },
            "virtual_network.routes[0].metric",
            "1 to 200",
        ),
        ({"virtual_network": VirtualNetwork("corp-vnet", "172.16.0.0/16")}, "edge_cidrs[0]", "own virtual subnet"),
        (
            {
                "virtual_network": VirtualNetwork(
                    "corp-vnet", "100.64.10.0/24", inside_nats=(Nat("100.64.10.0/24", "172.16.0.0/24"),)
                )
            },
            "edge_cidrs[0]",
            "local side of an inside NAT",
        ),
        ({"virtual_network": "corp-vnet"}, "virtual_network", "trustgrid_ha.VirtualNetwork"),
    ],
)
def test_what_cannot_route_is_refused_under_its_keyword(settings: dict[str, Any], setting: str, fix: str) -> None:
    with pytest.raises(TrustgridConfigError) as refused:
        build(**settings)
    found = {p.setting: p.fix for p in refused.value.problems}
    assert setting in found, found
    assert fix in found[setting]
