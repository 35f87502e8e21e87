#!/usr/bin/env python3
"""The default CDK app: the gateway-cluster stack from the ``trustgrid`` context, checked by cdk-nag.

`cdk deploy` (`make deploy`) deploys it. The CodePipeline that ships the same stack to several
environments is a CDK app of its own, `pipeline_app.py`, so that the everyday synth stays lean.
Bad settings end the synth with one message listing every problem, and no traceback.
"""

import sys
from collections.abc import Callable

from aws_cdk import App, Environment, Validations

from stacks.gateway_cluster_stack import GatewayClusterStack
from stacks.settings import CONTEXT_KEY, DEPLOY_CONTEXT_KEY, AppSettings
from trustgrid_ha import TrustgridConfigError


def build_app(app: App, *, nag: bool = True) -> App:
    """The app's stack from the ``trustgrid`` context, checked by cdk-nag unless ``nag`` is false (benchmarks
    measure what the check costs that way)."""
    settings = AppSettings.from_context(app.node.try_get_context(CONTEXT_KEY))
    if settings.is_example and app.node.try_get_context(DEPLOY_CONTEXT_KEY):
        raise TrustgridConfigError(
            CONTEXT_KEY,
            None,
            "refusing to deploy the example settings: set the 'trustgrid' context in cdk.json (see the README's "
            "configuration table) before `make deploy`.",
        )
    env = Environment(account=settings.account, region=settings.region) if settings.account or settings.region else None
    GatewayClusterStack(
        app,
        "TrustgridGatewayCluster",
        settings=settings,
        env=env,
        description="Trustgrid HA gateway cluster (trustgrid-ha-cluster)",
    )
    if nag:
        from cdk_nag import AwsSolutionsChecks  # loading cdk-nag loads the rules and every module they inspect

        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main(build: Callable[[App], App] = build_app) -> int:
    """Synthesize; a settings problem is printed as one clean message with exit code 1."""
    try:
        build(App()).synth()
    except TrustgridConfigError as exc:
        print(f"trustgrid-ha-cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
