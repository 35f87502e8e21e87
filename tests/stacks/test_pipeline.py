"""The CDK pipeline: stages per environment, approvals, the health check, cdk-nag, no Docker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from pipeline_app import build_pipeline_app
from stacks.pipeline_settings import PipelineSettings
from stacks.pipeline_stack import pinned_cli_version
from tests.conftest import cdk_json_context
from trustgrid_ha import TrustgridConfigError

#: eu-west-1 has no published Trustgrid image: the clusters name the copy Trustgrid support made.
IMAGE = "ami-0123456789abcdef0"
CLUSTERS = [{"name": "edge-gw", "edgeCidrs": ["172.16.0.0/16"], "machineImageId": IMAGE}]
PIPELINE = {
    "connectionArn": "arn:aws:codeconnections:eu-west-1:111111111111:connection/abc-123",
    "repository": "acme/network-edge",
    "branch": "release",
    "account": "111111111111",
    "region": "eu-west-1",
    "apiSecretName": "trustgrid/pipeline-api",
    "environments": [
        {"name": "dev", "account": "222222222222", "region": "eu-west-1", "clusters": CLUSTERS},
        {
            "name": "test",
            "account": "222222222222",
            "region": "eu-west-1",
            "clusters": [{**CLUSTERS[0], "name": "edge-gw-test"}],  # in dev's Trustgrid organization too
            "vpcCidr": "10.61.0.0/16",
        },
        {
            "name": "prod",
            "account": "333333333333",
            "region": "eu-west-1",
            "production": True,
            "apiSecretName": "trustgrid/prod-api",
            "healthCheckSecretName": "trustgrid/pipeline-prod-api",  # another Trustgrid organization
            "stackPerCluster": True,  # a stack for the VPC and one for each cluster
            "clusters": [CLUSTERS[0], {"name": "partner-gw", "edgeCidrs": ["172.24.0.0/16"], "machineImageId": IMAGE}],
        },
    ],
}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    outdir = tmp_path_factory.mktemp("pipeline")
    build_pipeline_app(App(outdir=str(outdir), context=cdk_json_context(trustgrid={"pipeline": PIPELINE}))).synth()
    return outdir


@pytest.fixture(scope="module")
def template(out: Path) -> dict[str, Any]:
    return json.loads((out / "TrustgridPipeline.template.json").read_text())


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def stages(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    (pipeline,) = of_type(template, "AWS::CodePipeline::Pipeline").values()
    return {s["Name"]: s["Actions"] for s in pipeline["Properties"]["Stages"]}


def test_every_environment_is_a_stage_with_the_gateway_cluster_stack(template, out: Path) -> None:
    names = list(stages(template))
    assert names[:2] == ["Source", "Build"] and "UpdatePipeline" in names
    assert names[-3:] == ["dev", "test", "prod"]
    for env in ("dev", "test"):
        deploys = [a for a in stages(template)[env] if a["ActionTypeId"]["Category"] == "Deploy"]
        assert {a["Configuration"]["StackName"] for a in deploys} == {f"{env}-TrustgridGatewayCluster"}
    deploys = [a for a in stages(template)["prod"] if a["ActionTypeId"]["Category"] == "Deploy"]
    assert {a["Configuration"]["StackName"] for a in deploys} == {  # stackPerCluster: the VPC's, then each cluster's
        "prod-TrustgridGatewayCluster", "prod-TrustgridCluster-edge-gw", "prod-TrustgridCluster-partner-gw"
    }  # fmt: skip
    prod = [json.loads(p.read_text()) for p in (out / "assembly-TrustgridPipeline-prod").glob("*.template.json")]
    clusters = [r for t in prod for r in t["Resources"].values() if r["Type"] == "Custom::TrustgridCluster"]
    assert sorted(c["Properties"]["ClusterName"] for c in clusters) == ["edge-gw", "partner-gw"]
    manifest = json.loads((out / "assembly-TrustgridPipeline-prod" / "manifest.json").read_text())
    envs = {a.get("environment") for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    assert envs == {"aws://333333333333/eu-west-1"}


def test_only_production_waits_for_a_manual_approval(template) -> None:
    for env, expected in (("dev", 0), ("test", 0), ("prod", 1)):
        actions = stages(template)[env]
        approvals = [a for a in actions if a["ActionTypeId"]["Category"] == "Approval"]
        assert len(approvals) == expected, env
        if approvals:
            first_deploy = min(a["RunOrder"] for a in actions if a["ActionTypeId"]["Category"] == "Deploy")
            assert approvals[0]["RunOrder"] < first_deploy


def test_source_synth_and_self_mutation(template) -> None:
    source = stages(template)["Source"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["FullRepositoryId"] == "acme/network-edge"
    assert source["Configuration"]["BranchName"] == "release"
    projects = of_type(template, "AWS::CodeBuild::Project")
    specs = {k: json.loads(v["Properties"]["Source"]["BuildSpec"]) for k, v in projects.items()}
    synth = [s for s in specs.values() if s["phases"]["build"]["commands"] == ["make synth-pipeline"]]
    assert len(synth) == 1
    assert synth[0]["artifacts"]["base-directory"] == "cdk.out.pipeline"  # what make synth writes the app to
    mutate = [s for s in specs.values() if "cdk -a . deploy" in json.dumps(s)]
    assert mutate and f"aws-cdk@{pinned_cli_version()}" in json.dumps(mutate[0])
    assert all(not p["Properties"]["Environment"].get("PrivilegedMode") for p in projects.values())


def test_health_check_runs_after_each_deploy_with_the_cluster_outputs(template) -> None:
    projects = of_type(template, "AWS::CodeBuild::Project")
    checks = {
        k: json.loads(v["Properties"]["Source"]["BuildSpec"])
        for k, v in projects.items()
        if "trustgrid_ha_tools.healthcheck" in v["Properties"]["Source"]["BuildSpec"]
    }
    assert len(checks) == 3
    commands = [" ".join(spec["phases"]["build"]["commands"]) for spec in checks.values()]
    assert sum('"$CLUSTER_FQDN_0" "$CLUSTER_FQDN_1"' in c for c in commands) == 1  # prod has two clusters
    assert sorted(c.split("--secret-id ")[1].split()[0] for c in commands) == [
        "trustgrid/pipeline-api",
        "trustgrid/pipeline-api",
        "trustgrid/pipeline-prod-api",
    ]
    for env in ("dev", "test", "prod"):
        actions = stages(template)[env]
        check = next(a for a in actions if a["Name"] == "TrustgridHealthCheck")
        variables = json.loads(check["Configuration"]["EnvironmentVariables"])
        assert "CLUSTER_FQDN_0" in {v["name"] for v in variables}
        assert check["RunOrder"] > max(a["RunOrder"] for a in actions if a["ActionTypeId"]["Category"] == "Deploy")


def test_health_check_reads_only_its_secret(template) -> None:
    statements = [
        s
        for p in of_type(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    secret_statements = [s for s in statements if "secretsmanager" in json.dumps(s["Action"])]
    assert len(secret_statements) == 3
    resources = sorted(json.dumps(s["Resource"]).split(":secret:")[1].split('"')[0] for s in secret_statements)
    assert resources == ["trustgrid/pipeline-api-??????"] * 2 + ["trustgrid/pipeline-prod-api-??????"]
    for statement in secret_statements:
        assert statement["Action"] == "secretsmanager:GetSecretValue"
    health_roles = {
        json.dumps(p["Properties"]["Roles"])
        for p in of_type(template, "AWS::IAM::Policy").values()
        if "ReadTrustgridApiSecret" in json.dumps(p)
    }
    assumed = []
    for policy in of_type(template, "AWS::IAM::Policy").values():
        if json.dumps(policy["Properties"]["Roles"]) in health_roles:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
                if actions == ["sts:AssumeRole"]:  # the target account's CDK lookup role, to read route tables
                    assumed.append(json.dumps(statement["Resource"]))
                    continue
                assert not any(a.startswith(("ec2:", "iam:", "cloudformation:", "sts:")) for a in actions), actions
    assert len(assumed) == 3 and all("cdk-hnb659fds-lookup-role-" in r for r in assumed), assumed


def test_cross_account_keys_rotate(template) -> None:
    (key,) = of_type(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True


def test_no_asset_needs_docker(out: Path) -> None:
    manifests = list(out.rglob("*.assets.json"))
    assert len(manifests) >= 4
    for manifest in manifests:
        assert json.loads(manifest.read_text()).get("dockerImages", {}) == {}, manifest


def test_cdk_nag_accepts_the_pipeline(out: Path) -> None:
    from tests.stacks.test_default_app import nag_findings

    assert nag_findings(json.loads((out / "validation-report.json").read_text())) == []


def test_cfn_lint_accepts_every_pipeline_template(out: Path) -> None:
    templates = sorted(str(p) for p in out.rglob("*.template.json"))
    assert len(templates) == 6  # pipeline, dev, test, prod's VPC and its two clusters' stacks
    result = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), *templates], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_pipeline_synthesizes_and_is_marked(tmp_path: Path) -> None:
    build_pipeline_app(App(outdir=str(tmp_path))).synth()
    text = "".join(p.read_text() for p in tmp_path.glob("*.json"))
    assert "EXAMPLE pipeline settings" in text
    assert (tmp_path / "TrustgridPipeline.template.json").exists()


def test_stage_stacks_need_no_lookup_and_hardcode_no_zone(out: Path) -> None:
    for env in ("dev", "prod"):
        text = next((out / f"assembly-TrustgridPipeline-{env}").glob("*.template.json")).read_text()
        assert "Fn::GetAZs" in text and "eu-west-1a" not in text
    manifest = json.loads((out / "assembly-TrustgridPipeline-prod" / "manifest.json").read_text())
    assert "missing" not in manifest  # no context lookup left for the CLI to make


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"account": "1234"}, "trustgrid.pipeline.account"),
        ({"region": "Europe"}, "trustgrid.pipeline.region"),
        ({"connectionArn": "arn:aws:s3:::bucket"}, "trustgrid.pipeline.connectionArn"),
        ({"repository": "no-slash"}, "trustgrid.pipeline.repository"),
        ({"environments": []}, "trustgrid.pipeline.environments"),
        ({"environments": [PIPELINE["environments"][0]] * 2}, "trustgrid.pipeline.environments"),
        (
            {"environments": [{**PIPELINE["environments"][0], "account": "x"}]},
            "trustgrid.pipeline.environments[0].account",
        ),
        ({"environments": [{**PIPELINE["environments"][0], "colour": 1}]}, "trustgrid.pipeline.environments[0].colour"),
        ({"branch": ""}, "trustgrid.pipeline.branch"),
        ({"branch": ["main"]}, "trustgrid.pipeline.branch"),
        ({"branch": "feature..x"}, "trustgrid.pipeline.branch"),
        ({"branch": "-main"}, "trustgrid.pipeline.branch"),
        ({"branch": "main.lock"}, "trustgrid.pipeline.branch"),
        ({"branch": "my branch"}, "trustgrid.pipeline.branch"),
        ({"apiSecretName": 5}, "trustgrid.pipeline.apiSecretName"),
        ({"apiSecretName": "trustgrid api key"}, "trustgrid.pipeline.apiSecretName"),
        (
            {"environments": [{**PIPELINE["environments"][0], "healthCheckSecretName": {"name": "x"}}]},
            "trustgrid.pipeline.environments[0].healthCheckSecretName",
        ),
    ],
)
def test_bad_pipeline_settings_are_refused(change: dict[str, Any], setting: str) -> None:
    with pytest.raises(TrustgridConfigError) as failure:
        PipelineSettings.from_context({"pipeline": {**PIPELINE, **change}})
    assert failure.value.setting == setting


def test_pipeline_settings_left_out_or_null_take_their_defaults_and_good_ones_pass() -> None:
    defaults = PipelineSettings.from_context({"pipeline": {**PIPELINE, "branch": None, "apiSecretName": None}})
    assert (defaults.branch, defaults.api_secret_name) == ("main", "trustgrid/api-key")
    arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:trustgrid/api-key-AbCdEf"  # the pipeline's region
    given = PipelineSettings.from_context({"pipeline": {**PIPELINE, "branch": "release/2.1", "apiSecretName": arn}})
    assert (given.branch, given.api_secret_name) == ("release/2.1", arn)


@pytest.mark.parametrize("value", [None, "", -1, 1.5, True, [], [1], ["x"], {}, {"a": 1}, 2**70])
def test_no_value_of_any_type_in_any_pipeline_setting_ends_in_anything_but_a_clear_refusal(value: Any) -> None:
    environment = PIPELINE["environments"][0]
    changes = [({key: value}, f"trustgrid.pipeline.{key}") for key in PIPELINE]
    changes += [
        ({"environments": [{**environment, key: value}]}, f"trustgrid.pipeline.environments[0].{key}")
        for key in [*environment, "availabilityZones", "healthCheckSecretName", "vpc", "apiUrl"]
    ]
    for change, setting in changes:
        try:
            PipelineSettings.from_context({"pipeline": {**PIPELINE, **change}})
        except TrustgridConfigError as exc:
            assert setting in str(exc), (setting, str(exc))


def test_every_tool_a_step_installs_is_pinned_and_so_is_the_build_environment(template) -> None:
    projects = of_type(template, "AWS::CodeBuild::Project")
    for project in projects.values():
        spec = project["Properties"]["Source"]["BuildSpec"]
        assert "@latest" not in spec
        assert project["Properties"]["Environment"]["Image"] == "aws/codebuild/standard:7.0"
        assert json.loads(spec)["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "22"}
    publishing = [p for p in projects.values() if "cdk-assets" in p["Properties"]["Source"]["BuildSpec"]]
    assert publishing and all("cdk-assets@4.7.3" in p["Properties"]["Source"]["BuildSpec"] for p in publishing)


def test_the_source_may_use_the_connection_under_both_service_names(template) -> None:
    statements = [
        s
        for p in of_type(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "UseConnection"
    ]
    assert statements
    (statement,) = statements
    assert sorted(statement["Action"]) == ["codeconnections:UseConnection", "codestar-connections:UseConnection"]
    assert sorted(statement["Resource"]) == [
        "arn:aws:codeconnections:eu-west-1:111111111111:connection/abc-123",
        "arn:aws:codestar-connections:eu-west-1:111111111111:connection/abc-123",
    ]
