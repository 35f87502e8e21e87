"""Cluster status: health and mode, each member, and every managed route table's edge routes.

Usage: ``python -m trustgrid_ha_runtime.status --secret-id NAME_OR_ARN [--api-url URL] [--region R] [--json]
--cluster FQDN [--cluster FQDN ...]`` (``make status CLUSTERS=...``). Exits 0 only when every cluster is
healthy, every member online with its gateway service enabled, exactly one member holding the active role, and
every managed route table sends every edge CIDR to that member's LAN interface.

"Active" is the role a member reports holding now (``shadow.reported["cluster.master"]``); the configured
(preferred) active member (``config.cluster.master``) is shown beside it and may differ after a failover.

Everything comes from Trustgrid and EC2 (read only): the members and their state from the API, the edge CIDRs
and managed route tables from the cluster's network configuration, each member's LAN interface from EC2 (the
construct names it ``Trustgrid <node> LAN``), the routes from ``ec2:DescribeRouteTables``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from .api import Credentials, NotFound, TrustgridClient, Unauthorized
from .contract import DEFAULT_API_URL
from .log import JsonLogger
from .nodes import configured_active, holds_role, section


@dataclass
class MemberStatus:
    name: str
    uid: str
    online: bool
    gateway_enabled: bool
    #: holds the active role now (``shadow.reported["cluster.master"]``): carries traffic, owns the routes
    active: bool
    #: the configured (preferred) active member (``config.cluster.master``)
    configured_active: bool
    lan_eni: str | None


@dataclass
class RouteStatus:
    route_table: str
    cidr: str
    target: str | None
    on_active_member: bool


@dataclass
class ClusterStatus:
    fqdn: str
    health: str | None
    mode: str | None
    members: list[MemberStatus] = field(default_factory=list)
    routes: list[RouteStatus] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def active(self) -> MemberStatus | None:
        actives = [m for m in self.members if m.active]
        return actives[0] if len(actives) == 1 else None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def _lan_eni(ec2: Any, node: dict[str, Any], vpc_id: str | None) -> str | None:
    """The member's LAN interface: the ENI the construct described as its LAN, else the one holding its
    heartbeat address, in the cluster's VPC (None without EC2 access)."""
    if ec2 is None:
        return None
    host = str(section(node, "cluster").get("host"))
    scope = [{"Name": "vpc-id", "Values": [vpc_id]}] if vpc_id else []
    for query in (
        [{"Name": "description", "Values": [f"Trustgrid {node.get('name')} LAN"]}, *scope],
        [{"Name": "private-ip-address", "Values": [host]}, *scope],
    ):
        found = ec2.describe_network_interfaces(Filters=query).get("NetworkInterfaces", [])
        if len(found) == 1:
            return str(found[0]["NetworkInterfaceId"])
    return None


def _member(client: TrustgridClient, ec2: Any, summary: dict[str, Any], vpc_id: str | None) -> MemberStatus:
    node = client.get_node(str(summary["uid"]))
    return MemberStatus(
        name=str(node.get("name")),
        uid=str(node.get("uid")),
        online=bool(node.get("online")),
        gateway_enabled=bool(section(node, "gateway").get("enabled")),
        active=holds_role(node),
        configured_active=configured_active(node),
        lan_eni=_lan_eni(ec2, node, vpc_id),
    )


