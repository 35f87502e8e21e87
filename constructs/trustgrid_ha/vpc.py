"""Where the gateways go: the default VPC layout, and the placement of the two gateways in a VPC."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from trustgrid_ha_runtime.contract import APPLIANCE_BRIDGE, cidrs_overlap

from .errors import Problem, TrustgridConfigError, is_unresolved

DEFAULT_VPC_CIDR = "10.0.0.0/16"  # the CIDR aws-cdk-lib gives a Vpc by default


def vpc_cidr_problem(cidr: object, *, new_vpc: bool = True) -> str | None:
    """AWS's limits for a VPC's IPv4 CIDR: a network from /16 to /28. A ``new_vpc`` (:func:`gateway_vpc`'s
    layout of four /24 subnets) needs a /22 or larger; an existing VPC only AWS's limits."""
    try:
        network = ipaddress.ip_network(str(cidr), strict=True) if isinstance(cidr, str) and "/" in cidr else None
    except ValueError:
        network = None
    if network is None or network.version != 4:
        return "give an IPv4 network in CIDR notation with no host bits set, for example '10.60.0.0/16'."
    if not 16 <= network.prefixlen <= 28:
        layout = "; a two-AZ gateway VPC needs at least a /22" if new_vpc else ""
        return f"AWS accepts VPC CIDRs from /16 to /28{layout}."
    if _not_addressable(network):
        return (
            "a VPC cannot use loopback, link-local, multicast, reserved or 0.0.0.0/8 space; give a private range such "
            "as '10.60.0.0/16'."
        )
    if new_vpc and network.prefixlen > 22:
        return "the gateway VPC has four /24 subnets (public and private in two AZs); give a /22 or larger."
    if network.overlaps(ipaddress.ip_network(APPLIANCE_BRIDGE)):
        return (
            f"it overlaps {APPLIANCE_BRIDGE}, the gateway appliance's own container bridge: Trustgrid says to keep "
            "the node's interface addresses out of it. Give a VPC CIDR outside it."
        )
    return None


def _not_addressable(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return (
        network.is_loopback
        or network.is_link_local
        or network.is_multicast
        or network.is_reserved
        or network.network_address.packed[0] == 0
    )


def gateway_vpc(scope: Construct, construct_id: str, *, cidr: str = DEFAULT_VPC_CIDR) -> ec2.Vpc:
    """The zero-configuration VPC: a public (WAN) and a private isolated (LAN) /24 in each of two AZs, no NAT."""
    problem = vpc_cidr_problem(cidr) if not is_unresolved(cidr) else None
    if problem:
        raise TrustgridConfigError("vpc_cidr", cidr, problem)
    return ec2.Vpc(
        scope,
        construct_id,
        ip_addresses=ec2.IpAddresses.cidr(cidr),
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Wan", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="Lan", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
        ],
    )


def vpc_cidr_literal(vpc: ec2.IVpc) -> str | None:
    """The VPC CIDR as a literal, when it is known at synth time (not the dummy of a pending lookup)."""
    if pending_lookup(vpc):
        return None
    cidr = vpc_cidr_of(vpc)
    if cidr is not None and not is_unresolved(cidr):
        return cidr
    default_child = vpc.node.default_child
    literal = getattr(default_child, "cidr_block", None) if isinstance(default_child, ec2.CfnVPC) else None
    return literal if isinstance(literal, str) and not is_unresolved(literal) else None


def vpc_cidr_of(vpc: ec2.IVpc) -> str | None:
    """The VPC's CIDR (a literal or a token), or None for a VPC imported without one."""
    try:
        return vpc.vpc_cidr_block
    except RuntimeError:  # jsii: "'vpcCidrBlock' was not supplied when creating this VPC"
        return None


@dataclass(frozen=True)
class Placement:
    """One gateway's subnets: WAN (public) and LAN (private), in the same availability zone."""

    wan: ec2.ISubnet
    lan: ec2.ISubnet


