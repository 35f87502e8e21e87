"""Post-deploy health check of the pipeline's stages: is every named cluster whole?

Usage: ``python -m trustgrid_ha_tools.healthcheck --secret-id NAME_OR_ARN [--api-url URL]
[--role-arn ARN --region R] [--attempts N] [--interval S] FQDN [FQDN ...]``. Exits 0 when every cluster is as
the status command wants it (healthy, both members online with their gateway service enabled, exactly one
holding the active role) and, given a role in the clusters' account (the pipeline passes the target's CDK
lookup role, which may read EC2), every managed route table sends every edge CIDR to the member that holds the
role. Exits 1 otherwise, with the reasons on stderr (CodeBuild puts them in the build log). It reuses the
status logic and the custom resource's API client, so retries, timeouts and messages are the same.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from trustgrid_ha_runtime.api import DEFAULT_API_URL, Credentials, TrustgridClient
from trustgrid_ha_runtime.log import JsonLogger
from trustgrid_ha_runtime.report import cluster_status

from .cli import aws_region, explain


def unhealthy(client: TrustgridClient, fqdns: Sequence[str], ec2: Any = None) -> list[str]:
    """A sentence for every problem of every cluster; empty when all are whole."""
    problems = []
    for fqdn in fqdns:
        try:
            status = cluster_status(client, ec2, fqdn)
        except Exception as exc:  # Trustgrid or EC2 (throttled, the lookup role refused): a reason, not a traceback
            problems.append(f"{fqdn}: {explain(exc)}")
            continue
        problems += [f"{fqdn}: {problem}" for problem in status.problems]
    if problems:
        problems.append(
            "check both gateways in the Trustgrid portal (unhealthy: a member is down or both are active; offline: "
            "both are down)"
        )
    return problems


def check(
    client: TrustgridClient,
    fqdns: Sequence[str],
    *,
    attempts: int,
    interval: float,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    ec2: Any = None,
) -> bool:
    for attempt in range(1, attempts + 1):
        problems = unhealthy(client, fqdns, ec2)
        if not problems:
            checked = "" if ec2 is not None else " (routes not checked: no --role-arn)"
            out.write(f"healthy: {', '.join(fqdns)}{checked}\n")
            return True
        out.write(f"attempt {attempt}/{attempts}: " + "; ".join(problems) + "\n")
        if attempt < attempts:
            sleep(interval)
    return False


def main(argv: Sequence[str] | None = None, *, secrets: Any = None, ec2: Any = None, out: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="trustgrid-healthcheck", description=__doc__)
    parser.add_argument("--secret-id", required=True, help="Secrets Manager secret with apiKeyId/apiKeySecret")
    parser.add_argument("--api-url", default=DEFAULT_API_URL)
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--role-arn", help="a role in the clusters' account that may read EC2 (routes checked)")
    parser.add_argument("--region", help="the clusters' region (with --role-arn)")
    parser.add_argument("clusters", nargs="+", help="cluster FQDNs")
    args = parser.parse_args(argv)
    try:
        if secrets is None:
            import boto3

            secrets = boto3.client("secretsmanager", region_name=aws_region(None))
        if ec2 is None and args.role_arn:
            ec2 = _ec2_as(args.role_arn, args.region)
        secret = secrets.get_secret_value(SecretId=args.secret_id)["SecretString"]
        client = TrustgridClient(args.api_url, Credentials.from_secret_string(secret), logger=JsonLogger(stream=out))
    except Exception as exc:  # a clean message in the build log, never a traceback
        out.write(f"trustgrid-healthcheck: {explain(exc)}\n")
        return 2
    healthy = check(client, args.clusters, attempts=args.attempts, interval=args.interval, out=out, ec2=ec2)
    return 0 if healthy else 1


def _ec2_as(role_arn: str, region: str | None) -> Any:
    """An EC2 client with the credentials of ``role_arn`` (the target account's CDK lookup role)."""
    import boto3

    # STS in the pipeline's own region (the target's may be an opt-in region the pipeline account has not enabled)
    creds = boto3.client("sts", region_name=aws_region(None)).assume_role(
        RoleArn=role_arn, RoleSessionName="trustgrid-health-check"
    )["Credentials"]
    return boto3.client(
        "ec2",
        region_name=aws_region(region),
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


if __name__ == "__main__":
    sys.exit(main())
