"""The L3 construct: an HA Trustgrid gateway cluster across two availability zones."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Protocol, cast

import jsii
from aws_cdk import CfnOutput, CfnResource, CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from trustgrid_ha_runtime.contract import (
    CLUSTER_TYPE,
    DEFAULT_API_URL,
    GATE_TYPE,
    GUARD_TYPE,
    IMAGE_TYPE,
    MEMBER_TYPE,
    PROTECTION_TYPE,
    SEAT_TYPE,
    VIRTUAL_NETWORK_TYPE,
    ClusterProperties,
    FailbackMode,
    GateProperties,
    GatewayType,
    GuardedGateway,
    GuardProperties,
    HeartbeatInterface,
    ImageProperties,
    MemberProperties,
    ProtectionProperties,
    SeatProperties,
    SwapProperties,
    cidrs_overlap,
)

from .config import ClusterConfig
from .errors import Problem, TrustgridConfigError, is_unresolved
from .gateway import TrustgridGateway
from .instance_types import IMAGE_NAME_PATTERNS, INTERFACE_NAMES, TRUSTGRID_AMI_OWNER, InterfaceNames, generation_of
from .monitoring import TrustgridClusterMonitoring
from .nag import acknowledge
from .provider import SERVICE_TIMEOUT, TrustgridProvider
from .regions import image_problem, region_problem
from .security import heartbeat_security_group, lan_security_group, wan_security_group
from .user_data import script_fingerprint
from .virtual_network import VirtualNetwork
from .vpc import (
    Placement,
    check_edges_outside,
    gateway_vpc,
    managed_route_tables,
    place,
    vpc_cidr_literal,
    vpc_cidr_of,
)

__all__ = ["DEFAULT_API_URL", "FailbackMode", "GatewayType", "HeartbeatInterface", "TrustgridHaCluster"]

#: The two positions of a pair, primary first: construct IDs, and the order a member swap goes in.
POSITIONS = ("Primary", "Secondary")
#: The tag of a swapping cluster's instances: the protection resource may release the protection of an instance
#: that a swap has taken out of the template (and so out of any policy naming instances).
CLUSTER_TAG = "trustgrid-ha:cluster"


def _refuse_region(scope: Construct, machine_image_id: str | None) -> None:
    """With a known region: it must exist, and without machine_image_id Trustgrid must publish its image there."""
    region = Stack.of(scope).region
    if is_unresolved(region):
        return
    if machine_image_id is not None:  # a copy of the image, in any region (one newer than this release too)
        return
    problem = region_problem(region)
    if problem is not None:
        raise TrustgridConfigError(
            "region",
            region,
            f"the stack's region: {problem} (a region newer than this release works with machine_image_id)",
        )
    problem = image_problem(region)
    if problem is not None:
        raise TrustgridConfigError("machine_image_id", None, problem)


def _refuse_foreign_topic(scope: Construct, topic: sns.ITopic | None) -> None:
    """CloudWatch alarms notify topics of their own region only."""
    region = Stack.of(scope).region
    arn = topic.topic_arn if topic is not None else None
    if arn is None or is_unresolved(region) or is_unresolved(arn) or len(arn.split(":")) < 4:
        return
    if arn.split(":")[3] != region:
        raise TrustgridConfigError(
            "alarm_topic", arn, f"CloudWatch alarms notify topics of their own region only; give a topic in {region}."
        )


class _Properties(Protocol):
    """A property struct of the contract."""

    def to_properties(self) -> dict[str, Any]: ...


@jsii.implements(ec2.IConnectable)
class TrustgridHaCluster(Construct):
    """Two Trustgrid gateways in two availability zones, configured as one HA cluster.

    It is ``ec2.IConnectable``: ``connections`` controls the LAN security group, that is, traffic between
    the LAN-side networks and the gateways' LAN interfaces (``app.connections.allow_to(cluster, port)``).
    Traffic that the VPC routes *through* the gateways to the edge CIDRs is also checked by that group: by
    default it accepts the VPC CIDR (``lan_source_cidrs``).

    Creates both gateways (WAN and LAN interfaces, Elastic IPs, IMDSv2,
    encrypted gp3 root volumes, auto-recovery alarms), the WAN, LAN and
    heartbeat security groups, one instance role that may rewrite exactly the
    managed route tables, and custom resources that mint the node licenses,
    resolve the vendor AMI once and configure the cluster through the Trustgrid
    API: each member's gateway service, members, heartbeat, LAN routes and the
    AWS route-table entries for the edge CIDRs, which the active member then owns.

    With ``virtual_network`` it also attaches the cluster to a Trustgrid virtual network, so that traffic flows
    end to end; without it, edge traffic needs the VPN configuration made in the Trustgrid portal.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str,
        api_secret: secretsmanager.ISecret,
        edge_cidrs: Sequence[str],
        vpc: ec2.IVpc | None = None,
        wan_subnets: ec2.SubnetSelection | None = None,
        lan_subnets: ec2.SubnetSelection | None = None,
        gateway_names: Sequence[str] | None = None,
        instance_type: str | None = None,
        interface_names: InterfaceNames | None = None,
        machine_image_id: str | None = None,
        image_refresh_token: str | None = None,
        heartbeat_port: int | None = None,
        heartbeat_interface: HeartbeatInterface | None = None,
        tunnel_port: int | None = None,
        tunnel_udp: bool | None = None,
        max_ingress_mbps: int | None = None,
        max_client_write_mbps: int | None = None,
        gateway_type: GatewayType | None = None,
        gateway_clients: Sequence[str] | None = None,
        edge_source_cidrs: Sequence[str] | None = None,
        lan_source_cidrs: Sequence[str] | None = None,
        control_plane_cidrs: Sequence[str] | None = None,
        https_egress_cidrs: Sequence[str] | None = None,
        package_mirror_cidrs: Sequence[str] | None = None,
        dns_server_cidrs: Sequence[str] | None = None,
        route_table_ids: Sequence[str] | None = None,
        extra_route_table_ids: Sequence[str] | None = None,
        failback_mode: FailbackMode | None = None,
        cluster_ip_failover: bool | None = None,
        license_secrets: Sequence[secretsmanager.ISecret] | None = None,
        node_removal_policy: RemovalPolicy | None = None,
        termination_protection: bool | None = None,
        root_volume_size_gib: int | None = None,
        api_url: str | None = None,
        enroll_endpoint: str | None = None,
        verify_health: bool | None = None,
        verify_routes: bool | None = None,
        wait_timeout: Duration | None = None,
        monitoring: bool | None = None,
        monitoring_interval: Duration | None = None,
        alarm_topic: sns.ITopic | None = None,
        virtual_network: VirtualNetwork | None = None,
        succeeds: str | None = None,
        cut_over: bool | None = None,
        superseded: bool | None = None,
        member_swap: bool | None = None,
    ) -> None:
        """
        :param cluster_name: Trustgrid cluster name: lowercase letters, digits and dashes. Its FQDN is
            ``<cluster_name>.<org domain>``. A rename goes through a successor cluster (``succeeds``, then
            ``cut_over``); a plain rename is refused before anything changes.
        :param api_secret: Secrets Manager secret with the Trustgrid API key as JSON
            ``{"apiKeyId": ..., "apiKeySecret": ...}``. Only the custom-resource handler may read it.
        :param edge_cidrs: The edge sites' IPv4 network space (e.g. ``["172.16.0.0/16"]``): the cluster's AWS
            route-table entries, pointed at the active member's LAN interface. Not the default route, not
            overlapping the VPC or each other. With a NAT virtual network, the remote *virtual* space VPC hosts
            send to (or an outside NAT's local space), not the edge sites' own LAN CIDRs.
        :param vpc: The VPC. @default - a new VPC with a public and a private isolated subnet in each of
            two availability zones and no NAT gateway (:func:`trustgrid_ha.gateway_vpc`).
        :param wan_subnets: Where the WAN interfaces go. @default - the VPC's public subnets.
        :param lan_subnets: Where the LAN interfaces go; the gateways use the first two availability zones
            of this selection. @default - the VPC's private subnets with egress, else its isolated ones.
        :param gateway_names: The two Trustgrid node names, primary first. @default - ``<cluster_name>-a``
            and ``<cluster_name>-b``.
        :param instance_type: An x86_64 type of a family Trustgrid's AWS module accepts: gen2 t3, t3a, c5,
            c5n, c5a, c6i, c6in, c6a; gen3 c7i, c7a, c8i, c8a, m7i, m7a, m8i, m8a (and variants).
            @default - ``c6i.large``.
        :param interface_names: Names the node OS gives its WAN and LAN interfaces. The names a registered node
            reports win; an override that disagrees with them fails the deployment.
            @default - what the nodes report, else the generation's (gen2 ens5/ens6, gen3 enp39s0/enp40s0).
        :param machine_image_id: An explicit AMI ID. @default - the newest Trustgrid image for the instance
            generation (name pattern and ``InterfaceNaming`` tag), resolved once on create and kept on later deploys.
        :param image_refresh_token: A token that names an image refresh: the newest Trustgrid image is resolved again
            when it changes, and new gateways are built from it. With ``member_swap`` a change swaps both members
            for gateways of the newest image, one at a time; without it a running cluster refuses the change (it would
            replace its gateways in place) and the new image goes to a successor (``succeeds``). @default - no token.
        :param heartbeat_port: TCP port of the members' heartbeat. @default - 9000.
        :param heartbeat_interface: Interface that carries the heartbeat. @default - LAN.
        :param tunnel_port: TCP (and UDP) port of each gateway's tunnel service, where edge nodes connect.
            @default - 8443.
        :param tunnel_udp: Also accept UDP tunnels on ``tunnel_port``. @default - true.
        :param max_ingress_mbps: Limit of each gateway's ingress in Mbit/s. @default - no limit.
        :param max_client_write_mbps: Limit of each gateway's egress per client in Mbit/s. @default - no limit.
        :param gateway_type: ``PUBLIC``: every edge node of the organisation (except other public gateways) opens
            tunnels to the gateways, a test or staging cluster included; ``PRIVATE``: only ``gateway_clients``
            may connect. @default - ``GatewayType.PUBLIC`` (``public``), as Trustgrid's gateway tutorial has it.
        :param gateway_clients: The nodes or clusters (by name) that may connect to a private gateway; required for
            ``PRIVATE``, refused for ``PUBLIC``. @default - none.
        :param edge_source_cidrs: Sources allowed to open tunnels to the WAN interfaces.
            @default - ``["0.0.0.0/0"]``, as Trustgrid documents for gateways.
        :param lan_source_cidrs: LAN-side IPv4 networks that route the edge CIDRs through the gateways and may
            send them traffic. @default - the VPC CIDR.
        :param control_plane_cidrs: The Trustgrid control plane (outbound TCP 443 and 8443 from the WAN).
            @default - Trustgrid's published ranges 35.171.100.16/28 and 34.223.12.192/28.
        :param https_egress_cidrs: Outbound TCP 443 from the WAN for the AWS APIs (route failover, Secrets
            Manager at first boot) and the enroll endpoint. @default - anywhere (``0.0.0.0/0``): AWS endpoints
            have no fixed addresses; narrow it when the VPC has interface endpoints or a proxy.
        :param package_mirror_cidrs: Outbound TCP 80 from the WAN for the Ubuntu mirrors first boot installs
            from. @default - anywhere (``0.0.0.0/0``; the mirrors have no fixed addresses).
        :param dns_server_cidrs: Custom DNS servers the gateways use (outbound TCP and UDP 53). The VPC's own
            resolver needs no rule. @default - none.
        :param route_table_ids: The route tables whose edge-CIDR routes the active member manages (and may
            rewrite), all in the VPC. Every route table of a subnet that must reach the edge sites belongs here.
            @default - the route table of every private (LAN-side) subnet of the VPC, in every AZ.
        :param extra_route_table_ids: More route tables to manage on top of ``route_table_ids``.
            @default - none.
        :param failback_mode: @default - ``FailbackMode.AUTO``.
        :param cluster_ip_failover: No longer supported: Trustgrid's cluster-IP failover needs both members in
            one availability zone, and this construct places them in two. Setting it true is refused.
        :param license_secrets: Two Secrets Manager secrets, each holding a node license, primary first.
            @default - licenses are minted through the API and stored in secrets this construct creates.
        :param node_removal_policy: ``DESTROY`` deletes the Trustgrid node records when a gateway is deleted.
            @default - ``RETAIN``: the node records stay in the portal.
        :param termination_protection: EC2 API termination protection on both instances, applied once the cluster
            has verified; it also turns on the stack's termination protection, so that no delete (the console's
            "retain" option included) removes anything from under two running gateways. @default - true.
        :param root_volume_size_gib: Size of the encrypted gp3 root volume. @default - 30.
        :param api_url: Trustgrid management API base URL, https only. @default - ``https://api.trustgrid.io``.
        :param enroll_endpoint: Registration endpoint passed to the vendor's first-boot playbook, a plain https
            URL. @default - ``https://keymaster.trustgrid.io/v2/enroll``.
        :param verify_health: Fail the deployment unless the cluster reports healthy. @default - true.
        :param verify_routes: Fail the deployment unless every managed route table sends every edge CIDR to
            a member's LAN interface. @default - true.
        :param wait_timeout: How long a deployment waits for the nodes to register and the cluster to
            verify. At most 50 minutes. @default - 45 minutes.
        :param monitoring: A scheduled, read-only health check that publishes the cluster's metrics
            (``Trustgrid/HA``), alarms on them and a CloudWatch dashboard of the cluster and its gateways.
            @default - true.
        :param monitoring_interval: How often the health check runs (whole minutes); the alarms fire after two
            checks in a row, so a member that goes offline raises an alarm within about three minutes at the
            default. @default - 1 minute.
        :param alarm_topic: An SNS topic the health alarms notify (alarm and OK). @default - none.
        :param virtual_network: Attach the cluster to an existing Trustgrid virtual network, so that traffic flows
            end to end: the network with the cluster's validation route, the LAN interface with its NATs, the
            cluster's VPN static routes, and with ``publish`` the network route and access policies
            (``trustgrid_ha.VirtualNetwork``). With a NAT network, ``edge_cidrs`` is the remote virtual space.
            @default - none: attach a network in the Trustgrid portal.
        :param succeeds: The name of the cluster this one succeeds (a generation change, a rename): it may share its
            edge CIDRs and route tables, and is built and verified without the routes, which stay with the
            predecessor. @default - none.
        :param cut_over: With ``succeeds``: move the edge routes from the predecessor to this cluster, each in one
            step (``ReplaceRoute``) on a whole pair, and release them in the predecessor's configuration; then the
            predecessor can be removed. A predecessor in the same stack is marked ``superseded`` by it.
            @default - false.
        :param superseded: The cluster's routes went to its successor (set on a predecessor that lives in another
            stack; the app and a successor in the same stack set it themselves): it no longer writes them.
            @default - false.
        :param member_swap: A change that needs a new node (``machine_image_id``, ``image_refresh_token``,
            ``root_volume_size_gib``, the subnets, ``gateway_names``) swaps the members one at a time: a new gateway
            is built beside the old one, takes its place in the cluster (the role handed away from it first) and
            the position's Elastic IP, and the cluster is healthy again before the other position starts; the old
            gateway and its node record are removed at the end. Each node name ends in a revision ('-' and six hex
            digits of what makes it a new node). For new clusters: turning it on for a running one changes every
            resource name of its gateways, so move a running cluster through a successor (``succeeds``) that has it.
            @default - false.
        """
        super().__init__(scope, construct_id)
        self.config = config = ClusterConfig.from_keywords(locals())
        self.cluster_name = config.cluster_name
        self.vpc = config.vpc or gateway_vpc(self, "Vpc")
        _refuse_conflicts(self)
        _refuse_region(self, config.machine_image_id)
        _refuse_foreign_topic(self, config.alarm_topic)
        self.generation = generation_of(config.instance_type)
        self.interface_names = config.interface_names or INTERFACE_NAMES[self.generation]
        vpc_cidr = vpc_cidr_literal(self.vpc)
        check_edges_outside(config.edge_cidrs, vpc_cidr)
        placements = place(self.vpc, config.wan_subnets, config.lan_subnets)
        self.provider = TrustgridProvider.of(self, api_secret=config.api_secret, api_url=config.api_url)

        self._security_groups(self._lan_cidrs(vpc_cidr))
        if config.vpc is None and (config.route_table_ids or config.extra_route_table_ids):
            setting = "route_table_ids" if config.route_table_ids else "extra_route_table_ids"
            raise TrustgridConfigError(setting, list(getattr(config, setting)), "the construct creates the VPC, whose "
                                       "route tables have no IDs before it exists; leave it unset (the new VPC's LAN "
                                       "route tables are managed), or give vpc.")  # fmt: skip
        self.route_table_ids = managed_route_tables(
            self.vpc, placements, config.route_table_ids, config.extra_route_table_ids
        )
        self.node_names = self._node_names(placements)
        self.guard = self._guard(placements)
        self.image_id_resource: CustomResource | None = None
        self.image_id = config.machine_image_id or self._image(config.image_refresh_token)
        self.addresses: list[ec2.CfnEIP] = []
        self.seats: list[CustomResource] = []
        self.gateways = self._gateways(placements)
        self.primary, self.secondary = self.gateways
        self.roles = [g.role for g in self.gateways]
        self.gate = self._gate()
        self.members: list[CustomResource] = []
        self.cluster = self._cluster()
        self.cluster_fqdn = self.cluster.get_att_string("ClusterFqdn")
        self.virtual_network = self._virtual_network()
        self.monitoring = self._monitoring()
        self.protection = self._protection()
        self._order()
        self._take_over()

    def _take_over(self) -> None:
        """A successor that cuts over marks its predecessor in the same stack as superseded: the predecessor stops
        writing the routes, after the cut-over (its cluster resource waits for this one's). Whichever of the two is
        declared first."""
        siblings: list[TrustgridHaCluster] = Stack.of(self).__dict__.get("_trustgrid_ha_clusters", [])
        for other in siblings:
            if self.config.cut_over and other.config.cluster_name == self.config.succeeds and other.config.owns_routes:
                other.release_routes(after=self.cluster)
            if other.config.cut_over and other.config.succeeds == self.config.cluster_name and self.config.owns_routes:
                self.release_routes(after=other.cluster)

    def release_routes(self, after: Construct) -> None:
        """The cluster's routes went to its successor: it no longer writes them (its cluster resource updates
        after ``after``, the successor's), and its health check no longer expects them."""
        for resource in (self.cluster, *self.members, *self.seats):
            cfn = resource.node.default_child
            assert isinstance(cfn, CfnResource)
            cfn.add_property_override("OwnsRoutes", "false")
        self.cluster.node.add_dependency(after)
        if self.monitoring is not None:
            self.monitoring.expect_no_routes()

    @classmethod
    def from_config(cls, scope: Construct, construct_id: str, config: ClusterConfig) -> TrustgridHaCluster:
        """The cluster from a config (an app's typed settings, say: ``ClusterConfig.validated`` plus the objects
        JSON cannot give, such as the API secret and the VPC)."""
        return cls(scope, construct_id, **config.keywords())

    @property
    def connections(self) -> ec2.Connections:
        """The gateways' LAN security group (``ec2.IConnectable``): which LAN-side hosts may send traffic to the
        gateways' LAN interfaces, and where the gateways may send it. It does not open an application tier's own
        security group: for traffic between an application tier and the edge sites, use
        :meth:`allow_edge_traffic_from` and :meth:`allow_edge_traffic_to`."""
        return self._connections

    def allow_edge_traffic_from(self, peer: ec2.IConnectable, port: ec2.Port | None = None) -> None:
        """Let ``peer`` (an application tier) open connections to the edge sites through the gateways: its
        security groups may send to every edge CIDR (needed when they restrict outbound traffic), and the gateways'
        LAN side accepts that traffic. Replies return through the same stateful rules.

        :param port: What may flow. @default - all traffic."""
        port = port or ec2.Port.all_traffic()
        for cidr in self._edge_cidrs_listed("allow_edge_traffic_from"):
            peer.connections.allow_to(ec2.Peer.ipv4(cidr), port, f"to the edge sites through {self.cluster_name}")
        self._connections.allow_from(peer, port, "from an application tier to the edge sites")

    def allow_edge_traffic_to(self, peer: ec2.IConnectable, port: ec2.Port | None = None) -> None:
        """Let the edge sites open connections to ``peer`` through the gateways: its security groups accept
        traffic from every edge CIDR, and the gateways' LAN side may send it on.

        :param port: What may flow. @default - all traffic."""
        port = port or ec2.Port.all_traffic()
        for cidr in self._edge_cidrs_listed("allow_edge_traffic_to"):
            peer.connections.allow_from(ec2.Peer.ipv4(cidr), port, f"from the edge sites through {self.cluster_name}")
        self._connections.allow_to(peer, port, "from the edge sites to an application tier")

    def _edge_cidrs_listed(self, method: str) -> Sequence[str]:
        """The edge CIDRs one rule each: a deploy-time list cannot give them."""
        if is_unresolved(self.config.edge_cidrs):
            raise TrustgridConfigError(
                "edge_cidrs",
                self.config.edge_cidrs,
                f"{method} makes one security group rule per edge CIDR at synth time, which a deploy-time list (a "
                "CommaDelimitedList parameter) cannot give: give the list itself (its items may be deploy-time "
                "values), or open the security groups yourself.",
            )
        return self.config.edge_cidrs

    # -- what it builds ---------------------------------------------------------------------

    def _lan_cidrs(self, vpc_cidr: str | None) -> list[str]:
        """Who may send through the gateways: the setting, else the VPC's CIDR (which an imported VPC may lack)."""
        if self.config.lan_source_cidrs:
            return list(self.config.lan_source_cidrs)
        cidr = vpc_cidr or vpc_cidr_of(self.vpc)
        if cidr is None:
            raise TrustgridConfigError(
                "lan_source_cidrs",
                None,
                "the VPC was imported without its CIDR, which is the default: give vpc_cidr_block to "
                "Vpc.from_vpc_attributes (cdk.json: vpc.cidr), or set lan_source_cidrs.",
            )
        return [cidr]

    def _security_groups(self, lan_cidrs: list[str]) -> None:
        self.wan_security_group = wan_security_group(self, self.vpc, self.config)
        self.lan_security_group = lan_security_group(self, self.vpc, self.config, lan_cidrs)
        self.heartbeat_security_group = heartbeat_security_group(self, self.vpc, self.config)
        self._connections = ec2.Connections(security_groups=[self.lan_security_group])
        self._wan_groups: list[ec2.ISecurityGroup] = [self.wan_security_group]
        self._lan_groups: list[ec2.ISecurityGroup] = [self.lan_security_group]
        on_lan = self.config.heartbeat_interface is HeartbeatInterface.LAN
        (self._lan_groups if on_lan else self._wan_groups).append(self.heartbeat_security_group)

    def _image(self, refresh_token: str | None) -> str:
        """The newest vendor image for the generation, resolved once by a custom resource."""
        self.image_id_resource = image = CustomResource(
            self,
            "Image",
            service_token=self.provider.service_token,
            resource_type=IMAGE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties=ImageProperties(
                owner=TRUSTGRID_AMI_OWNER,
                name_pattern=IMAGE_NAME_PATTERNS[self.generation],
                interface_naming=self.generation.value,
                refresh_token=refresh_token or "",
            ).to_properties(),
        )
        return image.get_att_string("ImageId")

    def _gateways(self, placements: list[Placement]) -> list[TrustgridGateway]:
        stack = Stack.of(self)
        route_table_arns = [
            stack.format_arn(service="ec2", resource="route-table", resource_name=table_id)
            for table_id in self.route_table_ids
        ]
        # a deleted cluster removes the edge routes that still point at its own gateways (no blackholes left)
        self.provider.role.add_to_policy(iam.PolicyStatement(actions=["ec2:DeleteRoute"], resources=route_table_arns))
        if self.config.succeeds:  # the cut-over points each route at this cluster, in one step
            self.provider.role.add_to_policy(
                iam.PolicyStatement(actions=["ec2:CreateRoute", "ec2:ReplaceRoute"], resources=route_table_arns)
            )
        scopes: list[Construct] = [self, self]
        if self.config.member_swap:  # each position keeps its address; its gateway is named by its revision
            scopes = [Construct(self, position) for position in POSITIONS]
            self.addresses = [ec2.CfnEIP(scope, "WanAddress", domain="vpc") for scope in scopes]
        gateways = [
            self._gateway(index, scopes[index], placement, route_table_arns)
            for index, placement in enumerate(placements)
        ]
        if self.addresses:
            self.seats = [self._seat(scopes[i], self.addresses[i], gateway) for i, gateway in enumerate(gateways)]
            self._grant_addresses()
        return gateways

    def _gateway(
        self, index: int, scope: Construct, placement: Placement, route_table_arns: list[str]
    ) -> TrustgridGateway:
        node_name, swapping = self.node_names[index], self.config.member_swap
        return TrustgridGateway(
            scope,
            f"Gateway{node_name.rsplit('-', 1)[1]}" if swapping else POSITIONS[index],
            node_name=node_name,
            instance_type=self.config.instance_type,
            image_id=self.image_id,
            wan_subnet=placement.wan,
            lan_subnet=placement.lan,
            wan_security_groups=self._wan_groups,
            lan_security_groups=self._lan_groups,
            route_table_arns=route_table_arns,
            provider=self.provider,
            license_secret=self.config.license_secrets[index] if self.config.license_secrets else None,
            node_removal_policy=self.config.node_removal_policy,
            root_volume_size_gib=self.config.root_volume_size_gib,
            enroll_endpoint=self.config.enroll_endpoint,
            elastic_ip=self.addresses[index] if swapping else None,
            tags={CLUSTER_TAG: self.config.cluster_name} if swapping else None,
            swap_cluster=self.config.cluster_name if swapping else None,
        )

    def _node_names(self, placements: list[Placement]) -> tuple[str, str]:
        """The gateways' node names: with member_swap, each ends in a revision of what makes it a new node (its
        name, image, root volume and subnets), so that a change of any of them gives the position a new gateway."""
        names = self.config.node_names
        if not self.config.member_swap:
            return names
        stack = Stack.of(self)
        revisions = [
            hashlib.sha256(
                json.dumps(
                    stack.resolve(
                        {
                            "name": name,
                            "image": self._image_spec(),
                            "rootVolumeGib": self.config.root_volume_size_gib,
                            "wanSubnet": placement.wan.subnet_id,
                            "lanSubnet": placement.lan.subnet_id,
                        }
                    ),
                    sort_keys=True,
                ).encode()
            ).hexdigest()[:6]
            for name, placement in zip(names, placements, strict=True)
        ]
        return f"{names[0]}-{revisions[0]}", f"{names[1]}-{revisions[1]}"

    def _image_spec(self) -> str:
        """The image the gateways are built from: machine_image_id, or the newest vendor image of the generation
        as of the refresh token."""
        resolved = f"resolved:{IMAGE_NAME_PATTERNS[self.generation]}:{self.config.image_refresh_token or ''}"
        return self.config.machine_image_id or resolved

    def _seat(self, scope: Construct, address: ec2.CfnEIP, gateway: TrustgridGateway) -> CustomResource:
        """The position's address on its gateway: before the gateway's instance boots (it needs the address), and
        in a swap only once the role has left the gateway it replaces."""
        config = self.config
        seat = self._lifecycle_resource(
            "Seat",
            SEAT_TYPE,
            SeatProperties(
                cluster_name=config.cluster_name,
                node_name=gateway.node_name,
                allocation_id=address.attr_allocation_id,
                wan_eni_id=gateway.wan_interface.ref,
                edge_cidrs=tuple(config.edge_cidrs),
                route_table_ids=tuple(self.route_table_ids),
                owns_routes=config.owns_routes,
                wait_timeout_seconds=_cfn_number(config.wait_timeout_seconds),
            ),
            scope=scope,
        )
        gateway.instance.node.add_dependency(seat)
        return seat

    def _grant_addresses(self) -> None:
        """The seats move the positions' addresses between the gateways of their position (a rollback moves one
        back to a gateway the new template no longer names)."""
        stack = Stack.of(self)
        addresses = [
            stack.format_arn(service="ec2", resource="elastic-ip", resource_name=a.attr_allocation_id)
            for a in self.addresses
        ]
        interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        policy = iam.Policy(
            self,
            "AddressPolicy",
            roles=[self.provider.role],
            statements=[
                iam.PolicyStatement(sid="ReadAddresses", actions=["ec2:DescribeAddresses"], resources=["*"]),
                iam.PolicyStatement(
                    sid="MoveAddresses", actions=["ec2:AssociateAddress"], resources=[*addresses, interfaces]
                ),
                iam.PolicyStatement(
                    sid="ReleaseAddresses", actions=["ec2:DisassociateAddress"], resources=[*addresses, interfaces]
                ),
            ],
        )
        acknowledge(
            policy,
            "ec2:DescribeAddresses supports no resource-level permissions; an address moves between the gateways of "
            "its position, whose interfaces each swap replaces (a rollback moves it back to the previous one).",
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]",
        )
        for seat in self.seats:
            seat.node.add_dependency(policy)

    def _cluster(self) -> CustomResource:
        """The cluster in Trustgrid, configured once both gateway instances exist."""
        config = self.config
        properties = ClusterProperties(
            name=config.cluster_name,
            members=tuple(
                MemberProperties(
                    uid=g.node_uid,
                    name=g.node_name,
                    lan_eni_id=g.lan_eni_id,
                    lan_ip=g.lan_private_ip,
                    wan_ip=g.wan_private_ip,
                    public_ip=g.wan_public_ip,
                    lan_subnet_id=g.lan_subnet.subnet_id,
                )
                for g in self.gateways
            ),
            edge_cidrs=tuple(config.edge_cidrs),
            route_table_ids=tuple(self.route_table_ids),
            lan_interface_name=self.interface_names.lan,
            lan_interface_override=config.interface_names is not None,
            heartbeat_interface=config.heartbeat_interface,
            heartbeat_port=_cfn_number(config.heartbeat_port),
            tunnel_port=_cfn_number(config.tunnel_port),
            tunnel_udp=config.tunnel_udp,
            max_ingress_mbps=_cfn_optional(config.max_ingress_mbps),
            max_client_write_mbps=_cfn_optional(config.max_client_write_mbps),
            gateway_type=config.gateway_type,
            gateway_clients=tuple(config.gateway_clients),
            owns_routes=config.owns_routes,
            predecessor=config.succeeds or "",
            failback_mode=config.failback_mode,
            verify_health=config.verify_health,
            verify_routes=config.verify_routes,
            wait_timeout_seconds=_cfn_number(config.wait_timeout_seconds),
            metrics_name=config.cluster_name if config.monitoring else "",
        )
        cluster = CustomResource(
            self,
            "Cluster",
            service_token=self.provider.service_token,
            resource_type=CLUSTER_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties=properties.to_properties(),
        )
        for gateway in self.gateways:
            cluster.node.add_dependency(gateway.instance)
        if self.seats:
            self._swap_members(properties)
            cluster.node.add_dependency(*self.members)
        return cluster

    def _swap_members(self, properties: ClusterProperties) -> None:
        """Each position's member, after its gateway's instance; the secondary's seat waits for the primary's
        member, so that a deploy swaps the positions strictly one after the other."""
        shared = {f.name: getattr(properties, f.name) for f in fields(ClusterProperties)}
        for position, gateway in enumerate(self.gateways):
            member = self._lifecycle_resource(
                "Member",
                MEMBER_TYPE,
                SwapProperties(
                    **shared,
                    position=position,
                    allocation_ids=tuple(a.attr_allocation_id for a in self.addresses),
                    wan_eni_ids=tuple(g.wan_interface.ref for g in self.gateways),
                ),
                scope=cast(Construct, self.seats[position].node.scope),
            )
            member.node.add_dependency(gateway.instance)
            self.members.append(member)
        self.seats[1].node.add_dependency(self.members[0])

    # -- the lifecycle: one gateway at a time, nothing replaced in place, protection once verified ---------

    def _guard(self, placements: list[Placement]) -> CustomResource:
        """Sees every update first (the cluster's other resources depend on it) and refuses one that would
        replace a running gateway or rename something, before anything changes."""
        config = self.config
        gateways = tuple(
            GuardedGateway(
                slot=slot,
                node_name=name,
                generation=self.generation.value,
                image=self._image_spec(),
                root_volume_gib=_cfn_number(config.root_volume_size_gib),
                wan_subnet_id=placement.wan.subnet_id,
                lan_subnet_id=placement.lan.subnet_id,
            )
            for slot, name, placement in zip(POSITIONS, self.node_names, placements, strict=True)
        )
        return self._lifecycle_resource(
            "ChangeGuard",
            GUARD_TYPE,
            GuardProperties(
                config.cluster_name,
                gateways,
                tuple(config.edge_cidrs),
                tuple(self.route_table_ids),
                restart=self._restart_fingerprint(),
                predecessor=config.succeeds or "",  # routes to its members are the cut-over's, not a conflict
                member_swap=config.member_swap,
            ),
        )

    def _gate(self) -> CustomResource:
        """Between the two gateways: when an update stopped and started the primary, the secondary's instance
        is touched only once the primary is back online in Trustgrid and the cluster is healthy."""
        primary = self.primary.instance
        gate = self._lifecycle_resource(
            "MemberReady",
            GATE_TYPE,
            GateProperties(
                cluster_name=self.config.cluster_name,
                node_uid=self.primary.node_uid,
                node_name=self.primary.node_name,
                instance_id=primary.ref,
                fingerprint={
                    **self._restart_fingerprint(),
                    "LicenseSecretArn": self.primary.license_secret.secret_arn,  # filled into its user data too
                },
                wait_timeout_seconds=_cfn_number(self.config.wait_timeout_seconds),
                lan_eni_id=self.primary.lan_eni_id,
                partner_uid=self.secondary.node_uid,
                partner_name=self.secondary.node_name,
                partner_lan_eni_id=self.secondary.lan_eni_id,
                edge_cidrs=tuple(self.config.edge_cidrs),
                route_table_ids=tuple(self.route_table_ids),
            ),
        )
        self.secondary.instance.node.add_dependency(gate)
        return gate

    def _restart_fingerprint(self) -> dict[str, Any]:
        """What stops and starts a gateway in place (documented as "Some interruptions" for AWS::EC2::Instance):
        its type and its user data (the script, and the values filled into it)."""
        return {
            "InstanceType": self.config.instance_type,
            "UserDataScript": script_fingerprint(),
            "EnrollEndpoint": self.config.enroll_endpoint,
        }

    def _protection(self) -> CustomResource:
        """EC2 termination protection, applied once the cluster has verified; deleted first on a stack delete
        (it depends on everything of the cluster and its VPC), it refuses that delete while protection is on."""
        instances = [g.instance for g in self.gateways]
        protection = self._lifecycle_resource(
            "Protection",
            PROTECTION_TYPE,
            ProtectionProperties(tuple(i.ref for i in instances), self.config.termination_protection),
        )
        stack = Stack.of(self)
        policy = iam.Policy(
            self,
            "ProtectionPolicy",
            roles=[self.provider.role],
            statements=[
                iam.PolicyStatement(
                    sid="TerminationProtection",
                    actions=["ec2:ModifyInstanceAttribute"],
                    resources=[
                        stack.format_arn(service="ec2", resource="instance", resource_name=i.ref) for i in instances
                    ],
                )
            ],
        )
        if self.seats:  # the instances a swap replaced, no longer named anywhere, by their cluster tag
            policy.add_statements(
                iam.PolicyStatement(
                    sid="ReleaseSwappedInstances",
                    actions=["ec2:ModifyInstanceAttribute"],
                    resources=[stack.format_arn(service="ec2", resource="instance", resource_name="*")],
                    conditions={"StringEquals": {f"ec2:ResourceTag/{CLUSTER_TAG}": self.config.cluster_name}},
                )
            )
            acknowledge(
                policy,
                "A swap releases the termination protection of the instances it replaced, which the template no "
                "longer names: any instance that carries this cluster's tag.",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]",
            )
        protection.node.add_dependency(policy, self.cluster, self.vpc)
        if self.config.termination_protection is True:
            # The protection resource refuses a stack delete, but the console then offers to delete again while
            # retaining it, which would remove everything else under two running gateways. Stack termination
            # protection refuses the delete before anything is deleted, on every path.
            stack.termination_protection = True
        return protection

    def _virtual_network(self) -> CustomResource | None:
        """The attachment to a virtual network, once the cluster has verified; on a delete it goes first."""
        network = self.config.virtual_network
        if network is None:
            return None
        properties = network.properties(
            self.cluster_fqdn, self.config.cluster_name, self.config.edge_cidrs, self.interface_names.lan
        )
        resource = self._lifecycle_resource("VirtualNetwork", VIRTUAL_NETWORK_TYPE, properties)
        resource.node.add_dependency(self.cluster)
        return resource

    def _monitoring(self) -> TrustgridClusterMonitoring | None:
        config = self.config
        if not config.monitoring:
            return None
        return TrustgridClusterMonitoring(
            self,
            "Monitoring",
            cluster_name=self.cluster_name,
            cluster_fqdn=self.cluster_fqdn,
            gateways=self.gateways,
            api_secret=config.api_secret,
            api_url=config.api_url,
            interval=config.monitoring_interval,
            alarm_topic=config.alarm_topic,
            virtual_network=config.virtual_network.name if config.virtual_network else None,
            owns_routes=config.owns_routes,
            after=self.virtual_network or self.cluster,
        )

    def _lifecycle_resource(
        self, construct_id: str, resource_type: str, properties: _Properties, scope: Construct | None = None
    ) -> CustomResource:
        return CustomResource(
            scope or self,
            construct_id,
            service_token=self.provider.service_token,
            resource_type=resource_type,
            service_timeout=SERVICE_TIMEOUT,
            properties=properties.to_properties(),
        )

    def _order(self) -> None:
        """The guard before everything an update could replace or rename; the protection after everything (and
        so, on a stack delete, before everything). The license secrets stay out of the guard's dependants: the
        provider's own policy refers to them."""
        guarded: list[Construct] = [
            self.gate,
            self.cluster,
            self.wan_security_group,  # their descriptions name the cluster: a rename would replace them
            self.lan_security_group,
            self.heartbeat_security_group,
        ]
        if self.image_id_resource is not None:
            guarded.append(self.image_id_resource)
        for gateway in self.gateways:
            guarded += [
                gateway.wan_interface,
                gateway.lan_interface,
                gateway.elastic_ip,
                *filter(None, [gateway.elastic_ip_association]),
                gateway.license,
                gateway.instance,
            ]
        guarded += [*self.seats, *self.members]
        for construct in guarded:
            construct.node.add_dependency(self.guard)
        self.protection.node.add_dependency(*(child for child in self.node.children if child is not self.protection))

    # -- outputs, when the stack asks for them ----------------------------------------------

    def add_outputs(self, scope: Construct | None = None) -> dict[str, CfnOutput]:
        """Stack outputs for the cluster FQDN, each gateway's instance, Elastic IP and LAN ENI, and the security
        groups, created in ``scope`` (@default - this construct). Returns them by construct ID."""
        where = scope or self
        label = self.cluster_name
        values: list[tuple[str, str, str]] = [("ClusterFqdn", self.cluster_fqdn, f"{label}: Trustgrid FQDN")]
        for prefix, gateway in zip(POSITIONS, self.gateways, strict=True):
            name = f"{label} {gateway.node_name}"
            values += [
                (f"{prefix}InstanceId", gateway.instance_id, f"{name}: instance ID"),
                (f"{prefix}WanPublicIp", gateway.wan_public_ip, f"{name}: WAN Elastic IP (edge sites connect here)"),
                (f"{prefix}LanEniId", gateway.lan_eni_id, f"{name}: LAN ENI"),
                (f"{prefix}LanPrivateIp", gateway.lan_private_ip, f"{name}: LAN IP"),
            ]
        for kind, group in (
            ("Wan", self.wan_security_group),
            ("Lan", self.lan_security_group),
            ("Heartbeat", self.heartbeat_security_group),
        ):
            values.append((f"{kind}SecurityGroupId", group.security_group_id, f"{label}: {kind} security group"))
        prefix = "" if where is self else f"{self.node.id}"
        outputs = {cid: CfnOutput(where, prefix + cid, value=v, description=d) for cid, v, d in values}
        self.fqdn_output = outputs["ClusterFqdn"]
        return outputs


