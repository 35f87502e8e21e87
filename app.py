#!/usr/bin/env python3
"""The default CDK app: the gateway-cluster stack from the ``trustgrid`` context, checked by cdk-nag.

`cdk deploy` (`make deploy`) deploys it. The CodePipeline that ships the same stack to several
environments is a CDK app of its own, `pipeline_app.py`, so that the everyday synth stays lean.
"""

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.gateway_cluster_stack import GatewayClusterStack
from stacks.settings import CONTEXT_KEY, AppSettings


def build_app(app: App) -> App:
    GatewayClusterStack(
        app,
        "TrustgridGatewayCluster",
        settings=AppSettings.from_context(app.node.try_get_context(CONTEXT_KEY)),
        description="Trustgrid HA gateway cluster (trustgrid-ha-cluster)",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app(App()).synth()
