"""Which Trustgrid node generation an instance type belongs to, and what follows from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .errors import TrustgridConfigError, is_unresolved


class InstanceGeneration(Enum):
    """Trustgrid node generations; each names its network interfaces differently."""

    GEN1 = "gen1"
    GEN2 = "gen2"
    GEN3 = "gen3"


@dataclass(frozen=True)
class InterfaceNames:
    """The names the node OS gives its WAN and LAN network interfaces."""

    wan: str
    lan: str


INTERFACE_NAMES = {
    InstanceGeneration.GEN1: InterfaceNames("eth0", "eth1"),
    InstanceGeneration.GEN2: InterfaceNames("ens5", "ens6"),
    InstanceGeneration.GEN3: InterfaceNames("enp39s0", "enp40s0"),
}

#: Name patterns of the vendor images (owner :data:`TRUSTGRID_AMI_OWNER`).
IMAGE_NAME_PATTERNS = {
    InstanceGeneration.GEN1: "trustgrid-node-2204-*",
    InstanceGeneration.GEN2: "trustgrid-node-2204-*",
    InstanceGeneration.GEN3: "trustgrid-node-gen3-2204-*",
}
TRUSTGRID_AMI_OWNER = "079972220921"

FAMILIES = {
    "t2": InstanceGeneration.GEN1,
    **dict.fromkeys(("t3", "t3a", "c5", "c5n", "c6i", "c6in", "c6a"), InstanceGeneration.GEN2),
    **dict.fromkeys(
        ("c7i", "c7i-flex", "c7a", "m7i", "m7i-flex", "m7a", "c8i", "c8a", "m8i", "m8a"), InstanceGeneration.GEN3
    ),
}
BURSTABLE_FAMILIES = frozenset({"t2", "t3", "t3a"})
GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*$")


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def generation_of(instance_type: str, setting: str = "instance_type") -> InstanceGeneration:
    """The generation of ``instance_type``; refuses Graviton and untested families."""
    if is_unresolved(instance_type) or "." not in instance_type:
        raise TrustgridConfigError(setting, instance_type, "give a concrete instance type such as 'c6i.large'.")
    family = family_of(instance_type)
    if GRAVITON.match(family):
        raise TrustgridConfigError(
            setting,
            instance_type,
            "Trustgrid nodes are x86_64 only; Graviton (ARM) types are not supported. "
            "Choose an x86_64 type such as 'c6i.large' or 'c7i.large'.",
        )
    generation = FAMILIES.get(family)
    if generation is None:
        raise TrustgridConfigError(
            setting,
            instance_type,
            f"the family {family!r} is not one Trustgrid supports. Choose one of: {', '.join(sorted(FAMILIES))}.",
        )
    return generation


def is_burstable(instance_type: str) -> bool:
    return family_of(instance_type) in BURSTABLE_FAMILIES
