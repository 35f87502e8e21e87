"""The synthesized templates of the default app, kept as snapshots: a refactoring changes no resource.

``python -m tests.stacks.snapshot`` writes them anew; do that only for a change that means to change the template,
and say why in the commit. Asset hashes are replaced by ``<asset>``: they follow the code, not the template.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
STACK = "TrustgridGatewayCluster"
ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalized(template: dict[str, Any]) -> Any:
    return json.loads(ASSET_HASH.sub("<asset>", json.dumps(template)))


def snapshot_path(name: str) -> Path:
    return SNAPSHOTS / f"{name}.template.json"


def read(out: Path) -> Any:
    return normalized(json.loads((out / f"{STACK}.template.json").read_text()))


def main() -> int:
    from tests.stacks.test_default_app import TWO_CLUSTERS, synth

    SNAPSHOTS.mkdir(exist_ok=True)
    for name, context in (("default", None), ("two-clusters", TWO_CLUSTERS)):
        with tempfile.TemporaryDirectory() as tmp:
            text = json.dumps(read(synth(Path(tmp), context)), indent=1, sort_keys=True) + "\n"
        snapshot_path(name).write_text(text)
        print(f"wrote {snapshot_path(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
