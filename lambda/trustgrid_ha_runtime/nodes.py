"""What a Trustgrid node record says about a gateway: how far it has come, and its part in the cluster.

Two facts about "who is active" live in two places of each member's record, and they differ after every
failover (``shared/trustgrid-facts.md``, "Configured active member versus the member that holds the role"):

- :func:`holds_role`: the member that carries traffic and owns the AWS routes *now*, as the node itself
  reports it (``shadow.reported["cluster.master"]``, the string ``"true"``);
- :func:`configured_active`: the preferred member (``config.cluster.master``), which ``PUT
  /cluster/{fqdn}/active/{uid}`` sets. It does not tell who is active now.

Everything that asks "who is active" (status, health checks, alarms, the drill, the order of a rolling
change, the gate) reads :func:`holds_role`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from .contract import FIRST_BOOT_LOG, PLAYBOOK_LOG

#: The key of ``shadow.reported`` under which a member reports whether it holds the active role.
ROLE_KEY = "cluster.master"


class NodeState(Enum):
    """How far a gateway has come, as its Trustgrid record tells."""

    NOT_REGISTERED = "not registered"
    OFFLINE = "registered, offline"
    ONLINE = "online"


def node_state(record: Mapping[str, Any] | None) -> NodeState:
    """A 404 (None) means the node has not registered yet; a record tells whether it is connected."""
    if record is None:
        return NodeState.NOT_REGISTERED
    return NodeState.ONLINE if record.get("online") else NodeState.OFFLINE


NODE_ADVICE = {
    NodeState.NOT_REGISTERED: (
        "it never completed registration: read the instance's first-boot log "
        f"{FIRST_BOOT_LOG} (or its system log in the EC2 console), which says whether the license secret was "
        f"readable and how register.sh ended, and the vendor playbook's output in {PLAYBOOK_LOG}; check that "
        "the WAN interface reaches the Trustgrid control plane (TCP 443 and 8443), the AWS APIs (TCP 443) and "
        "the Ubuntu mirrors (TCP 80)"
    ),
    NodeState.OFFLINE: (
        "it registered but is not connected: check that the instance is running and passes its status checks, "
        "that the WAN security group still allows TCP 443 and 8443 out to the Trustgrid control plane, and the "
        "node's status in the Trustgrid portal"
    ),
}


def section(record: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """One section of a node's config (``gateway``, ``cluster``), empty when it has none."""
    value = ((record or {}).get("config") or {}).get(name)
    return value if isinstance(value, dict) else {}


def holds_role(record: Mapping[str, Any] | None) -> bool:
    """Whether the member reports that it holds the active role now (an offline member holds nothing)."""
    if record is None or not record.get("online"):
        return False
    reported = ((record.get("shadow") or {}).get("reported")) or {}
    return str(reported.get(ROLE_KEY, "")).lower() == "true"


def configured_active(record: Mapping[str, Any] | None) -> bool:
    """Whether the member is the cluster's configured (preferred) active member."""
    return section(record, "cluster").get("master") is True


def reported_lan_nic(record: Mapping[str, Any] | None) -> str | None:
    """The LAN interface name a registered node reports (``device.lan[0]``), if it reports one."""
    device = (record or {}).get("device")
    lan = device.get("lan") if isinstance(device, dict) else None
    if isinstance(lan, list) and lan and isinstance(lan[0], str) and lan[0]:
        return lan[0]
    return None
