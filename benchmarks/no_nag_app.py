"""The default app without its cdk-nag check: the benchmark's measure of what cdk-nag costs each synth.

Not a way to deploy: `app.py` always runs the check.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aws_cdk import App

from app import build_app

build_app(App(), nag=False).synth()