def place(
    vpc: ec2.IVpc, wan_selection: ec2.SubnetSelection | None, lan_selection: ec2.SubnetSelection | None
) -> list[Placement]:
    """The primary's and the secondary's subnets, in two different AZs."""
    wan = select(vpc, wan_selection or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC))
    lan = select(vpc, lan_selection or _private(vpc))
    _refuse_foreign_zones(vpc, [*wan, *lan])
    _refuse_repeated_subnets(vpc)
    if not wan:
        fix = "the selection names no subnet of the VPC" if wan_selection else "the VPC needs a public subnet"
        raise TrustgridConfigError("wan_subnets", "no subnets", f"{fix}; give a public subnet in each of two AZs.")
    if not lan:
        fix = "the selection names no subnet of the VPC" if lan_selection else "the VPC needs a private subnet"
        raise TrustgridConfigError("lan_subnets", "no subnets", f"{fix}; give a private subnet in each of two AZs.")
    shared = sorted({s.subnet_id for s in wan} & {s.subnet_id for s in lan})
    if shared:
        setting = "wan_subnets" if wan_selection is not None and lan_selection is None else "lan_subnets"
        raise TrustgridConfigError(
            setting,
            f"{len(shared)} subnet(s) selected for both" if any(is_unresolved(i) for i in shared) else shared,
            "these subnets are selected as WAN and as LAN subnets; a gateway's LAN interface must sit in a private "
            "subnet of its own, apart from the public WAN subnet.",
        )
    lan_by_az = _by_az(lan)
    if len(lan_by_az) < 2:
        raise TrustgridConfigError(
            "lan_subnets",
            [s.subnet_id for s in lan],
            f"every selected private subnet is in {next(iter(lan_by_az))}; both gateways would sit in one "
            "availability zone. Select private subnets in two different AZs.",
        )
    wan_by_az = _by_az(wan)
    problems = [
        Problem(
            "wan_subnets",
            [s.subnet_id for s in wan],
            f"there is no public subnet in {az}, where a gateway's LAN subnet is. Add a public subnet in that AZ "
            "or select LAN subnets in AZs that have one.",
        )
        for az in list(lan_by_az)[:2]
        if az not in wan_by_az
    ]
    if problems:
        raise TrustgridConfigError.of(problems)
    return [Placement(wan_by_az[az], lan_subnet) for az, lan_subnet in list(lan_by_az.items())[:2]]


def managed_route_tables(
    vpc: ec2.IVpc, placements: Sequence[Placement], explicit: Sequence[str] | None, extra: Sequence[str]
) -> list[str]:
    """The route tables whose edge-CIDR routes the active member manages: by default the route table of every
    private (LAN-side) subnet of the VPC, in every AZ, not only the gateways' own; ``explicit`` replaces that
    list, ``extra`` extends it. Each once."""
    if explicit is not None:
        tables = list(dict.fromkeys(explicit))
    else:
        lan_side = [*vpc.private_subnets, *vpc.isolated_subnets]
        gateway_lans = [p.lan for p in placements]
        tables = list(dict.fromkeys(_route_table(s) for s in [*gateway_lans, *lan_side]))
    tables.extend(t for t in extra if t not in tables)
    return tables


def _route_table(subnet: ec2.ISubnet) -> str:
    try:
        table_id = subnet.route_table.route_table_id
    except RuntimeError:  # an imported subnet whose route table was not given
        table_id = None
    if not table_id:
        raise TrustgridConfigError(
            "lan_subnets",
            subnet.subnet_id,
            "the subnet has no known route table. When importing a VPC, pass the private subnets' route table "
            "IDs (private_subnet_route_table_ids or isolated_subnet_route_table_ids), or give route_table_ids.",
        )
    return table_id


#: What ``Vpc.from_lookup`` answers while the lookup has not run yet (the CLI runs it, then synthesizes again).
PENDING_LOOKUP_VPC_ID = "vpc-12345"


def pending_lookup(vpc: ec2.IVpc) -> bool:
    return vpc.vpc_id == PENDING_LOOKUP_VPC_ID


#: IDs of a VPC and a subnet (8 or 17 hexadecimal digits).
VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})\Z")
SUBNET_ID = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})\Z")
#: The availability zones CDK gives a stack with an account and region until the CLI has looked them up.
LOOKUP_PLACEHOLDER = re.compile(r"dummy\d[a-z]")
#: An availability zone's name, of any region.
AVAILABILITY_ZONE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]\Z")


def zone_problem(zone: object, region: str) -> str | None:
    """A standard availability zone of ``region``: its name plus a letter. A Local Zone (``us-east-1-bos-1a``) is
    refused: the gateways' Elastic IPs belong to the region's own network border group, and their instance types
    are rarely offered there."""
    if isinstance(zone, str) and region and re.fullmatch(re.escape(region) + r"-[a-z]+-\d+[a-z]", zone):
        return (f"{zone} is a Local Zone: the gateways' Elastic IPs and instance types are the region's; give a "
                f"standard availability zone of {region}, such as '{region}a'.")  # fmt: skip
    if isinstance(zone, str) and region and re.fullmatch(re.escape(region) + r"[a-z]", zone):
        return None
    return f"give an availability zone of {region or 'the region'}, such as '{region or 'us-east-1'}a'."