def _refuse_conflicts(new: TrustgridHaCluster) -> None:
    """Clusters of one stack share a Trustgrid organization and often a VPC: names must differ, and edge CIDRs
    of clusters in the same VPC must not overlap (the route tables could hold only one of them). The stack's
    clusters are kept on the stack object, so the check walks no construct tree."""
    problems: list[Problem] = []
    stack = Stack.of(new)
    siblings: list[TrustgridHaCluster] = stack.__dict__.setdefault("_trustgrid_ha_clusters", [])
    problems += _succession_loop(new.config, siblings)
    for other in siblings:
        problems += _names_taken(new.config, other)
        succession = (
            other.config.cluster_name == new.config.succeeds or new.config.cluster_name == other.config.succeeds
        )
        if other.config.cut_over and new.config.cut_over and succession:
            fix = (
                f"the cluster {other.config.cluster_name!r} cuts over in the same deploy, and one of the two succeeds "
                "the other: one cut-over at a time. Deploy the first, remove its predecessor, then the next."
            )
            problems.append(Problem("cut_over", True, fix))
        if other.vpc is new.vpc and not succession:
            problems += _overlaps(new.config.edge_cidrs, other)
    if problems:
        raise TrustgridConfigError.of(problems)
    siblings.append(new)


def _succession_loop(config: ClusterConfig, siblings: Sequence[TrustgridHaCluster]) -> list[Problem]:
    """Succession goes one way: following succeeds from this cluster through the stack's clusters never comes back
    to it."""
    succeeds = {c.config.cluster_name: c.config.succeeds for c in siblings}
    seen, name = [config.cluster_name], config.succeeds
    while name in succeeds and name not in seen:
        seen.append(name)
        name = succeeds[name]
    if name != config.cluster_name or len(seen) < 2:
        return []
    loop = " → ".join([*seen, config.cluster_name])
    fix = f"the clusters {loop} succeed each other in a loop: succession goes one way. Remove succeeds from one."
    return [Problem("succeeds", config.succeeds, fix)]


