"""trustgrid_ha: an AWS CDK v2 construct library for highly available Trustgrid gateway clusters in AWS."""

from trustgrid_ha_runtime.contract import DEFAULT_API_URL, FailbackMode, HeartbeatInterface, cidrs_overlap

from .cluster import TrustgridHaCluster
from .config import CONTROL_PLANE_CIDRS, ClusterConfig
from .errors import Problem, TrustgridConfigError
from .gateway import TrustgridGateway
from .instance_types import InstanceGeneration, InterfaceNames
from .nag import acknowledge
from .provider import TrustgridProvider
from .regions import region_problem
from .vpc import DEFAULT_VPC_CIDR, gateway_vpc, vpc_cidr_problem

__version__ = "0.2.0"

__all__ = [
    "CONTROL_PLANE_CIDRS",
    "DEFAULT_API_URL",
    "DEFAULT_VPC_CIDR",
    "ClusterConfig",
    "FailbackMode",
    "HeartbeatInterface",
    "InstanceGeneration",
    "InterfaceNames",
    "Problem",
    "TrustgridConfigError",
    "TrustgridGateway",
    "TrustgridHaCluster",
    "TrustgridProvider",
    "__version__",
    "acknowledge",
    "cidrs_overlap",
    "gateway_vpc",
    "region_problem",
    "vpc_cidr_problem",
]
