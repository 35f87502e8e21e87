"""trustgrid_ha: an AWS CDK v2 construct library for highly available Trustgrid gateway clusters in AWS."""

from .cluster import FailbackMode, HeartbeatInterface, TrustgridHaCluster
from .errors import TrustgridConfigError
from .gateway import TrustgridGateway
from .instance_types import InstanceGeneration, InterfaceNames
from .provider import TrustgridProvider

__version__ = "0.1.0"

__all__ = [
    "FailbackMode",
    "HeartbeatInterface",
    "InstanceGeneration",
    "InterfaceNames",
    "TrustgridConfigError",
    "TrustgridGateway",
    "TrustgridHaCluster",
    "TrustgridProvider",
    "__version__",
]
