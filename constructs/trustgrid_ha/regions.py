"""AWS regions, and where Trustgrid publishes its node image.

The region list is botocore's endpoint data for EC2 across every partition, written out so that the construct needs
no AWS SDK at synth time; a test compares it with the botocore the project pins.
"""

from __future__ import annotations

import re

#: The shape of a region's code (``us-east-1``, ``us-gov-west-1``); whether it exists is :func:`region_problem`'s.
REGION_CODE = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d\Z")

REGIONS = frozenset(
    {
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
        "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
        "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "cn-north-1", "cn-northwest-1",
        "eu-central-1", "eu-central-2", "eu-isoe-west-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
        "eu-west-2", "eu-west-3", "eusc-de-east-1", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
        "sa-east-1", "us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-iso-east-1", "us-iso-west-1",
        "us-isob-east-1", "us-isob-west-1", "us-isof-east-1", "us-isof-south-1", "us-west-1", "us-west-2",
    }
)  # fmt: skip

#: Where Trustgrid publishes its node image (elsewhere Trustgrid support copies it, and machine_image_id names it).
IMAGE_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2")


def region_problem(region: str) -> str | None:
    if region in REGIONS:
        return None
    return "no AWS region has this name; give one such as 'us-east-1' (a region's code, not its display name)."


def image_problem(region: str) -> str | None:
    """Why the newest vendor image cannot be resolved in ``region``, or None."""
    if region in IMAGE_REGIONS:
        return None
    return (
        f"Trustgrid publishes its node image in {', '.join(IMAGE_REGIONS)} only, not in {region}: ask Trustgrid "
        "support to copy it to your account and region, then give its ID in machine_image_id."
    )
