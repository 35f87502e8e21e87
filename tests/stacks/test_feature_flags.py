"""cdk.json carries the recommended feature flags of the pinned aws-cdk-lib (what `cdk init` writes), and the
template changes they cause were reviewed: none for the gateway stack; for the pipeline only partition
literals in its environment-specific stack and the KMS alias's stack-safe name (the alias is replaced, the
key is not)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk
import pytest
from aws_cdk import App

from app import build_app
from pipeline_app import build_pipeline_app
from tests.conftest import cdk_json_context

ROOT = Path(__file__).resolve().parents[2]
#: The flags cdk.json carried before the recommended set (version 0.1.0).
EARLIER = {
    "@aws-cdk/core:checkSecretUsage": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:validateSnapshotRemovalPolicy": True,
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": True,
    "@aws-cdk/customresources:installLatestAwsSdkDefault": False,
}


def recommended() -> dict[str, Any]:
    package = Path(aws_cdk.__file__).parent / "_jsii"
    (tgz,) = package.glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(tgz) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        return dict(json.load(member))


def test_cdk_json_has_every_recommended_flag_of_the_pinned_library() -> None:
    flags = recommended()
    context = cdk_json_context()
    assert {k: context.get(k) for k in flags} == flags


def synth(tmp: Path, build: Any, context: dict[str, Any], name: str) -> dict[str, Any]:
    build(App(outdir=str(tmp), context=context)).synth()
    return json.loads((tmp / f"{name}.template.json").read_text())["Resources"]


@pytest.mark.parametrize(
    ("build", "name", "allowed"),
    [
        (build_app, "TrustgridGatewayCluster", set()),
        (
            build_pipeline_app,
            "TrustgridPipeline",
            # the partition literal also appears in the health step's build spec (the target's CDK lookup role)
            {
                "AWS::KMS::Alias",
                "AWS::KMS::Key",
                "AWS::IAM::Policy",
                "AWS::CodePipeline::Pipeline",
                "AWS::CodeBuild::Project",
            },
        ),
    ],
)
def test_the_flags_change_only_what_was_reviewed(tmp_path: Path, build: Any, name: str, allowed: set[str]) -> None:
    before = synth(tmp_path / "before", build, EARLIER, name)
    after = synth(tmp_path / "after", build, cdk_json_context(), name)
    assert set(before) == set(after), "no resource added or removed"
    changed = {after[k]["Type"] for k in after if before[k] != after[k]}
    assert changed <= allowed
    for logical, resource in after.items():
        if resource["Type"] == "AWS::KMS::Alias" and before[logical] != resource:
            assert resource["Properties"]["TargetKeyId"] == before[logical]["Properties"]["TargetKeyId"]
