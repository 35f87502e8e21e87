"""Failover drill: make the standby the active member, and measure how long the cluster takes to follow.

Usage: ``python -m trustgrid_ha_tools.drill --secret-id NAME_OR_ARN --cluster FQDN [--api-url URL]
[--region R] [--failback] [--production --yes] [--timeout S] [--interval S] [--output drill.json]``
(``make drill CLUSTER=... SECRET=...``).

It designates the member that does not hold the active role as the cluster's configured active member through
the API (``PUT /cluster/{fqdn}/active/{uid}``), then watches until that member *holds the role* (what it reports in
``shadow.reported["cluster.master"]``, not the configured flag, which changes at once), every managed route
table sends every edge CIDR to its LAN interface and the cluster is healthy again, and prints the timeline in
seconds. ``--failback`` then does the same back. It refuses to run when the cluster is not healthy to begin
with. It asks for each cluster's FQDN to be typed back before it moves anything, unless given ``--yes``; a
cluster marked ``--production`` needs ``--yes`` in any case. On a timeout it says what it saw last.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from trustgrid_ha_runtime.api import TrustgridClient
from trustgrid_ha_runtime.log import JsonLogger
from trustgrid_ha_runtime.report import ClusterStatus, client_from_secret, cluster_status

from .cli import arguments, aws_clients, explain


class DrillRefused(RuntimeError):
    """The drill would not be safe or meaningful now."""


@dataclass
class Timeline:
    """Seconds from the request to each thing the cluster did."""

    direction: str
    events: list[tuple[float, str]] = field(default_factory=list)
    complete: bool = False

    def at(self, seconds: float, what: str) -> None:
        self.events.append((round(seconds, 1), what))


def failover(
    client: TrustgridClient,
    ec2: Any,
    fqdn: str,
    *,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.monotonic,
) -> Timeline:
    """One failover to the standby, watched until routes and health follow (or the timeout)."""
    before = cluster_status(client, ec2, fqdn)
    if not before.healthy or before.active is None:
        raise DrillRefused(f"{fqdn} is not healthy to begin with: " + "; ".join(before.problems or ["no active"]))
    old = before.active
    (new,) = [m for m in before.members if m.uid != old.uid]
    timeline = Timeline(f"{old.name} -> {new.name}")
    start = now()
    client.set_active_member(fqdn, new.uid)
    timeline.at(0.0, f"asked Trustgrid to make {new.name} the active member")
    seen: set[str] = set()
    status = before
    while now() - start <= timeout:
        sleep(interval)
        status = cluster_status(client, ec2, fqdn)
        _record(timeline, status, new.uid, now() - start, seen)
        if status.healthy and status.active is not None and status.active.uid == new.uid:
            timeline.complete = True
            timeline.at(now() - start, "cluster healthy, every route on the new active member")
            return timeline
    raise TimeoutError(
        f"The failover to {new.name} did not complete within {timeout:.0f} s. Last seen: health "
        f"{status.health!r}, active {status.active.name if status.active else 'none'}; "
        + "; ".join(status.problems or ["no problem reported"])
    )


def _record(timeline: Timeline, status: ClusterStatus, new_uid: str, seconds: float, seen: set[str]) -> None:
    if "role" not in seen and status.active is not None and status.active.uid == new_uid:
        seen.add("role")
        timeline.at(seconds, f"{status.active.name} is the active member")
    for route in status.routes:
        key = f"{route.route_table} {route.cidr}"
        if key not in seen and route.on_active_member and status.active is not None and status.active.uid == new_uid:
            seen.add(key)
            timeline.at(seconds, f"{route.route_table} sends {route.cidr} to {route.target}")


def confirmed(fqdns: Sequence[str], ask: Callable[[str], str]) -> bool:
    """The operator types each cluster's FQDN back (a drill moves live traffic)."""
    for fqdn in fqdns:
        try:
            typed = ask(f"The drill moves the active role (and live traffic) of {fqdn}. Type its FQDN to go on: ")
        except EOFError:  # no terminal: the operator must say --yes
            return False
        if typed.strip() != fqdn:
            return False
    return True


def render(timelines: Sequence[Timeline]) -> str:
    lines = []
    for timeline in timelines:
        lines.append(f"failover {timeline.direction}:")
        lines += [f"  {seconds:7.1f} s  {what}" for seconds, what in timeline.events]
    return "\n".join(lines) + "\n"


def main(
    argv: Sequence[str] | None = None,
    *,
    secrets: Any = None,
    ec2: Any = None,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.monotonic,
    ask: Callable[[str], str] = input,
) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--failback", action="store_true", help="fail back to the first active member")
    parser.add_argument("--production", action="store_true", help="the cluster serves production traffic")
    parser.add_argument("--yes", action="store_true", help="do not ask; needed for a production cluster")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--output", type=Path, help="also write the timeline as JSON here")
    args = parser.parse_args(argv)
    if args.production and not args.yes:
        print("trustgrid-drill: refusing to fail over a production cluster without --yes.", file=sys.stderr)
        return 2
    if not args.yes and not confirmed(args.cluster, ask):
        print("trustgrid-drill: not confirmed; nothing was changed.", file=sys.stderr)
        return 2
    try:
        if secrets is None or ec2 is None:
            secrets, ec2 = aws_clients(args.region)
        client = client_from_secret(secrets, args.secret_id, args.api_url, JsonLogger(stream=io.StringIO()))
        timelines = []
        for fqdn in args.cluster:
            timelines.append(
                failover(client, ec2, fqdn, timeout=args.timeout, interval=args.interval, sleep=sleep, now=now)
            )
            if args.failback:
                timelines.append(
                    failover(client, ec2, fqdn, timeout=args.timeout, interval=args.interval, sleep=sleep, now=now)
                )
    except Exception as exc:  # a clean message, never a traceback
        print(f"trustgrid-drill: {explain(exc)}", file=sys.stderr)
        return 1
    out.write(render(timelines))
    if args.output:
        args.output.write_text(json.dumps([asdict(t) for t in timelines], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
