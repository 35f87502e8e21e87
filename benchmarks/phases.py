"""Run a CDK app script and record when its phases end, for the synth benchmark.

    python benchmarks/phases.py <app.py>      # marks go to the file named by TRUSTGRID_BENCH_MARKS

The app runs unchanged, as ``__main__``. The phases are told apart by the jsii requests the app sends
to its node process: the first ``create`` of ``aws-cdk-lib.App`` ends start-up and imports (Python,
jsii's node process, aws-cdk-lib and every module the app imports), the ``synth`` call starts synthesis
(construction ends) and its return ends synthesis (CDK's validation plugins included). The parent
takes the wall clock at spawn and at exit, so the last phase is the process's exit.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

from jsii._kernel.providers import process


def main() -> None:
    script = Path(sys.argv[1]).resolve()
    marks: dict[str, float] = {}
    send = process._NodeProcess.send

    def timed_send(self: Any, request: Any, response_type: Any) -> Any:
        if getattr(request, "fqn", None) == "aws-cdk-lib.App":
            marks.setdefault("imports", time.time())
        is_synth = getattr(request, "method", None) == "synth"
        if is_synth:
            marks.setdefault("construction", time.time())
        response = send(self, request, response_type)
        if is_synth:
            marks.setdefault("synthesis", time.time())
            Path(os.environ["TRUSTGRID_BENCH_MARKS"]).write_text(json.dumps(marks))
        return response

    process._NodeProcess.send = timed_send  # type: ignore[method-assign]
    sys.argv = [str(script), *sys.argv[2:]]
    sys.path.insert(0, str(script.parent))
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
