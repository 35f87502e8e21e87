"""Post-deploy health check: is every named cluster healthy? Used by the pipeline's stages.

Usage: ``python -m trustgrid_ha_runtime.healthcheck --secret-id NAME_OR_ARN [--api-url URL]
[--attempts N] [--interval S] FQDN [FQDN ...]``. Exits 0 when every cluster reports ``healthy``,
1 otherwise, with the reason on stderr (CodeBuild puts it in the build log). It reuses the custom
resource's API client, so retries, timeouts and error messages are the same.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .api import DEFAULT_API_URL, ApiError, Credentials, TrustgridClient
from .log import JsonLogger


def unhealthy(client: TrustgridClient, fqdns: Sequence[str]) -> list[str]:
    """A sentence for every cluster that is not healthy; empty when all are."""
    problems = []
    for fqdn in fqdns:
        try:
            health = client.get_cluster(fqdn).get("health")
        except ApiError as exc:
            problems.append(f"{fqdn}: {exc}")
            continue
        if health != "healthy":
            problems.append(
                f"{fqdn}: health is {health!r}, not 'healthy' (unhealthy: a member is down or both are "
                "active; offline: both are down). Check both gateways in the Trustgrid portal."
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
) -> bool:
    for attempt in range(1, attempts + 1):
        problems = unhealthy(client, fqdns)
        if not problems:
            out.write(f"healthy: {', '.join(fqdns)}\n")
            return True
        out.write(f"attempt {attempt}/{attempts}: " + "; ".join(problems) + "\n")
        if attempt < attempts:
            sleep(interval)
    return False


def main(argv: Sequence[str] | None = None, *, secrets: Any = None, out: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="trustgrid-healthcheck", description=__doc__)
    parser.add_argument("--secret-id", required=True, help="Secrets Manager secret with apiKeyId/apiKeySecret")
    parser.add_argument("--api-url", default=DEFAULT_API_URL)
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("clusters", nargs="+", help="cluster FQDNs")
    args = parser.parse_args(argv)
    if secrets is None:
        import boto3

        secrets = boto3.client("secretsmanager")
    secret = secrets.get_secret_value(SecretId=args.secret_id)["SecretString"]
    client = TrustgridClient(args.api_url, Credentials.from_secret_string(secret), logger=JsonLogger(stream=out))
    return 0 if check(client, args.clusters, attempts=args.attempts, interval=args.interval, out=out) else 1


if __name__ == "__main__":
    sys.exit(main())
