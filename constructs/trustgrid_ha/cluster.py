"""The L3 construct: an HA Trustgrid gateway cluster across two availability zones."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from aws_cdk import CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .errors import (
    TrustgridConfigError,
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
from .provider import MAX_CLUSTER_WAIT, SERVICE_TIMEOUT, TrustgridProvider
from .user_data import DEFAULT_ENROLL_ENDPOINT

DEFAULT_API_URL = "https://api.trustgrid.io"
DEFAULT_WAIT = Duration.minutes(45)
TUNNEL_PORT = 8443
CONTROL_PLANE_PORTS = (443, 8443)


class HeartbeatInterface(Enum):
    """The interface the members' TCP heartbeat uses."""

    LAN = "LAN"
    WAN = "WAN"


class FailbackMode(Enum):
    """What the cluster does when the configured active member is healthy again."""

    AUTO = "autoFailback"
    MANUAL = "manualFailback"


class TrustgridHaCluster(Construct):
    """Two Trustgrid gateways in two availability zones, configured as one HA cluster.

    Creates both gateways (WAN and LAN interfaces, Elastic IPs, IMDSv2,
    encrypted gp3 root volumes, auto-recovery alarms), the WAN, LAN and
    heartbeat security groups, one instance role that may rewrite exactly the
    managed route tables, and custom resources that mint the node licenses,
    resolve the vendor AMI once and configure the cluster through the Trustgrid
    API: members, heartbeat, LAN routes and the AWS route-table entries for the
    edge CIDRs, which the active member then owns.
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
        heartbeat_port: int = 9000,
        heartbeat_interface: HeartbeatInterface = HeartbeatInterface.LAN,
        edge_source_cidrs: Sequence[str] = ("0.0.0.0/0",),
        lan_source_cidrs: Sequence[str] | None = None,
        extra_route_table_ids: Sequence[str] = (),
        failback_mode: FailbackMode = FailbackMode.AUTO,
        cluster_ip_failover: bool = False,
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
        :param instance_type: An x86_64 type of a family Trustgrid supports. @default - ``c6i.large``.
        :param interface_names: Names the node OS gives its WAN and LAN interfaces.
            @default - derived from the instance family (gen1 eth0/eth1, gen2 ens5/ens6, gen3 enp39s0/enp40s0).
        :param machine_image_id: An explicit AMI ID. @default - the newest Trustgrid image for the instance
            generation, resolved once on create and kept on later deploys.
        :param image_refresh_token: Change this value to resolve the newest image again, which replaces
            both gateways. @default - no token.
        :param heartbeat_port: TCP port of the members' heartbeat. @default - 9000.
        :param heartbeat_interface: Interface that carries the heartbeat. @default - LAN.
        :param edge_source_cidrs: Sources allowed to open tunnels to the WAN interfaces (TCP and UDP 8443).
            @default - ``["0.0.0.0/0"]``, as Trustgrid documents for gateways.
        :param lan_source_cidrs: LAN-side networks that route the edge CIDRs through the gateways and may send
            them traffic. @default - the VPC CIDR.
        :param extra_route_table_ids: More route tables in the same VPC whose edge-CIDR routes the active
            member manages. @default - none: only the LAN subnets' route tables.
        :param failback_mode: @default - ``FailbackMode.AUTO``.
        :param cluster_ip_failover: Also grant the permissions for Trustgrid's cluster-IP failover (same AZ).
            @default - false.
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
        check_name("cluster_name", cluster_name)
        names = list(gateway_names) if gateway_names is not None else [f"{cluster_name}-a", f"{cluster_name}-b"]
        if len(names) != 2 or names[0] == names[1]:
            raise TrustgridConfigError("gateway_names", names, "give two different node names, primary first.")
        for index, name in enumerate(names):
            check_name(f"gateway_names[{index}]", name)
        check_cidrs("edge_cidrs", edge_cidrs)
        check_cidrs("edge_source_cidrs", edge_source_cidrs)
        check_port("heartbeat_port", heartbeat_port, reserved={TUNNEL_PORT: "Trustgrid tunnel port (TCP/UDP 8443)"})
        for index, table_id in enumerate(extra_route_table_ids):
            check_route_table_id(f"extra_route_table_ids[{index}]", table_id)
        generation = generation_of(instance_type)
        if license_secrets is not None and len(license_secrets) != 2:
            raise TrustgridConfigError(
                "license_secrets", len(license_secrets), "give two secrets, one license per gateway, primary first."
            )
        if not Token.is_unresolved(wait_timeout.to_seconds()) and not (
            60 <= wait_timeout.to_seconds() <= MAX_CLUSTER_WAIT.to_seconds()
        ):
            raise TrustgridConfigError(
                "wait_timeout",
                wait_timeout.to_human_string(),
                f"give between 1 and {MAX_CLUSTER_WAIT.to_minutes()} minutes (CloudFormation waits one hour at most).",
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
        self.wan_security_group = ec2.SecurityGroup(
            self, "WanSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description=f"Trustgrid {cluster_name} WAN: tunnels in, control plane and AWS API out",
        )  # fmt: skip
        for cidr in edge_source_cidrs:
            peer = ec2.Peer.ipv4(cidr) if ":" not in cidr else ec2.Peer.ipv6(cidr)
            self.wan_security_group.add_ingress_rule(peer, ec2.Port.tcp(TUNNEL_PORT), "Trustgrid tunnels (TCP)")
            self.wan_security_group.add_ingress_rule(peer, ec2.Port.udp(TUNNEL_PORT), "Trustgrid tunnels (UDP)")
        if any(cidr in ("0.0.0.0/0", "::/0") for cidr in edge_source_cidrs):
            acknowledge(
                self.wan_security_group,
                "Edge sites connect to the gateways' tunnel port (8443) from addresses that are not known in "
                "advance, as Trustgrid documents for gateways; narrow edge_source_cidrs when they are known.",
                "AwsSolutions-EC23",
            )
        for port in CONTROL_PLANE_PORTS:
            self.wan_security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(port), "Trustgrid control plane and AWS API endpoints"
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
        nag_reasons = ["ec2:DescribeRouteTables supports no resource-level permissions."]
        if cluster_ip_failover:
            nag_reasons.append("ec2:DescribeNetworkInterfaces/DescribeInstances support no resource-level permissions.")
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ClusterIpDescribe",
                    actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeInstances"],
                    resources=["*"],
                )
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
                resource_type="Custom::TrustgridImage",
                service_timeout=SERVICE_TIMEOUT,
                properties={
                    "Owner": TRUSTGRID_AMI_OWNER,
                    "NamePattern": IMAGE_NAME_PATTERNS[generation],
                    "RefreshToken": image_refresh_token or "",
                },
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
        if cluster_ip_failover:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ClusterIpFailover",
                    actions=["ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                    resources=[
                        stack.format_arn(service="ec2", resource="network-interface", resource_name=g.lan_eni_id)
                        for g in self.gateways
                    ],
                )
            )
        acknowledge(self.role, " ".join(nag_reasons), "AwsSolutions-IAM5[Resource::*]")
        self.primary, self.secondary = self.gateways

        # -- the cluster in Trustgrid -----------------------------------------------------
        self.cluster = CustomResource(
            self,
            "Cluster",
            service_token=self.provider.service_token,
            resource_type="Custom::TrustgridCluster",
            service_timeout=SERVICE_TIMEOUT,
            properties={
                "ClusterName": cluster_name,
                "Members": [
                    {
                        "Uid": g.node_uid,
                        "Name": g.node_name,
                        "LanEniId": g.lan_eni_id,
                        "LanIp": g.lan_private_ip,
                        "WanIp": g.wan_private_ip,
                        "LanSubnetId": g.lan_subnet.subnet_id,
                    }
                    for g in self.gateways
                ],
                "HeartbeatInterface": heartbeat_interface.value,
                "HeartbeatPort": str(heartbeat_port),
                "LanInterfaceName": self.interface_names.lan,
                "EdgeCidrs": list(edge_cidrs),
                "RouteTableIds": self.route_table_ids,
                "FailbackMode": failback_mode.value,
                "VerifyHealth": str(verify_health).lower(),
                "VerifyRoutes": str(verify_routes).lower(),
                "WaitTimeoutSeconds": str(int(wait_timeout.to_seconds())),
            },
        )
        for gateway in self.gateways:
            self.cluster.node.add_dependency(gateway.instance)
        self.cluster_fqdn = self.cluster.get_att_string("ClusterFqdn")
        self._outputs()

    # -- helpers ----------------------------------------------------------------------------

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
