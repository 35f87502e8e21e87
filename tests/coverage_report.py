"""Line coverage per package after `make unit integration`; fails when a package is under its floor."""

from __future__ import annotations

import io
import sys

import coverage

#: package directory -> the least line coverage it may have (percent)
FLOORS = {
    "constructs/trustgrid_ha": 90.0,
    "lambda/trustgrid_ha_runtime": 85.0,
    "tools/trustgrid_ha_tools": 85.0,
    "stacks": 80.0,
}


def main() -> int:
    data = coverage.Coverage()
    data.load()
    failed = []
    print("line coverage per package:")
    for package, floor in FLOORS.items():
        percent = data.report(include=[f"{package}/*"], file=io.StringIO())
        verdict = "ok" if percent >= floor else f"UNDER the floor of {floor:.0f} %"
        print(f"  {package:<32} {percent:5.1f} %  {verdict}")
        if percent < floor:
            failed.append(package)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
