"""Which Trustgrid node generation an instance type belongs to, and what follows from it.

The rules are the vendor AWS module's: gen2 is a fixed list of families, gen3 is
every family matching ``^[cm][78][ai]`` (c7i, c7a, m8i, m8a, their ``-flex`` and
other variants), and anything else, including the deprecated gen1 (t2), is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .errors import TrustgridConfigError, is_unresolved


class InstanceGeneration(Enum):
    """Trustgrid node generations on AWS; each has its own image and names its network interfaces differently.

    The value is the image's ``InterfaceNaming`` tag.
    """

    GEN2 = "gen2"
    GEN3 = "gen3"


@dataclass(frozen=True)
class InterfaceNames:
    """The names the node OS gives its WAN and LAN network interfaces."""

    wan: str
    lan: str


INTERFACE_NAMES = {
    InstanceGeneration.GEN2: InterfaceNames("ens5", "ens6"),
    InstanceGeneration.GEN3: InterfaceNames("enp39s0", "enp40s0"),
}

#: Name patterns of the vendor images (owner :data:`TRUSTGRID_AMI_OWNER`).
IMAGE_NAME_PATTERNS = {
    InstanceGeneration.GEN2: "trustgrid-node-2204-*",
    InstanceGeneration.GEN3: "trustgrid-node-gen3-2204-*",
}
TRUSTGRID_AMI_OWNER = "079972220921"

GEN2_FAMILIES = ("t3", "t3a", "c5", "c5n", "c5a", "c6i", "c6in", "c6a")
GEN3_FAMILY = re.compile(r"^[cm][78][ai][a-z-]*\Z")
BURSTABLE_FAMILIES = frozenset({"t3", "t3a"})
GRAVITON = re.compile(r"^[a-z]+\d+g[a-z-]*\Z")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+(-[a-z0-9]+)*\Z")
#: The sizes of each supported family, from the EC2 API model of botocore 1.44.8 (``InstanceType``);
#: tests/constructs/test_validation.py compares it with the installed botocore. A gen3-looking family that is not
#: in it is refused: EC2 (and CDK's own template validation) knows no such type.
_EIGHTH = (  # the sizes most eighth-generation families share
    "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge 96xlarge metal-48xl metal-96xl"
)
_SIZES = {
    "c5": "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge metal",
    "c5a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "c5n": "large xlarge 2xlarge 4xlarge 9xlarge 18xlarge metal",
    "c6a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal",
    "c6i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "c6in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "c7a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal-48xl",
    "c7i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl",
    "c7i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c8a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl",
    "c8i": _EIGHTH,
    "c8i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c8ib": _EIGHTH,
    "c8id": _EIGHTH,
    "c8in": _EIGHTH,
    "c8ine": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge",
    "m7a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal-48xl",
    "m7i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl",
    "m7i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m8a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl",
    "m8azn": "medium large xlarge 3xlarge 6xlarge 12xlarge 24xlarge metal-12xl metal-24xl",
    "m8i": _EIGHTH,
    "m8i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m8ib": _EIGHTH,
    "m8id": _EIGHTH,
    "m8idb": _EIGHTH,
    "m8idn": _EIGHTH,
    "m8in": _EIGHTH,
    "m8ine": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge",
    "t3": "nano micro small medium large xlarge 2xlarge",
    "t3a": "nano micro small medium large xlarge 2xlarge",
}
SIZES: dict[str, tuple[str, ...]] = {family: tuple(sizes.split()) for family, sizes in _SIZES.items()}
SUPPORTED = "gen2 families " + ", ".join(GEN2_FAMILIES) + "; gen3 families c7i, c7a, c8i, c8a, m7i, m7a, m8i, m8a"


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


#: Sizes below the vendor module's default (t3.small): the node's JVM takes 512 MB to 1 GB of memory.
TOO_SMALL = frozenset({"nano", "micro"})


def generation_of(instance_type: str, setting: str = "instance_type") -> InstanceGeneration:
    """The generation of ``instance_type``, by the vendor module's rules; refuses everything else."""
    if is_unresolved(instance_type) or not isinstance(instance_type, str) or not INSTANCE_TYPE.match(instance_type):
        raise TrustgridConfigError(setting, instance_type, "give a concrete instance type such as 'c6i.large'.")
    family = family_of(instance_type)
    if family in ("t2", "t1"):
        raise TrustgridConfigError(
            setting,
            instance_type,
            "t2 is Trustgrid's deprecated gen1 family: its images name their interfaces eth0/eth1 and Trustgrid's "
            "own AWS module refuses it. Choose a gen2 type such as 't3.medium' (burstable) or 'c6i.large'.",
        )
    if GRAVITON.match(family):
        raise TrustgridConfigError(
            setting,
            instance_type,
            "Trustgrid nodes are x86_64 only; Graviton (ARM) types are not supported. "
            "Choose an x86_64 type such as 'c6i.large' or 'c7i.large'.",
        )
    if family not in GEN2_FAMILIES and not GEN3_FAMILY.match(family):
        raise TrustgridConfigError(
            setting, instance_type, f"the family {family!r} is not one Trustgrid supports. Choose one of: {SUPPORTED}."
        )
    if family not in SIZES:
        known = ", ".join(f for f in SIZES if GEN3_FAMILY.match(f))
        raise TrustgridConfigError(
            setting, instance_type, f"EC2 has no instance family {family!r}. The gen3 families are {known}."
        )
    size = instance_type.split(".", 1)[1]
    if family in SIZES and size not in SIZES[family]:
        raise TrustgridConfigError(
            setting, instance_type, f"the family {family} has no size {size!r}; it has {', '.join(SIZES[family])}."
        )
    if size in TOO_SMALL:
        raise TrustgridConfigError(
            setting,
            instance_type,
            f"{size} is below the smallest size Trustgrid's own AWS module deploys (t3.small: 2 vCPU, 2 GiB; the "
            "node's Java service alone takes 0.5 to 1 GiB). Choose 'small' or larger, such as 't3.small'.",
        )
    return InstanceGeneration.GEN2 if family in GEN2_FAMILIES else InstanceGeneration.GEN3


def is_burstable(instance_type: str) -> bool:
    return family_of(instance_type) in BURSTABLE_FAMILIES
