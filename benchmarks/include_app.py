"""The second floor: the default app's own synthesized template, included with ``CfnInclude``.

The same resources and the same built-in CloudFormation validation as the default app, none of our construct
code (and no cdk-nag): the default app's time over this one is what our code costs. ``TRUSTGRID_BENCH_TEMPLATE``
names the template (``make bench`` synthesizes the default app first).
"""

import os

from aws_cdk import App, DefaultStackSynthesizer, Stack
from aws_cdk import cloudformation_include as cfn_inc

app = App()
stack = Stack(app, "Included", synthesizer=DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
cfn_inc.CfnInclude(stack, "Template", template_file=os.environ["TRUSTGRID_BENCH_TEMPLATE"])
app.synth()
