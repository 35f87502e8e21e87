#!/usr/bin/env python3
"""The default CDK app: one gateway-cluster stack from the ``trustgrid`` context, checked by cdk-nag."""

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.gateway_cluster_stack import GatewayClusterStack
from stacks.pipeline_stack import PipelineStack
from stacks.settings import CONTEXT_KEY, AppSettings, PipelineSettings


def build_app(app: App) -> App:
    """The gateway-cluster stack (`make deploy`) and the pipeline that ships it (`make deploy-pipeline`)."""
    context = app.node.try_get_context(CONTEXT_KEY)
    GatewayClusterStack(
        app,
        "TrustgridGatewayCluster",
        settings=AppSettings.from_context(context),
        description="Trustgrid HA gateway cluster (trustgrid-ha-cluster)",
    )
    PipelineStack(
        app,
        "TrustgridPipeline",
        settings=PipelineSettings.from_context(context),
        description="CDK pipeline for the Trustgrid HA gateway cluster (trustgrid-ha-cluster)",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app(App()).synth()
