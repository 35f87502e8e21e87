"""The construct as an installed wheel: built, installed into a fresh venv outside the repo, used by
the example consumer app from there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = dist.glob("trustgrid_ha_cluster-*.whl")
    return built


@pytest.fixture(scope="module")
def consumer_out(tmp_path_factory, wheel: Path) -> Path:
    work = tmp_path_factory.mktemp("consumer")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    subprocess.run(
        # --no-compile: byte-compiling all of aws-cdk-lib costs more than the few modules the synth imports
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            str(wheel),
            *pins,
        ],
        check=True,
        capture_output=True,
    )
    app_dir = work / "app"
    shutil.copytree(ROOT / "examples" / "consumer", app_dir)
    out = work / "cdk.out"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["CDK_OUTDIR"] = str(out)
    subprocess.run([str(python), "app.py"], cwd=app_dir, env=env, check=True, capture_output=True)
    return out


def test_wheel_ships_both_packages_typed(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "trustgrid_ha/py.typed" in names and "trustgrid_ha/cluster.py" in names
    assert "trustgrid_ha_runtime/handler.py" in names and "trustgrid_ha_runtime/api.py" in names
    # the pipeline's health step runs the tools from `pip install --no-deps .`
    assert {"trustgrid_ha_tools/healthcheck.py", "trustgrid_ha_tools/py.typed"} <= set(names)
    assert not any(n.startswith(("tests/", "stacks/", "examples/")) for n in names)


def test_installed_wheel_synthesizes_two_clusters_with_one_provider(consumer_out: Path) -> None:
    template = json.loads((consumer_out / "NetworkEdge.template.json").read_text())
    resources = template["Resources"].values()
    clusters = [r for r in resources if r["Type"] == "Custom::TrustgridCluster"]
    assert sorted(c["Properties"]["ClusterName"] for c in clusters) == ["partner-gw", "prod-gw"]
    handlers = [r for r in resources if "trustgrid_ha_runtime.handler" in r.get("Properties", {}).get("Handler", "")]
    assert len(handlers) == 2
    (bucket_key,) = {h["Properties"]["Code"]["S3Key"] for h in handlers}
    asset = consumer_out / ("asset." + bucket_key.removesuffix(".zip"))
    assert (asset / "trustgrid_ha_runtime" / "handler.py").is_file()
    text = json.dumps(template)
    assert ":us-east-1:123456789012:route-table/rtb-0eee5555eeee5555e" in text  # concrete environment


def test_every_custom_resource_of_the_consumer_parses_with_the_handlers_contract(consumer_out: Path) -> None:
    from tests.contract_check import parse_every_custom_resource

    template = json.loads((consumer_out / "NetworkEdge.template.json").read_text())
    assert parse_every_custom_resource(template) == {
        "Custom::TrustgridCluster": 2,
        "Custom::TrustgridNodeLicense": 4,
        "Custom::TrustgridImage": 2,
        "Custom::TrustgridChangeGuard": 2,
        "Custom::TrustgridMemberReady": 2,
        "Custom::TrustgridProtection": 2,
    }


def test_the_wheel_describes_the_construct_with_its_license(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(archive.read(n).decode() for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        names = archive.namelist()
    assert "License-Expression: Apache-2.0" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Classifier: Framework :: AWS CDK :: 2" in metadata and "Project-URL: Trustgrid documentation" in metadata
    description = metadata.split("\n\n", 1)[1]
    assert description.startswith("# trustgrid-ha-cluster") and "TrustgridHaCluster(" in description
    assert "make synth" not in description, "about the construct, not the repository"
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_the_consumer_uses_the_new_options(consumer_out: Path) -> None:
    template = json.loads((consumer_out / "NetworkEdge.template.json").read_text())
    clusters = {
        c["Properties"]["ClusterName"]: c["Properties"]["RouteTableIds"]
        for c in template["Resources"].values()
        if c["Type"] == "Custom::TrustgridCluster"
    }
    assert clusters["prod-gw"] == ["rtb-0eee5555eeee5555e", "rtb-0fff6666ffff6666f", "rtb-0abc7777abcd7777a"]
    assert clusters["partner-gw"] == ["rtb-0eee5555eeee5555e", "rtb-0fff6666ffff6666f"]
    kinds = [r["Type"] for r in template["Resources"].values()]
    assert kinds.count("AWS::CloudWatch::Alarm") >= 5  # the consumer's CPU alarm besides the recovery alarms
    assert any("ProductionClusterFqdn" in k for k in template.get("Outputs", {}))


def test_the_construct_imports_nothing_from_the_runtime_beyond_its_standard_library_contract() -> None:
    import ast

    for path in (ROOT / "constructs" / "trustgrid_ha").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trustgrid_ha_runtime"):
                assert node.module in ("trustgrid_ha_runtime", "trustgrid_ha_runtime.contract"), path.name
