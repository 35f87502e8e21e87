"""Cluster status: health and mode, each member, and every managed route table's edge routes.

Usage: ``python -m trustgrid_ha_tools.status --secret-id NAME_OR_ARN [--api-url URL] [--region R] [--json]
--cluster FQDN [--cluster FQDN ...]`` (``make status CLUSTERS=...``). Exits 0 only when every cluster is
healthy, every member online with its gateway service enabled, exactly one member holding the active role, and
every managed route table sends every edge CIDR to that member's LAN interface (see
:mod:`trustgrid_ha_runtime.report` for where each fact comes from).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from trustgrid_ha_runtime.log import JsonLogger
from trustgrid_ha_runtime.report import ClusterStatus, client_from_secret, cluster_status

from .cli import arguments, aws_clients, explain


def render(statuses: Sequence[ClusterStatus]) -> str:
    lines = []
    for s in statuses:
        lines.append(f"cluster {s.fqdn}: health {s.health}, mode {s.mode}")
        for m in s.members:
            lines.append(
                f"  member {m.name:<20} {'online ' if m.online else 'OFFLINE'}  gateway "
                f"{'enabled ' if m.gateway_enabled else 'DISABLED'}  {'active ' if m.active else 'standby'}  "
                f"{'configured-active' if m.configured_active else '                 '}  LAN {m.lan_eni or '?'}"
                f"  {m.gateway_type or '?'}"
            )
        for n in s.networks or []:
            lines.append(f"  network {n.name}  route {n.route}  interfaces {', '.join(n.interfaces) or '(none)'}")
        if s.networks is None:
            lines.append("  network (not readable with this API key)")
        for r in s.routes:
            mark = "ok" if r.on_active_member else "NOT ON THE ACTIVE MEMBER"
            lines.append(f"  route  {r.route_table}  {r.cidr:<18} -> {r.target or '(none)'}  {mark}")
        for problem in s.problems:
            lines.append(f"  problem: {problem}")
    bad = [s.fqdn for s in statuses if not s.healthy]
    lines.append(f"verdict: {'UNHEALTHY: ' + ', '.join(bad) if bad else 'healthy'}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None, *, secrets: Any = None, ec2: Any = None, out: TextIO = sys.stdout) -> int:
    args = arguments(__doc__).parse_args(argv)
    try:
        if secrets is None or ec2 is None:
            secrets, ec2 = aws_clients(args.region)
        client = client_from_secret(secrets, args.secret_id, args.api_url, JsonLogger(stream=io.StringIO()))
        statuses = [cluster_status(client, ec2, fqdn) for fqdn in args.cluster]
    except Exception as exc:  # a clean message, never a traceback
        print(f"trustgrid-status: {explain(exc)}", file=sys.stderr)
        return 2
    out.write(json.dumps([s.as_json() for s in statuses], indent=2) + "\n" if args.json else render(statuses))
    return 0 if all(s.healthy for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
