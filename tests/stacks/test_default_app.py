"""The default app as `make synth` builds it: cfn-lint, cdk-nag, example settings, several clusters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks

from app import build_app
from tests.conftest import cdk_json_context

ROOT = Path(__file__).resolve().parents[2]
TWO_CLUSTERS = {
    "apiSecretName": "trustgrid/prod-api",
    "vpcCidr": "10.70.0.0/16",
    "clusters": [
        {"name": "east-gw", "edgeCidrs": ["172.16.0.0/16"]},
        {
            "name": "west-gw",
            "edgeCidrs": ["172.20.0.0/16"],
            "instanceType": "t3a.large",
            "heartbeatPort": 9200,
            "heartbeatInterface": "WAN",
            "failbackMode": "manualFailback",
            "removeNodesOnDelete": True,
        },
    ],
}


def synth(tmp: Path, context: dict[str, Any] | None = None) -> Path:
    app = App(outdir=str(tmp), context=cdk_json_context(**({"trustgrid": context} if context is not None else {})))
    build_app(app).synth()
    return tmp


@pytest.fixture(scope="module")
def default_out(tmp_path_factory) -> Path:
    return synth(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def two_out(tmp_path_factory) -> Path:
    return synth(tmp_path_factory.mktemp("two"), TWO_CLUSTERS)


def metadata_text(out: Path) -> str:
    """Synth annotations (warnings) as the CLI prints them, from the cloud assembly."""
    return "".join(p.read_text() for p in [out / "manifest.json", *out.glob("*.metadata.json")])


def template(out: Path) -> dict[str, Any]:
    return json.loads((out / "TrustgridGatewayCluster.template.json").read_text())


def test_default_app_is_complete_and_marks_its_example_values(default_out: Path) -> None:
    resources = template(default_out)["Resources"]
    kinds = [r["Type"] for r in resources.values()]
    assert kinds.count("AWS::EC2::Instance") == 2
    assert kinds.count("Custom::TrustgridCluster") == 1
    assert kinds.count("AWS::EC2::VPC") == 1
    (cluster,) = (r for r in resources.values() if r["Type"] == "Custom::TrustgridCluster")
    assert cluster["Properties"]["ClusterName"] == "example-gw-cluster"
    assert "EXAMPLE settings" in metadata_text(default_out)


def test_the_example_can_be_synthesized_but_no_tool_can_deploy_it(default_out: Path, two_out: Path) -> None:
    """CloudFormation evaluates a template's rules before it creates anything: this one can never hold (its
    parameter allows one value, the assertion asks for another), whatever deploys the template."""
    example = template(default_out)
    assert example["Parameters"]["TrustgridSettings"]["AllowedValues"] == ["example"]
    (assertion,) = example["Rules"]["ExampleSettingsAreNotDeployable"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "TrustgridSettings"}, "configured"]}
    assert "EXAMPLE settings" in assertion["AssertDescription"]
    configured = template(two_out)
    assert "ExampleSettingsAreNotDeployable" not in configured["Rules"]
    assert "TrustgridSettings" not in configured["Parameters"]


def test_two_clusters_in_one_stack_share_one_provider(two_out: Path) -> None:
    resources = template(two_out)["Resources"]
    clusters = [r for r in resources.values() if r["Type"] == "Custom::TrustgridCluster"]
    assert sorted(c["Properties"]["ClusterName"] for c in clusters) == ["east-gw", "west-gw"]
    handlers = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert sum("trustgrid_ha_runtime.handler" in h["Properties"].get("Handler", "") for h in handlers) == 2
    assert sum("trustgrid_ha_runtime.monitor" in h["Properties"].get("Handler", "") for h in handlers) == 1
    west = next(c for c in clusters if c["Properties"]["ClusterName"] == "west-gw")["Properties"]
    assert (west["HeartbeatPort"], west["HeartbeatInterface"], west["FailbackMode"]) == (
        "9200",
        "WAN",
        "manualFailback",
    )
    licenses = [r for r in resources.values() if r["Type"] == "Custom::TrustgridNodeLicense"]
    assert sorted(lic["Properties"]["RemoveNodeOnDelete"] for lic in licenses) == ["false", "false", "true", "true"]
    assert "EXAMPLE" not in metadata_text(two_out)


@pytest.mark.parametrize("which", ["default_out", "two_out"])
def test_cfn_lint_finds_no_error_or_warning(which: str, request) -> None:
    out: Path = request.getfixturevalue(which)
    templates = sorted(str(p) for p in out.glob("*.template.json"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *templates],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("which", ["default_out", "two_out"])
def test_cdk_nag_has_no_unacknowledged_finding(which: str, request) -> None:
    out: Path = request.getfixturevalue(which)  # synth raises on an unacknowledged finding
    report = json.loads((out / "validation-report.json").read_text())
    assert nag_findings(report) == []


def nag_findings(report: dict[str, Any]) -> list[Any]:
    """cdk-nag's violations (the report also carries CDK's own annotation warnings, such as the example's)."""
    return [
        violation
        for plugin in report["pluginReports"]
        if plugin["pluginName"] != "Construct Annotations"
        for violation in plugin.get("violations", [])
    ] + [p for p in report["pluginReports"] if p.get("conclusion") == "failure"]


