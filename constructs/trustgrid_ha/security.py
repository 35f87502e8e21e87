"""The cluster's security groups: WAN, LAN and heartbeat, each rule with its reason."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from trustgrid_ha_runtime.contract import GatewayType

from .config import ClusterConfig
from .nag import acknowledge

CONTROL_PLANE_PORTS = (443, 8443)


def peer(cidr: str) -> ec2.IPeer:
    return ec2.Peer.ipv6(cidr) if ":" in cidr else ec2.Peer.ipv4(cidr)


def wan_security_group(scope: Construct, vpc: ec2.IVpc, config: ClusterConfig) -> ec2.SecurityGroup:
    """Tunnels in from the edge sites; out only what first boot and the node need."""
    group = ec2.SecurityGroup(
        scope, "WanSecurityGroup", vpc=vpc, allow_all_outbound=False,
        description=f"Trustgrid {config.cluster_name} WAN: tunnels in; control plane, AWS APIs, mirrors out",
    )  # fmt: skip
    tunnels = [("TCP", ec2.Port.tcp(config.tunnel_port))]
    if config.tunnel_udp:
        tunnels.append(("UDP", ec2.Port.udp(config.tunnel_port)))
    private = config.gateway_type is GatewayType.PRIVATE
    who = f"the private gateway's clients ({', '.join(config.gateway_clients)})" if private else "edge nodes"
    for cidr in config.edge_source_cidrs:
        for protocol, port in tunnels:
            group.add_ingress_rule(peer(cidr), port, f"Trustgrid tunnels from {who} ({protocol})"[:255])
    if any(cidr in ("0.0.0.0/0", "::/0") for cidr in config.edge_source_cidrs):
        acknowledge(
            group,
            "Edge sites connect to the gateways' tunnel port from addresses that are not known in advance, as "
            "Trustgrid documents for gateways; narrow edge_source_cidrs when they are known.",
            "AwsSolutions-EC23",
        )
    egress = [
        *(
            (cidr, ec2.Port.tcp(number), f"Trustgrid control plane (TCP {number})")
            for cidr in config.control_plane_cidrs
            for number in CONTROL_PLANE_PORTS
        ),
        *(
            (cidr, ec2.Port.tcp(443), "AWS APIs (route failover, license at first boot), enroll endpoint")
            for cidr in config.https_egress_cidrs
        ),
        *(
            (cidr, ec2.Port.tcp(80), "Ubuntu package mirrors (first-boot package install)")
            for cidr in config.package_mirror_cidrs
        ),
        *(
            (cidr, port, f"DNS to the configured DNS servers ({protocol})")
            for cidr in config.dns_server_cidrs
            for protocol, port in (("TCP", ec2.Port.tcp(53)), ("UDP", ec2.Port.udp(53)))
        ),
    ]
    for cidr, port, reason in egress:
        group.add_egress_rule(peer(cidr), port, reason)
    return group


def lan_security_group(
    scope: Construct, vpc: ec2.IVpc, config: ClusterConfig, lan_cidrs: list[str]
) -> ec2.SecurityGroup:
    """Traffic between the LAN-side networks and the edge sites, through the gateways."""
    anywhere = "0.0.0.0/0" in lan_cidrs  # all traffic out to anywhere is a group's own switch, not a rule
    group = ec2.SecurityGroup(
        scope, "LanSecurityGroup", vpc=vpc, allow_all_outbound=anywhere,
        description=f"Trustgrid {config.cluster_name} LAN: traffic between LAN-side networks and edge sites",
    )  # fmt: skip
    for cidr in lan_cidrs:
        group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.all_traffic(), "LAN-side networks")
        if not anywhere:
            group.add_egress_rule(ec2.Peer.ipv4(cidr), ec2.Port.all_traffic(), "LAN-side networks")
    return group


def heartbeat_security_group(scope: Construct, vpc: ec2.IVpc, config: ClusterConfig) -> ec2.SecurityGroup:
    """The members' TCP heartbeat, in and out, between members of this group only."""
    group = ec2.SecurityGroup(
        scope, "HeartbeatSecurityGroup", vpc=vpc, allow_all_outbound=False,
        description=f"Trustgrid {config.cluster_name} heartbeat between the two members only",
    )  # fmt: skip
    heartbeat = ec2.Port.tcp(config.heartbeat_port)
    group.add_ingress_rule(group, heartbeat, "Cluster heartbeat")
    group.add_egress_rule(group, heartbeat, "Cluster heartbeat")
    return group
