"""The image resource: resolve the newest vendor AMI once, then keep it.

Like Trustgrid's own AWS module, the lookup filters on the image name pattern
and on the ``InterfaceNaming`` tag (``gen2`` or ``gen3``), so an image whose
interface names do not match the instance family is never picked.

The instance's ``ImageId`` comes from this resource, so a redeploy after
Trustgrid publishes a newer image changes nothing: the image is resolved again
only when the owner, the name pattern or the refresh token change.
"""

from __future__ import annotations

from typing import Any, Protocol

from .contract import ImageProperties


class ImageReader(Protocol):
    def describe_images(self, **kwargs: Any) -> dict[str, Any]: ...


def newest_image(images: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The most recent image; of two made in the same second, the one whose name sorts last."""
    return max(images, key=lambda i: (i.get("CreationDate", ""), i.get("Name", "")), default=None)


def keeps_image(old: ImageProperties, new: ImageProperties) -> bool:
    """Whether an update keeps the resolved image: only a new owner, pattern or refresh token resolves again.

    A stack deployed before the ``InterfaceNaming`` filter existed has no such property; adding it must not
    replace running gateways.
    """
    return (old.owner, old.name_pattern, old.refresh_token) == (new.owner, new.name_pattern, new.refresh_token) and (
        old.interface_naming in ("", new.interface_naming)
    )


def resolve_image(ec2: ImageReader, spec: ImageProperties, region: str) -> tuple[str, str]:
    """The id and name of the newest available x86_64 image matching ``spec``."""
    answer = ec2.describe_images(
        Owners=[spec.owner],
        Filters=[
            {"Name": "name", "Values": [spec.name_pattern]},
            *([{"Name": "tag:InterfaceNaming", "Values": [spec.interface_naming]}] if spec.interface_naming else []),
            {"Name": "architecture", "Values": ["x86_64"]},
            {"Name": "state", "Values": ["available"]},
        ],
    )
    image = newest_image(answer.get("Images", []))
    if image is None:
        tagged = f" tagged InterfaceNaming={spec.interface_naming}" if spec.interface_naming else ""
        raise LookupError(
            f"No available x86_64 image named {spec.name_pattern!r}{tagged} from owner {spec.owner} in {region}. "
            "Trustgrid publishes its images in us-east-1, us-east-2, us-west-1 and us-west-2; for another "
            "region ask Trustgrid support to copy the image, or set the construct's machine_image_id."
        )
    return str(image["ImageId"]), str(image.get("Name", ""))
