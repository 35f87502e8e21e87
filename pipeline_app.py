#!/usr/bin/env python3
"""The pipeline CDK app: a CodePipeline that deploys the gateway-cluster stack to every environment in
``trustgrid.pipeline``, checked by cdk-nag. `make synth` synthesizes it into cdk.out.pipeline/;
`make deploy-pipeline` deploys it once, after which it updates itself.
"""

import sys

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from app import main
from stacks.pipeline_settings import PipelineSettings
from stacks.pipeline_stack import PIPELINE_OUTPUT, PipelineStack
from stacks.reading import CONTEXT_KEY


def build_pipeline_app(app: App) -> App:
    PipelineStack(
        app,
        "TrustgridPipeline",
        settings=PipelineSettings.from_context(app.node.try_get_context(CONTEXT_KEY)),
        description="CDK pipeline for the Trustgrid HA gateway cluster (trustgrid-ha-cluster)",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


__all__ = ["PIPELINE_OUTPUT", "build_pipeline_app"]

if __name__ == "__main__":
    sys.exit(main(build_pipeline_app))