def _tables(ec2: Any, network: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tables = [t for i in network.get("interfaces") or [] for t in i.get("clusterRouteTables") or []]
    if not tables or ec2 is None:
        return {}
    return {t["RouteTableId"]: t for t in ec2.describe_route_tables(RouteTableIds=tables)["RouteTables"]}


def _routes(network: dict[str, Any], described: dict[str, Any], active: MemberStatus | None) -> list[RouteStatus]:
    cidrs = [r["route"] for i in network.get("interfaces") or [] for r in i.get("cloudRoutes") or []]
    tables = [t for i in network.get("interfaces") or [] for t in i.get("clusterRouteTables") or []]
    found = []
    for table in tables:
        routes = {r.get("DestinationCidrBlock"): r for r in described.get(table, {}).get("Routes", [])}
        for cidr in cidrs:
            route = routes.get(cidr) or {}
            target = route.get("NetworkInterfaceId") or route.get("GatewayId") or route.get("InstanceId")
            on_active = active is not None and target is not None and target == active.lan_eni
            found.append(RouteStatus(table, cidr, target, on_active and route.get("State") != "blackhole"))
    return found


def cluster_status(client: TrustgridClient, ec2: Any, fqdn: str) -> ClusterStatus:
    """What Trustgrid and EC2 say about one cluster, and what is wrong with it, as sentences. With ``ec2`` None
    (no access to the cluster's account) the routes are not read and not judged."""
    try:
        cluster = client.get_cluster(fqdn)
    except NotFound:
        return ClusterStatus(fqdn, None, None, problems=[f"Trustgrid has no cluster {fqdn} (check the FQDN)"])
    status = ClusterStatus(fqdn, cluster.get("health"), cluster.get("mode"))
    network = (cluster.get("config") or {}).get("network") or {}
    described = _tables(ec2, network)
    vpc_id = next((t.get("VpcId") for t in described.values()), None)
    status.members = [_member(client, ec2, m, vpc_id) for m in client.list_cluster_nodes(fqdn)]
    status.routes = _routes(network, described, status.active) if ec2 is not None else []
    status.problems = _problems(status)
    return status


def _problems(status: ClusterStatus) -> list[str]:
    problems = []
    if status.health != "healthy":
        problems.append(f"health is {status.health!r}")
    if len(status.members) != 2:
        problems.append(f"{len(status.members)} member(s), not 2")
    for member in status.members:
        if not member.online:
            problems.append(f"{member.name} is offline")
        if not member.gateway_enabled:
            problems.append(f"{member.name}'s gateway service is not enabled")
    if status.active is None:
        problems.append(f"{sum(m.active for m in status.members)} members hold the active role, not 1")
    for route in status.routes:
        if not route.on_active_member:
            problems.append(
                f"{route.route_table} sends {route.cidr} to {route.target or 'nothing'}, not to the active member"
            )
    return problems


def render(statuses: Sequence[ClusterStatus]) -> str:
    lines = []
    for s in statuses:
        lines.append(f"cluster {s.fqdn}: health {s.health}, mode {s.mode}")
        for m in s.members:
            lines.append(
                f"  member {m.name:<20} {'online ' if m.online else 'OFFLINE'}  gateway "
                f"{'enabled ' if m.gateway_enabled else 'DISABLED'}  {'active ' if m.active else 'standby'}  "
                f"{'configured-active' if m.configured_active else '                 '}  LAN {m.lan_eni or '?'}"
            )
        for r in s.routes:
            mark = "ok" if r.on_active_member else "NOT ON THE ACTIVE MEMBER"
            lines.append(f"  route  {r.route_table}  {r.cidr:<18} -> {r.target or '(none)'}  {mark}")
        for problem in s.problems:
            lines.append(f"  problem: {problem}")
    bad = [s.fqdn for s in statuses if not s.healthy]
    lines.append(f"verdict: {'UNHEALTHY: ' + ', '.join(bad) if bad else 'healthy'}")
    return "\n".join(lines) + "\n"


def client_from_secret(secrets: Any, secret_id: str, api_url: str, log: JsonLogger) -> TrustgridClient:
    secret = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    return TrustgridClient(api_url, Credentials.from_secret_string(secret), logger=log)


def arguments(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--secret-id", required=True, help="Secrets Manager secret with apiKeyId/apiKeySecret")
    parser.add_argument("--api-url", default=DEFAULT_API_URL)
    parser.add_argument(
        "--region", default=None, help="AWS region of the VPC (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)"
    )
    parser.add_argument("--cluster", action="append", required=True, help="cluster FQDN (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


class NoRegion(RuntimeError):
    """Neither --region nor AWS_REGION nor AWS_DEFAULT_REGION (nor a profile's region) names the AWS region."""


def aws_region(given: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The region to use: ``--region``, else ``AWS_REGION`` (what the AWS CLI v2 and Lambda set), else
    ``AWS_DEFAULT_REGION``, else the profile's (boto3's own lookup)."""
    environ = os.environ if environ is None else environ
    region = given or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        import boto3

        region = boto3.session.Session().region_name
    if not region:
        raise NoRegion(
            "no AWS region: give --region, or set AWS_REGION or AWS_DEFAULT_REGION (or a region in your AWS profile)."
        )
    return str(region)


def aws_clients(region: str | None) -> tuple[Any, Any]:
    import boto3

    where = aws_region(region)
    return boto3.client("secretsmanager", region_name=where), boto3.client("ec2", region_name=where)


def explain(exc: BaseException) -> str:
    """A clean sentence for the errors a person running the command meets."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return f"no AWS credentials ({exc}); set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)."
    if isinstance(exc, Unauthorized):
        return "the Trustgrid API key was refused (revoked or wrong): put a valid key in the secret."
    if name == "ClientError":
        return f"AWS refused: {exc}"
    return str(exc)


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
