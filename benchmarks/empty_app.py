"""The floor: an empty CDK app with one empty stack, same Python and CDK versions."""

from aws_cdk import App, Stack

app = App()
Stack(app, "Empty")
app.synth()