def _names_taken(config: ClusterConfig, other: TrustgridHaCluster) -> list[Problem]:
    """Cluster and node names share one namespace in a Trustgrid organization (``<name>.<org domain>``)."""
    problems = []
    if other.config.cluster_name == config.cluster_name:
        problems.append(Problem("cluster_name", config.cluster_name, f"the cluster {other.node.path} uses it already."))
    if config.cluster_name in other.config.node_names:
        fix = f"a gateway of the cluster {other.config.cluster_name!r} has that name: both would have one FQDN."
        problems.append(Problem("cluster_name", config.cluster_name, fix))
    for index, name in enumerate(config.node_names):
        # a default node name is the cluster name's doing
        setting, shown = (
            (f"gateway_names[{index}]", name) if config.gateway_names else ("cluster_name", config.cluster_name)
        )
        default = "" if config.gateway_names else f"a gateway's default node name is {name!r}: "
        if name in other.config.node_names:
            fix = (f"{default}the cluster {other.config.cluster_name!r} has a gateway of that name already; node names "
                   "are unique in Trustgrid.")  # fmt: skip
            problems.append(Problem(setting, shown, fix))
        if name == other.config.cluster_name:
            fix = (f"{default}it is the name of the cluster {other.config.cluster_name!r}: both would have the FQDN "
                   f"'{name}.<org domain>'. Give the gateways or the cluster another name.")  # fmt: skip
            problems.append(Problem(setting, shown, fix))
    return problems


def _overlaps(edge_cidrs: Sequence[str], other: TrustgridHaCluster) -> list[Problem]:
    found = []
    for index, cidr in enumerate(edge_cidrs):
        for theirs in other.config.edge_cidrs:
            if not is_unresolved(cidr) and not is_unresolved(theirs) and cidrs_overlap(cidr, theirs):
                fix = (
                    f"it overlaps {theirs} of {other.node.path} in the same VPC; give each cluster its own edge space."
                )
                found.append(Problem(f"edge_cidrs[{index}]", cidr, fix))
    return found


def _cfn_number(value: int) -> int:
    """A number for a custom resource property: a token becomes a string token, never a garbled literal. Like
    CDK's own tokens, it stands in for the number it will be (the contract's codec passes strings through)."""
    return cast(int, Token.as_string(value)) if is_unresolved(value) else value


def _cfn_optional(value: int | None) -> int | None:
    return None if value is None else _cfn_number(value)
