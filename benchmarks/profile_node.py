"""Profile where a synth spends its time inside the jsii node process.

    python -m benchmarks.profile_node app.py [--no-validation] [--top 40]

jsii starts node as ``$JSII_NODE``; this points it at a wrapper that adds ``--cpu-prof`` (which
``NODE_OPTIONS`` does not accept), runs the app once into a fresh output directory, and prints the
functions with the most inclusive time in the busiest node process (jsii runs two: a relay and the
kernel). Python's own share is seen with ``python -m cProfile`` or ``-X importtime``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from benchmarks.run import NO_BUILTIN_VALIDATION, ROOT


def inclusive_times(profile: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Seconds of inclusive time per function (counted once a stack), and the profile's total."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", [])}
    self_us: Counter[int] = Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        self_us[sample] += delta

    def name(node_id: int) -> str:
        frame = nodes[node_id]["callFrame"]
        where = re.sub(r".*/(node_modules|package-cache/[^/]+/[^/]+)/", "", frame["url"])
        return f"{frame['functionName'] or '(module)'}  {where}"

    inclusive: defaultdict[str, float] = defaultdict(float)
    for node_id, micros in self_us.items():
        seen: set[str] = set()
        current: int | None = node_id
        while current is not None:
            key = name(current)
            if key not in seen:
                inclusive[key] += micros / 1e6
                seen.add(key)
            current = parent.get(current)
    return sum(self_us.values()) / 1e6, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", type=Path)
    parser.add_argument("--no-validation", action="store_true", help="skip CDK's built-in validation")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trustgrid-profile-"))
    try:
        wrapper = work / "node"
        wrapper.write_text(f'#!/bin/sh\nexec node --cpu-prof --cpu-prof-dir="{work / "profiles"}" "$@"\n')
        wrapper.chmod(0o755)
        env = {
            **os.environ,
            "JSII_NODE": str(wrapper),
            "CDK_OUTDIR": str(work / "cdk.out"),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            **(NO_BUILTIN_VALIDATION if args.no_validation else {}),
        }
        subprocess.run([sys.executable, str(args.app)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        busiest = max((work / "profiles").glob("*.cpuprofile"), key=lambda path: path.stat().st_size)
        total, inclusive = inclusive_times(json.loads(busiest.read_text()))
        print(f"node kernel process: {total:.2f} s sampled")
        for key, seconds in sorted(inclusive.items(), key=lambda item: -item[1])[: args.top]:
            print(f"{seconds:7.2f} s  {key[:150]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