def test_cdk_nag_would_fail_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Open")
    group = ec2.SecurityGroup(stack, "Open", vpc=ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0))
    group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(22))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="AwsSolutions"):
        app.synth()


def test_the_lambda_asset_is_the_runtime_package_and_cdk_out_holds_no_secret(default_out: Path) -> None:
    assets = [p for p in default_out.glob("asset.*") if (p / "trustgrid_ha_runtime" / "handler.py").exists()]
    assert len(assets) == 1
    assert not list(assets[0].rglob("__pycache__"))
    # the handler, its resources, the API client and the scheduled check; never the operator tools
    carried = {p.name for p in (assets[0] / "trustgrid_ha_runtime").glob("*.py")}
    assert {"handler.py", "api.py", "contract.py", "monitor.py", "report.py", "nodes.py"} <= carried
    assert not carried & {"status.py", "drill.py", "healthcheck.py", "cli.py"}
    assert [p.name for p in assets[0].iterdir()] == ["trustgrid_ha_runtime"]
    for path in default_out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".py", ".txt"):
            text = path.read_text(errors="ignore")
            assert "eyJ" not in text, f"a JWT-looking value in {path}"
            if path.suffix == ".json":
                assert "apiKeySecret" not in text, f"an API key secret in {path}"


@pytest.mark.parametrize("which", ["default_out", "two_out"])
def test_every_custom_resource_of_the_app_parses_with_the_handlers_contract(which: str, request) -> None:
    from tests.contract_check import parse_every_custom_resource

    out: Path = request.getfixturevalue(which)
    counts = parse_every_custom_resource(template(out))
    clusters = 1 if which == "default_out" else 2
    assert counts == {
        "Custom::TrustgridCluster": clusters,
        "Custom::TrustgridNodeLicense": 2 * clusters,
        "Custom::TrustgridImage": clusters,
        "Custom::TrustgridChangeGuard": clusters,
        "Custom::TrustgridMemberReady": clusters,
        "Custom::TrustgridProtection": clusters,
    }


def test_more_clusters_than_one_stack_holds_get_a_stack_each_within_cloudformations_limits(tmp_path: Path) -> None:
    """12 clusters do not fit one stack (500 resources); with stackPerCluster each has its own, named after it, and
    the VPC stays in the main stack. (`make bench` measures 50.)"""
    from trustgrid_ha import TrustgridConfigError

    clusters = [{"name": f"gw-{i}", "edgeCidrs": [f"172.{20 + i}.0.0/16"]} for i in range(12)]
    with pytest.raises(TrustgridConfigError, match="stackPerCluster: true"):
        build_app(App(context={"trustgrid": {"clusters": clusters}}), nag=False)
    app = App(outdir=str(tmp_path), context=cdk_json_context(trustgrid={"clusters": clusters, "stackPerCluster": True}))
    build_app(app, nag=False).synth()
    templates = {
        p.name.removesuffix(".template.json"): json.loads(p.read_text()) for p in tmp_path.glob("*.template.json")
    }
    assert sorted(templates) == sorted(["TrustgridGatewayCluster", *(f"TrustgridCluster-gw-{i}" for i in range(12))])
    assert all(len(t["Resources"]) <= 500 and len(t.get("Outputs", {})) <= 200 for t in templates.values())
    main = templates["TrustgridGatewayCluster"]
    assert any(r["Type"] == "AWS::EC2::VPC" for r in main["Resources"].values())
    one = templates["TrustgridCluster-gw-3"]["Resources"]
    assert [r["Properties"]["ClusterName"] for r in one.values() if r["Type"] == "Custom::TrustgridCluster"] == ["gw-3"]
    assert not any(r["Type"] == "AWS::EC2::VPC" for r in one.values()), "the VPC is the main stack's"


def test_clusters_of_separate_stacks_in_one_vpc_may_not_overlap() -> None:
    from trustgrid_ha import TrustgridConfigError

    clusters = [{"name": "a", "edgeCidrs": ["172.16.0.0/16"]}, {"name": "b", "edgeCidrs": ["172.16.8.0/24"]}]
    with pytest.raises(TrustgridConfigError) as failure:
        build_app(App(context={"trustgrid": {"clusters": clusters, "stackPerCluster": True}}), nag=False)
    (problem,) = failure.value.problems
    assert problem.setting == "trustgrid.clusters[1].edgeCidrs[0]" and "cluster 'a'" in problem.fix


@pytest.mark.parametrize("name", ["default", "two-clusters"])
def test_the_templates_match_their_snapshots(name: str, default_out: Path, two_out: Path) -> None:
    """A refactoring changes no resource: the default app's templates are the snapshots (asset hashes aside).
    A change that means to change a template writes them anew (`python -m tests.stacks.snapshot`)."""
    from tests.stacks.snapshot import read, snapshot_path

    out = default_out if name == "default" else two_out
    expected = json.loads(snapshot_path(name).read_text())
    assert read(out) == expected, f"the {name} template differs from {snapshot_path(name)}"
