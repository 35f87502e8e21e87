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
GEN3_FAMILY = re.compile(r"^[cm][78][ai][a-z-]*$")
BURSTABLE_FAMILIES = frozenset({"t3", "t3a"})
GRAVITON = re.compile(r"^[a-z]+\d+g[a-z-]*$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
SUPPORTED = "gen2 families " + ", ".join(GEN2_FAMILIES) + "; gen3 families c7i, c7a, c8i, c8a, m7i, m7a, m8i, m8a"


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


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
    if family in GEN2_FAMILIES:
        return InstanceGeneration.GEN2
    if GEN3_FAMILY.match(family):
        return InstanceGeneration.GEN3
    raise TrustgridConfigError(
        setting, instance_type, f"the family {family!r} is not one Trustgrid supports. Choose one of: {SUPPORTED}."
    )


def is_burstable(instance_type: str) -> bool:
    return family_of(instance_type) in BURSTABLE_FAMILIES