def _refuse_repeated_subnets(vpc: ec2.IVpc) -> None:
    """An imported VPC lists each subnet once (one subnet cannot stand for two zones), and zones of one region."""
    if pending_lookup(vpc):  # CDK's stand-in until the CLI has looked the VPC up
        return
    problems = []
    listed = [s.subnet_id for s in [*vpc.public_subnets, *vpc.private_subnets, *vpc.isolated_subnets]]
    for subnet in sorted({s for s in listed if listed.count(s) > 1 and not is_unresolved(s)}):
        problems.append(Problem("vpc", subnet, "the VPC lists this subnet twice (each zone has its own public and "
                                "private subnets); give each subnet once."))  # fmt: skip
    zones = [z for z in vpc.availability_zones if not is_unresolved(z) and AVAILABILITY_ZONE.match(z)]
    regions = {m.group(1) for m in (re.match(r"^([a-z]{2}(?:-[a-z]+)+-\d)", z) for z in zones) if m}
    if len(regions) > 1:
        problems.append(Problem("vpc", list(vpc.availability_zones), "a VPC lies in one region: give availability "
                                "zones of one region."))  # fmt: skip
    if problems:
        raise TrustgridConfigError.of(problems)


def _refuse_foreign_zones(vpc: ec2.IVpc, subnets: Sequence[ec2.ISubnet]) -> None:
    """With a known region, every subnet's AZ must be a standard zone of that region (``us-east-1a``; not a Local
    Zone): an imported VPC described with another region's AZ names cannot deploy."""
    region = Stack.of(vpc).region
    if is_unresolved(region) or pending_lookup(vpc):
        return
    known = {s.availability_zone for s in subnets if not is_unresolved(s.availability_zone)} - {""}
    # the placeholders CDK gives a new VPC until the CLI has looked the stack's zones up (dummy1a, dummy1b, ...)
    foreign = sorted(z for z in known if not LOOKUP_PLACEHOLDER.fullmatch(z))
    zones = list(vpc.availability_zones)
    problems = [
        Problem(
            f"vpc.availability_zones[{zones.index(name)}]" if name in zones else "vpc",
            name,
            f"{name} is not an availability zone of the stack's region {region}: {zone_problem(name, region)}",
        )
        for name in foreign
        if zone_problem(name, region) is not None
    ]
    if problems:
        raise TrustgridConfigError.of(problems)


def _private(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    if not (vpc.private_subnets or vpc.isolated_subnets):
        raise TrustgridConfigError(
            "lan_subnets", "no private subnets", "the VPC needs a private subnet in each of two AZs."
        )
    kind = ec2.SubnetType.PRIVATE_WITH_EGRESS if vpc.private_subnets else ec2.SubnetType.PRIVATE_ISOLATED
    return ec2.SubnetSelection(subnet_type=kind)


def _by_az(subnets: Sequence[ec2.ISubnet]) -> dict[str, ec2.ISubnet]:
    """The first subnet of each AZ (in an environment-agnostic stack each AZ is a distinct token)."""
    by_az: dict[str, ec2.ISubnet] = {}
    for subnet in subnets:
        by_az.setdefault(subnet.availability_zone, subnet)
    return by_az


def select(vpc: ec2.IVpc, selection: ec2.SubnetSelection) -> list[ec2.ISubnet]:
    """``vpc.select_subnets`` for a ``SubnetSelection`` value (Python's binding takes its fields as keywords)."""
    names = ("availability_zones", "one_per_az", "subnet_filters", "subnet_group_name", "subnet_type", "subnets")
    given = {name: getattr(selection, name) for name in names if getattr(selection, name) is not None}
    try:
        return list(vpc.select_subnets(**given).subnets)
    except RuntimeError:  # jsii: the VPC has no subnet group of that type (an imported VPC without public subnets)
        return []


def check_edges_outside(edge_cidrs: Sequence[str], vpc_cidr: str | None) -> None:
    """The edge CIDRs are the edge sites' address space: AWS cannot route any of it to the gateways from
    inside the VPC's own range."""
    if vpc_cidr is None or is_unresolved(edge_cidrs):
        return
    problems = [
        Problem(
            f"edge_cidrs[{index}]",
            cidr,
            f"it overlaps the VPC CIDR {vpc_cidr}. The edge CIDR is the edge sites' address space and must lie "
            "outside the VPC, or AWS cannot route it to the gateways.",
        )
        for index, cidr in enumerate(edge_cidrs)
        if not is_unresolved(cidr) and cidrs_overlap(cidr, vpc_cidr)
    ]
    if problems:
        raise TrustgridConfigError.of(problems)
