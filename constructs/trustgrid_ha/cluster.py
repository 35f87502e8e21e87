"""The L3 construct: an HA Trustgrid gateway cluster across two availability zones."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from trustgrid_ha_runtime.contract import (
    CLUSTER_TYPE,
    DEFAULT_API_URL,
    DEFAULT_ENROLL_ENDPOINT,
    DEFAULT_HEARTBEAT_PORT,
    DEFAULT_TUNNEL_PORT,
    IMAGE_TYPE,
    MAX_WAIT_SECONDS,
    ClusterProperties,
    FailbackMode,
    HeartbeatInterface,
    ImageProperties,
    MemberProperties,
    TunnelProperties,
    mbps_problem,
    wait_problem,
)

from .errors import (
    TrustgridConfigError,
    check,
    check_cidr,
    check_cidrs,
    check_name,
    check_port,
    check_route_table_id,
    is_unresolved,
)
from .gateway import TrustgridGateway
from .instance_types import (
    IMAGE_NAME_PATTERNS,
    INTERFACE_NAMES,
    TRUSTGRID_AMI_OWNER,
    InterfaceNames,
    generation_of,
)
from .nag import acknowledge
from .provider import SERVICE_TIMEOUT, TrustgridProvider

__all__ = ["CONTROL_PLANE_CIDRS", "DEFAULT_API_URL", "FailbackMode", "HeartbeatInterface", "TrustgridHaCluster"]

DEFAULT_WAIT = Duration.minutes(45)
#: The Trustgrid control plane's published address ranges (outbound TCP 443 and 8443 from the WAN).
CONTROL_PLANE_CIDRS = ("35.171.100.16/28", "34.223.12.192/28")
CONTROL_PLANE_PORTS = (443, 8443)
ANYWHERE = ("0.0.0.0/0",)


class TrustgridHaCluster(Construct):
    """Two Trustgrid gateways in two availability zones, configured as one HA cluster.

    Creates both gateways (WAN and LAN interfaces, Elastic IPs, IMDSv2,
    encrypted gp3 root volumes, auto-recovery alarms), the WAN, LAN and
    heartbeat security groups, one instance role that may rewrite exactly the
    managed route tables, and custom resources that mint the node licenses,
    resolve the vendor AMI once and configure the cluster through the Trustgrid
    API: each member's gateway service, members, heartbeat, LAN routes and the
    AWS route-table entries for the edge CIDRs, which the active member then owns.

    It does not attach a virtual network to the cluster: edge traffic needs the
    VPN configuration made in the Trustgrid portal (or Trustgrid's Terraform provider).
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
        instance_type: str = "c6i.large",
        interface_names: InterfaceNames | None = None,
        machine_image_id: str | None = None,
        image_refresh_token: str | None = None,
        heartbeat_port: int = DEFAULT_HEARTBEAT_PORT,
        heartbeat_interface: HeartbeatInterface = HeartbeatInterface.LAN,
        tunnel_port: int = DEFAULT_TUNNEL_PORT,
        tunnel_udp: bool = True,
        max_ingress_mbps: int | None = None,
        max_client_write_mbps: int | None = None,
        edge_source_cidrs: Sequence[str] = ANYWHERE,
        lan_source_cidrs: Sequence[str] | None = None,
        control_plane_cidrs: Sequence[str] = CONTROL_PLANE_CIDRS,
        https_egress_cidrs: Sequence[str] = ANYWHERE,
        package_mirror_cidrs: Sequence[str] = ANYWHERE,
        dns_server_cidrs: Sequence[str] = (),
        extra_route_table_ids: Sequence[str] = (),
        failback_mode: FailbackMode = FailbackMode.AUTO,
        cluster_ip_failover: bool | None = None,
        license_secrets: Sequence[secretsmanager.ISecret] | None = None,
        node_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        termination_protection: bool = True,
        root_volume_size_gib: int = 30,
        api_url: str = DEFAULT_API_URL,
        enroll_endpoint: str = DEFAULT_ENROLL_ENDPOINT,
        verify_health: bool = True,
        verify_routes: bool = True,
        wait_timeout: Duration | None = None,
    ) -> None:
        """
        :param cluster_name: Trustgrid cluster name: lowercase letters, digits and dashes. Its FQDN is
            ``<cluster_name>.<org domain>``. Changing it creates a new cluster and deletes the old one.
        :param api_secret: Secrets Manager secret with the Trustgrid API key as JSON
            ``{"apiKeyId": ..., "apiKeySecret": ...}``. Only the custom-resource handler may read it.
        :param edge_cidrs: The edge sites' virtual network space (e.g. ``["172.16.0.0/16"]``): the
            cluster's AWS route-table entries, pointed at the active member's LAN interface.
        :param vpc: The VPC. @default - a new VPC with a public and a private isolated subnet in each of
            two availability zones and no NAT gateway.
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
        :param image_refresh_token: Change this value to resolve the newest image again, which replaces
            both gateways. @default - no token.
        :param heartbeat_port: TCP port of the members' heartbeat. @default - 9000.
        :param heartbeat_interface: Interface that carries the heartbeat. @default - LAN.
        :param tunnel_port: TCP (and UDP) port of each gateway's tunnel service, where edge nodes connect.
            @default - 8443.
        :param tunnel_udp: Also accept UDP tunnels on ``tunnel_port``. @default - true.
        :param max_ingress_mbps: Limit of each gateway's ingress in Mbit/s. @default - no limit.
        :param max_client_write_mbps: Limit of each gateway's egress per client in Mbit/s. @default - no limit.
        :param edge_source_cidrs: Sources allowed to open tunnels to the WAN interfaces.
            @default - ``["0.0.0.0/0"]``, as Trustgrid documents for gateways.
        :param lan_source_cidrs: LAN-side networks that route the edge CIDRs through the gateways and may send
            them traffic. @default - the VPC CIDR.
        :param control_plane_cidrs: The Trustgrid control plane (outbound TCP 443 and 8443 from the WAN).
            @default - Trustgrid's published ranges 35.171.100.16/28 and 34.223.12.192/28.
        :param https_egress_cidrs: Outbound TCP 443 from the WAN for the AWS APIs (route failover, Secrets
            Manager at first boot) and the enroll endpoint. @default - anywhere: AWS endpoints have no fixed
            addresses; narrow it when the VPC has interface endpoints or a proxy.
        :param package_mirror_cidrs: Outbound TCP 80 from the WAN for the Ubuntu mirrors first boot installs
            from. @default - anywhere (the mirrors have no fixed addresses).
        :param dns_server_cidrs: Custom DNS servers the gateways use (outbound TCP and UDP 53). The VPC's own
            resolver needs no rule. @default - none.
        :param extra_route_table_ids: More route tables in the same VPC whose edge-CIDR routes the active
            member manages. @default - none: only the LAN subnets' route tables.
        :param failback_mode: @default - ``FailbackMode.AUTO``.
        :param cluster_ip_failover: No longer supported: Trustgrid's cluster-IP failover needs both members in
            one availability zone, and this construct places them in two. Setting it true is refused.
        :param license_secrets: Two Secrets Manager secrets, each holding a node license, primary first.
            @default - licenses are minted through the API and stored in secrets this construct creates.
        :param node_removal_policy: ``DESTROY`` deletes the Trustgrid node records when a gateway is deleted.
            @default - ``RETAIN``: the node records stay in the portal.
        :param termination_protection: EC2 API termination protection on both instances. @default - true.
        :param root_volume_size_gib: Size of the encrypted gp3 root volume. @default - 30.
        :param api_url: Trustgrid management API base URL. @default - ``https://api.trustgrid.io``.
        :param enroll_endpoint: Registration endpoint passed to the vendor's first-boot playbook.
            @default - ``https://keymaster.trustgrid.io/v2/enroll``.
        :param verify_health: Fail the deployment unless the cluster reports healthy. @default - true.
        :param verify_routes: Fail the deployment unless every managed route table sends every edge CIDR to
            a member's LAN interface. @default - true.
        :param wait_timeout: How long a deployment waits for the nodes to register and the cluster to
            verify. At most 50 minutes. @default - 45 minutes.
        """
        super().__init__(scope, construct_id)
        wait_timeout = wait_timeout or DEFAULT_WAIT
        if cluster_ip_failover:
            raise TrustgridConfigError(
                "cluster_ip_failover",
                cluster_ip_failover,
                "Trustgrid's cluster-IP failover works only when both members sit in the same availability zone, "
                "and this construct places them in two. Remove the setting: the edge CIDRs follow the active "
                "member through the managed route tables instead.",
            )
        check_name("cluster_name", cluster_name)
        names = list(gateway_names) if gateway_names is not None else [f"{cluster_name}-a", f"{cluster_name}-b"]
        if len(names) != 2 or names[0] == names[1]:
            raise TrustgridConfigError("gateway_names", names, "give two different node names, primary first.")
        for index, name in enumerate(names):
            check_name(f"gateway_names[{index}]", name)
        check_cidrs("edge_cidrs", edge_cidrs, whole_internet=False)
        for setting, cidrs in (
            ("edge_source_cidrs", edge_source_cidrs),
            ("control_plane_cidrs", control_plane_cidrs),
            ("https_egress_cidrs", https_egress_cidrs),
            ("package_mirror_cidrs", package_mirror_cidrs),
        ):
            check_cidrs(setting, cidrs)
        check_cidrs("dns_server_cidrs", dns_server_cidrs, allow_empty=True)
        check_port("tunnel_port", tunnel_port)
        check_port("heartbeat_port", heartbeat_port, reserved={tunnel_port: "tunnel port (tunnel_port)"})
        check("max_ingress_mbps", max_ingress_mbps, mbps_problem(max_ingress_mbps))
        check("max_client_write_mbps", max_client_write_mbps, mbps_problem(max_client_write_mbps))
        for index, table_id in enumerate(extra_route_table_ids):
            check_route_table_id(f"extra_route_table_ids[{index}]", table_id)
        generation = generation_of(instance_type)
        if license_secrets is not None and len(license_secrets) != 2:
            raise TrustgridConfigError(
                "license_secrets", len(license_secrets), "give two secrets, one license per gateway, primary first."
            )
        wait_seconds = wait_timeout.to_seconds()
        if not Token.is_unresolved(wait_seconds) and wait_problem(int(wait_seconds)):
            raise TrustgridConfigError(
                "wait_timeout",
                wait_timeout.to_human_string(),
                f"give between 1 and {MAX_WAIT_SECONDS // 60} minutes (CloudFormation waits one hour at most).",
            )
        if not 8 <= root_volume_size_gib <= 16384:
            raise TrustgridConfigError(
                "root_volume_size_gib", root_volume_size_gib, "give 8 to 16384 GiB (default 30)."
            )

        self.cluster_name = cluster_name
        self.interface_names = interface_names or INTERFACE_NAMES[generation]
        self.generation = generation
        self.vpc = vpc or self._default_vpc()
        vpc_cidr = self._vpc_cidr()
        for index, cidr in enumerate(edge_cidrs):
            self._refuse_overlap(f"edge_cidrs[{index}]", cidr, vpc_cidr)
        lan_cidrs = (
            check_cidrs("lan_source_cidrs", lan_source_cidrs)
            if lan_source_cidrs is not None
            else [vpc_cidr or self.vpc.vpc_cidr_block]
        )
        placements = self._place(wan_subnets, lan_subnets)

        stack = Stack.of(self)
        self.provider = TrustgridProvider.of(self, api_secret=api_secret, api_url=api_url)

        # -- security groups --------------------------------------------------------------
        self.wan_security_group = self._wan_security_group(
            tunnel_port=tunnel_port,
            tunnel_udp=tunnel_udp,
            edge_source_cidrs=edge_source_cidrs,
            control_plane_cidrs=control_plane_cidrs,
            https_egress_cidrs=https_egress_cidrs,
            package_mirror_cidrs=package_mirror_cidrs,
            dns_server_cidrs=dns_server_cidrs,
        )
        self.lan_security_group = ec2.SecurityGroup(
            self, "LanSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description=f"Trustgrid {cluster_name} LAN: traffic between LAN-side networks and edge sites",
        )  # fmt: skip
        for cidr in lan_cidrs:
            self.lan_security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.all_traffic(), "LAN-side networks")
            self.lan_security_group.add_egress_rule(ec2.Peer.ipv4(cidr), ec2.Port.all_traffic(), "LAN-side networks")
        self.heartbeat_security_group = ec2.SecurityGroup(
            self, "HeartbeatSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description=f"Trustgrid {cluster_name} heartbeat between the two members only",
        )  # fmt: skip
        heartbeat = ec2.Port.tcp(heartbeat_port)
        self.heartbeat_security_group.add_ingress_rule(self.heartbeat_security_group, heartbeat, "Cluster heartbeat")
        self.heartbeat_security_group.add_egress_rule(self.heartbeat_security_group, heartbeat, "Cluster heartbeat")
        self.connections = ec2.Connections(security_groups=[self.lan_security_group])
        wan_groups: list[ec2.ISecurityGroup] = [self.wan_security_group]
        lan_groups: list[ec2.ISecurityGroup] = [self.lan_security_group]
        (lan_groups if heartbeat_interface is HeartbeatInterface.LAN else wan_groups).append(
            self.heartbeat_security_group
        )

        # -- IAM: the active member rewrites exactly the managed route tables --------------
        self.route_table_ids = self._managed_route_tables(placements, extra_route_table_ids)
        self.role = iam.Role(
            self,
            "GatewayRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Trustgrid {cluster_name} gateways: route failover in the managed route tables",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="DescribeRouteTables", actions=["ec2:DescribeRouteTables"], resources=["*"])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FailoverRoutes",
                actions=["ec2:CreateRoute", "ec2:DeleteRoute"],
                resources=[
                    stack.format_arn(service="ec2", resource="route-table", resource_name=table_id)
                    for table_id in self.route_table_ids
                ],
            )
        )
        self.instance_profile = iam.InstanceProfile(self, "GatewayInstanceProfile", role=self.role)
        acknowledge(
            self.role,
            "ec2:DescribeRouteTables supports no resource-level permissions.",
            "AwsSolutions-IAM5[Resource::*]",
        )

        # -- image ------------------------------------------------------------------------
        if machine_image_id is not None:
            if not is_unresolved(machine_image_id) and not machine_image_id.startswith("ami-"):
                raise TrustgridConfigError("machine_image_id", machine_image_id, "give an AMI ID such as 'ami-0abc…'.")
            self.image_id = machine_image_id
        else:
            image = CustomResource(
                self,
                "Image",
                service_token=self.provider.service_token,
                resource_type=IMAGE_TYPE,
                service_timeout=SERVICE_TIMEOUT,
                properties=ImageProperties(
                    owner=TRUSTGRID_AMI_OWNER,
                    name_pattern=IMAGE_NAME_PATTERNS[generation],
                    interface_naming=generation.value,
                    refresh_token=image_refresh_token or "",
                ).to_properties(),
            )
            self.image_id = image.get_att_string("ImageId")

        # -- gateways ---------------------------------------------------------------------
        self.gateways: list[TrustgridGateway] = []
        for index, (construct_name, (wan_subnet, lan_subnet)) in enumerate(
            zip(("Primary", "Secondary"), placements, strict=True)
        ):
            self.gateways.append(
                TrustgridGateway(
                    self,
                    construct_name,
                    node_name=names[index],
                    instance_type=instance_type,
                    image_id=self.image_id,
                    wan_subnet=wan_subnet,
                    lan_subnet=lan_subnet,
                    wan_security_groups=wan_groups,
                    lan_security_groups=lan_groups,
                    role=self.role,
                    instance_profile=self.instance_profile,
                    provider=self.provider,
                    license_secret=license_secrets[index] if license_secrets is not None else None,
                    node_removal_policy=node_removal_policy,
                    termination_protection=termination_protection,
                    root_volume_size_gib=root_volume_size_gib,
                    enroll_endpoint=enroll_endpoint,
                )
            )
        self.primary, self.secondary = self.gateways

        # -- the cluster in Trustgrid -----------------------------------------------------
        properties = ClusterProperties(
            name=cluster_name,
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
            edge_cidrs=tuple(edge_cidrs),
            route_table_ids=tuple(self.route_table_ids),
            lan_interface_name=self.interface_names.lan,
            lan_interface_override=interface_names is not None,
            heartbeat_interface=heartbeat_interface,
            heartbeat_port=heartbeat_port,
            tunnel=TunnelProperties(
                port=tunnel_port,
                udp=tunnel_udp,
                max_ingress_mbps=max_ingress_mbps,
                max_client_write_mbps=max_client_write_mbps,
            ),
            failback_mode=failback_mode,
            verify_health=verify_health,
            verify_routes=verify_routes,
            wait_timeout_seconds=int(wait_seconds),
        )
        self.cluster = CustomResource(
            self,
            "Cluster",
            service_token=self.provider.service_token,
            resource_type=CLUSTER_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties=properties.to_properties(),
        )
        for gateway in self.gateways:
            self.cluster.node.add_dependency(gateway.instance)
        self.cluster_fqdn = self.cluster.get_att_string("ClusterFqdn")
        self._outputs()

    # -- helpers ----------------------------------------------------------------------------

    def _wan_security_group(
        self,
        *,
        tunnel_port: int,
        tunnel_udp: bool,
        edge_source_cidrs: Sequence[str],
        control_plane_cidrs: Sequence[str],
        https_egress_cidrs: Sequence[str],
        package_mirror_cidrs: Sequence[str],
        dns_server_cidrs: Sequence[str],
    ) -> ec2.SecurityGroup:
        """Tunnels in from the edge sites; out only what first boot and the node need, each rule with its reason."""
        group = ec2.SecurityGroup(
            self, "WanSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description=f"Trustgrid {self.cluster_name} WAN: tunnels in; control plane, AWS APIs, mirrors out",
        )  # fmt: skip
        protocols = [("TCP", ec2.Port.tcp(tunnel_port))] + ([("UDP", ec2.Port.udp(tunnel_port))] if tunnel_udp else [])
        for cidr in edge_source_cidrs:
            for name, port in protocols:
                group.add_ingress_rule(_peer(cidr), port, f"Trustgrid tunnels from edge nodes ({name})")
        if any(cidr in ("0.0.0.0/0", "::/0") for cidr in edge_source_cidrs):
            acknowledge(
                group,
                "Edge sites connect to the gateways' tunnel port from addresses that are not known in advance, as "
                "Trustgrid documents for gateways; narrow edge_source_cidrs when they are known.",
                "AwsSolutions-EC23",
            )
        for cidr in control_plane_cidrs:
            for number in CONTROL_PLANE_PORTS:
                group.add_egress_rule(_peer(cidr), ec2.Port.tcp(number), f"Trustgrid control plane (TCP {number})")
        for cidr in https_egress_cidrs:
            group.add_egress_rule(
                _peer(cidr), ec2.Port.tcp(443), "AWS APIs (route failover, license at first boot), enroll endpoint"
            )
        for cidr in package_mirror_cidrs:
            group.add_egress_rule(_peer(cidr), ec2.Port.tcp(80), "Ubuntu package mirrors (first-boot package install)")
        for cidr in dns_server_cidrs:
            group.add_egress_rule(_peer(cidr), ec2.Port.tcp(53), "DNS to the configured DNS servers (TCP)")
            group.add_egress_rule(_peer(cidr), ec2.Port.udp(53), "DNS to the configured DNS servers (UDP)")
        return group

    def _default_vpc(self) -> ec2.IVpc:
        return ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Wan", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="Lan", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
        )

    def _vpc_cidr(self) -> str | None:
        """The VPC CIDR as a literal, when it is known at synth time."""
        cidr = self.vpc.vpc_cidr_block
        if not is_unresolved(cidr):
            return cidr
        default_child = self.vpc.node.default_child
        literal = getattr(default_child, "cidr_block", None) if isinstance(default_child, ec2.CfnVPC) else None
        return literal if isinstance(literal, str) and not is_unresolved(literal) else None

    @staticmethod
    def _refuse_overlap(setting: str, cidr: str, vpc_cidr: str | None) -> None:
        edge, vpc = check_cidr(setting, cidr), check_cidr("vpc", vpc_cidr) if vpc_cidr else None
        if edge is not None and vpc is not None and edge.version == vpc.version and edge.overlaps(vpc):
            raise TrustgridConfigError(
                setting,
                cidr,
                f"it overlaps the VPC CIDR {vpc_cidr}. The edge CIDR is the edge sites' address space and must lie "
                "outside the VPC, or AWS cannot route it to the gateways.",
            )

    def _place(
        self, wan_selection: ec2.SubnetSelection | None, lan_selection: ec2.SubnetSelection | None
    ) -> list[tuple[ec2.ISubnet, ec2.ISubnet]]:
        """(WAN subnet, LAN subnet) for the primary and the secondary, in two different AZs."""
        wan = _select(self.vpc, wan_selection or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC))
        if lan_selection is None:
            if not (self.vpc.private_subnets or self.vpc.isolated_subnets):
                raise TrustgridConfigError(
                    "lan_subnets", "no private subnets", "the VPC needs a private subnet in each of two AZs."
                )
            kind = ec2.SubnetType.PRIVATE_WITH_EGRESS if self.vpc.private_subnets else ec2.SubnetType.PRIVATE_ISOLATED
            lan_selection = ec2.SubnetSelection(subnet_type=kind)
        lan = _select(self.vpc, lan_selection)
        if not wan:
            raise TrustgridConfigError("wan_subnets", "no subnets", "the VPC needs a public subnet in each of two AZs.")
        if not lan:
            raise TrustgridConfigError(
                "lan_subnets", "no subnets", "the VPC needs a private subnet in each of two AZs."
            )
        lan_by_az: dict[str, ec2.ISubnet] = {}
        for subnet in lan:
            lan_by_az.setdefault(subnet.availability_zone, subnet)
        if len(lan_by_az) < 2:
            raise TrustgridConfigError(
                "lan_subnets",
                [s.subnet_id for s in lan],
                f"every selected private subnet is in {next(iter(lan_by_az))}; both gateways would sit in one "
                "availability zone. Select private subnets in two different AZs.",
            )
        wan_by_az: dict[str, ec2.ISubnet] = {}
        for subnet in wan:
            wan_by_az.setdefault(subnet.availability_zone, subnet)
        placements = []
        for az, lan_subnet in list(lan_by_az.items())[:2]:
            if az not in wan_by_az:
                raise TrustgridConfigError(
                    "wan_subnets",
                    [s.subnet_id for s in wan],
                    f"there is no public subnet in {az}, where a gateway's LAN subnet is. Add a public subnet "
                    "in that AZ or select LAN subnets in AZs that have one.",
                )
            placements.append((wan_by_az[az], lan_subnet))
        return placements

    @staticmethod
    def _managed_route_tables(placements: list[tuple[ec2.ISubnet, ec2.ISubnet]], extra: Sequence[str]) -> list[str]:
        tables: list[str] = []
        for _, lan_subnet in placements:
            try:
                table_id = lan_subnet.route_table.route_table_id
            except RuntimeError:  # an imported subnet whose route table was not given
                table_id = None
            if not table_id:
                raise TrustgridConfigError(
                    "lan_subnets",
                    lan_subnet.subnet_id,
                    "the subnet has no known route table. When importing a VPC, pass the private subnets' "
                    "route table IDs (private_subnet_route_table_ids or isolated_subnet_route_table_ids).",
                )
            if table_id not in tables:
                tables.append(table_id)
        tables.extend(t for t in extra if t not in tables)
        return tables

    def _outputs(self) -> None:
        self.fqdn_output = CfnOutput(
            self, "ClusterFqdn", value=self.cluster_fqdn, description=f"{self.cluster_name}: Trustgrid FQDN"
        )
        for gateway in self.gateways:
            prefix = gateway.node.id
            label = f"{self.cluster_name} {gateway.node_name}"
            CfnOutput(self, f"{prefix}InstanceId", value=gateway.instance_id, description=f"{label}: instance ID")
            CfnOutput(
                self, f"{prefix}WanPublicIp", value=gateway.wan_public_ip,
                description=f"{label}: WAN Elastic IP (edge sites connect here)",
            )  # fmt: skip
            CfnOutput(self, f"{prefix}LanEniId", value=gateway.lan_eni_id, description=f"{label}: LAN ENI")
            CfnOutput(self, f"{prefix}LanPrivateIp", value=gateway.lan_private_ip, description=f"{label}: LAN IP")
        for name, group in (
            ("Wan", self.wan_security_group),
            ("Lan", self.lan_security_group),
            ("Heartbeat", self.heartbeat_security_group),
        ):
            CfnOutput(self, f"{name}SecurityGroupId", value=group.security_group_id, description=f"{name} SG")


def _select(vpc: ec2.IVpc, selection: ec2.SubnetSelection) -> list[ec2.ISubnet]:
    """``vpc.select_subnets`` for a ``SubnetSelection`` value (Python's binding takes its fields as keywords)."""
    fields = (
        "availability_zones",
        "one_per_az",
        "subnet_filters",
        "subnet_group_name",
        "subnet_type",
        "subnets",
    )
    given = {name: getattr(selection, name) for name in fields if getattr(selection, name) is not None}
    return list(vpc.select_subnets(**given).subnets)


def _peer(cidr: str) -> ec2.IPeer:
    return ec2.Peer.ipv6(cidr) if ":" in cidr else ec2.Peer.ipv4(cidr)
