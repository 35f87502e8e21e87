"""Feeds a synthesized template's custom resources through the handler's parser, as CloudFormation would:
every intrinsic function resolved to a plausible value of its kind."""

from __future__ import annotations

import hashlib
from typing import Any

from trustgrid_ha_runtime.contract import PROPERTY_STRUCTS

#: What a Ref of each resource type resolves to (the physical ID's shape).
REF_SHAPES = {
    "AWS::EC2::RouteTable": "rtb-{hex17}",
    "AWS::EC2::Subnet": "subnet-{hex17}",
    "AWS::EC2::NetworkInterface": "eni-{hex17}",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf",
}
GETATT_SHAPES = {
    "PrimaryPrivateIpAddress": "10.0.1.{octet}",
    "PublicIp": "198.51.100.{octet}",
    "NodeUid": "{uuid}",
    "NodeFqdn": "{name}.acme.trustgrid.io",
    "ImageId": "ami-{hex17}",
}


def _fill(shape: str, seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return shape.format(hex17=digest[:17], octet=int(digest[:2], 16) % 250 + 2, uuid=uuid, name=seed[:20].lower())


def resolve(value: Any, template: dict[str, Any], parameters: dict[str, str] | None = None) -> Any:
    """``value`` with every Ref, Fn::GetAtt, Fn::Join and Fn::Sub replaced by a plausible literal."""
    resources = template.get("Resources", {})
    if isinstance(value, list):
        return [resolve(v, template, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        name = value["Ref"]
        if parameters and name in parameters:
            return parameters[name]
        if name.startswith("AWS::"):
            return {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}.get(
                name, "aws"
            )
        kind = resources.get(name, {}).get("Type", "")
        return _fill(REF_SHAPES.get(kind, "{name}"), name)
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return _fill(GETATT_SHAPES.get(attribute, "{name}"), logical)
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(p, template, parameters)) for p in parts)
    return {k: resolve(v, template, parameters) for k, v in value.items()}


def parse_every_custom_resource(template: dict[str, Any]) -> dict[str, int]:
    """Parse the properties of every Trustgrid custom resource strictly; how many of each type were parsed."""
    counts: dict[str, int] = {}
    for resource in template["Resources"].values():
        struct = PROPERTY_STRUCTS.get(resource["Type"])
        if struct is None:
            continue
        properties = {k: v for k, v in resolve(resource["Properties"], template).items() if k != "ServiceToken"}
        properties.pop("ServiceTimeout", None)
        struct.parse(properties, strict=True)
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    return counts
