"""trustgrid_ha: an AWS CDK v2 construct library for highly available Trustgrid gateway clusters in AWS."""

from trustgrid_ha_runtime.contract import (
    DEFAULT_API_URL,
    ROUTE_TABLE_PATTERN,
    FailbackMode,
    GatewayType,
    HeartbeatInterface,
    cidrs_overlap,
)

from .cluster import TrustgridHaCluster
from .config import CONTROL_PLANE_CIDRS, ClusterConfig
from .errors import Problem, TrustgridConfigError
from .gateway import TrustgridGateway
from .instance_types import InstanceGeneration, InterfaceNames
from .nag import acknowledge
from .provider import TrustgridProvider
from .regions import REGION_CODE, region_problem
from .virtual_network import AccessPolicy, Nat, VirtualNetwork, VpnRoute
from .vpc import AVAILABILITY_ZONE, DEFAULT_VPC_CIDR, SUBNET_ID, VPC_ID, gateway_vpc, vpc_cidr_problem, zone_problem

__version__ = "0.2.0"

__all__ = [
    "AVAILABILITY_ZONE",
    "CONTROL_PLANE_CIDRS",
    "DEFAULT_API_URL",
    "DEFAULT_VPC_CIDR",
    "REGION_CODE",
    "ROUTE_TABLE_PATTERN",
    "SUBNET_ID",
    "VPC_ID",
    "AccessPolicy",
    "ClusterConfig",
    "FailbackMode",
    "GatewayType",
    "HeartbeatInterface",
    "InstanceGeneration",
    "InterfaceNames",
    "Nat",
    "Problem",
    "TrustgridConfigError",
    "TrustgridGateway",
    "TrustgridHaCluster",
    "TrustgridProvider",
    "VirtualNetwork",
    "VpnRoute",
    "__version__",
    "acknowledge",
    "cidrs_overlap",
    "gateway_vpc",
    "region_problem",
    "vpc_cidr_problem",
    "zone_problem",
]
