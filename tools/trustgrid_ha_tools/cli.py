"""What the operator tools share: their common arguments, the AWS region and clients, and clean error sentences."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from trustgrid_ha_runtime.api import Unauthorized
from trustgrid_ha_runtime.contract import DEFAULT_API_URL


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
