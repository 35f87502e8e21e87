"""Planned changes on a running pair, the way Trustgrid's own upgrade practice does them.

Before anything stops or restarts a member: the pair must be whole (both members online, exactly one holds the
active role, the cluster healthy), else the change is refused before anything changes. The member that does not
hold the role is worked on first; before the member that holds it is touched, the role is handed to the other
(``PUT /cluster/{fqdn}/active/{uid}``) and the change waits until the other holds it and every managed route
points at its LAN interface. A graceful hand-over moves traffic at once, without the heartbeat timeout that an
ungraceful failure needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .api import TrustgridClient
from .log import JsonLogger
from .nodes import NodeState, configured_active, holds_role, node_state


class DegradedPair(RuntimeError):
    """A planned change was refused because the pair is not whole; nothing was changed."""


def pair_problems(health: str | None, members: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """What keeps a planned stop or restart from being safe, one sentence each (``members``: node name to its
    record, None when it has not registered); empty when the pair is whole."""
    problems = [
        f"gateway {name} is {state.value}"
        for name, state in ((name, node_state(record)) for name, record in members.items())
        if state is not NodeState.ONLINE
    ]
    holders = [name for name, record in members.items() if holds_role(record)]
    if len(holders) != 1:
        problems.append(
            "no member holds the active role" if not holders else f"{' and '.join(holders)} all report the active role"
        )
    if health != "healthy":
        problems.append(f"cluster health is {health!r}, not 'healthy'")
    return problems


def refuse_degraded(what: str, problems: list[str]) -> DegradedPair:
    return DegradedPair(
        f"Refused before anything changed: {what} stops or restarts a gateway, and the pair is not whole ("
        + "; ".join(problems)
        + "). Restarting the other member now would take both gateways down. Bring the pair back (the node "
        "status in the Trustgrid portal, the instance's status checks), then deploy again."
    )


def hand_over(
    client: TrustgridClient,
    fqdn: str,
    to: tuple[str, str],
    record: Mapping[str, Any] | None,
    routed: bool,
    log: JsonLogger,
) -> bool:
    """One step of a graceful hand-over of the active role to ``to`` (uid, name): True once it holds the role
    and ``routed`` (every managed route points at its LAN interface). Until it holds the role, it is designated
    (again: in ``manualFailback`` mode a member that is configured already takes the role back only when
    designated); then the routes are waited for."""
    uid, name = to
    if holds_role(record) and routed:
        log.info("handover.done", node=name)
        return True
    if not holds_role(record):
        log.info("handover.designate", node=name, uid=uid, configured=configured_active(record))
        client.set_active_member(fqdn, uid)
    else:
        log.info("handover.waiting_for_routes", node=name)
    return False
