"""Shared test settings: no AWS account, no real credentials, nothing leaves the machine."""

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)


import pytest

#: The integration tier: synthesis (jsii), cfn-lint, cdk-nag, the wheel, and the API client's fault matrix with
#: real timeouts. Everything else is the unit tier (pure functions and handler logic): `make unit`.
INTEGRATION = (
    "tests/constructs/",
    "tests/stacks/",
    "tests/test_package.py",
    "tests/test_iam.py",
    "tests/lambda_/test_cluster_resilience.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.as_posix()
        if any(part in path for part in INTEGRATION):
            item.add_marker(pytest.mark.integration)


def cdk_json_context(cdk_json: object = None, **extra: object) -> dict[str, object]:
    """The context `cdk synth` gives the apps: cdk.json's feature flags, plus ``extra``. The user's own settings in
    cdk.json (the ``trustgrid`` key, say, in a configured fork) never reach a test: tests bring their own."""
    import json
    from pathlib import Path

    path = Path(str(cdk_json)) if cdk_json else Path(__file__).resolve().parents[1] / "cdk.json"
    context = json.loads(path.read_text())["context"]
    flags = {key: value for key, value in context.items() if not key.startswith("trustgrid")}
    return {**flags, **extra}
