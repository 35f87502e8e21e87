#!/usr/bin/env python3
"""The default CDK app: the gateway-cluster stack from the ``trustgrid`` context, checked by cdk-nag.

`cdk deploy` (`make deploy`) deploys it. The CodePipeline that ships the same stack to several
environments is a CDK app of its own, `pipeline_app.py`, so that the everyday synth stays lean.
Bad settings end the synth with one message listing every problem, and no traceback.
"""

import sys
from collections.abc import Callable

from aws_cdk import App, Environment, Validations

from stacks.gateway_cluster_stack import build_stacks
from stacks.pipeline_settings import PipelineSettings
from stacks.reading import CONTEXT_KEY
from stacks.settings import DEPLOY_CONTEXT_KEY, AppSettings, pipeline_only
from trustgrid_ha import TrustgridConfigError


def build_app(app: App, *, nag: bool = True) -> App:
    """The app's stack from the ``trustgrid`` context, checked by cdk-nag unless ``nag`` is false (benchmarks
    measure what the check costs that way). A configuration of the pipeline alone gives the stack of each of its
    environments instead (``<environment>-TrustgridGatewayCluster``: what the pipeline deploys, to diff locally)."""
    raw = app.node.try_get_context(CONTEXT_KEY)
    if pipeline_only(raw):
        if app.node.try_get_context(DEPLOY_CONTEXT_KEY):
            raise TrustgridConfigError(
                f"{CONTEXT_KEY}.pipeline",
                "(a pipeline-only configuration)",
                "its stacks are deployed by the pipeline, with its approvals and health checks: `make deploy` would "
                "go around them. Push to the pipeline's branch (or `make deploy-pipeline` to create the pipeline).",
            )
        for environment in PipelineSettings.from_context(raw).environments:
            build_stacks(
                app,
                environment.stack,
                prefix=f"{environment.name}-",
                env=Environment(account=environment.account, region=environment.region),
                description=f"Trustgrid HA gateway cluster ({environment.name}, deployed by the pipeline)",
            )
        return _checked(app, nag)
    settings = AppSettings.from_context(raw)
    if settings.is_example and app.node.try_get_context(DEPLOY_CONTEXT_KEY):
        raise TrustgridConfigError(
            CONTEXT_KEY,
            None,
            "refusing to deploy the example settings: set the 'trustgrid' context in cdk.json (see docs/app.md) "
            "before `make deploy`.",
        )
    env = Environment(account=settings.account, region=settings.region) if settings.account or settings.region else None
    build_stacks(app, settings, env=env, description="Trustgrid HA gateway cluster (trustgrid-ha-cluster)")
    return _checked(app, nag)


def _checked(app: App, nag: bool) -> App:
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
