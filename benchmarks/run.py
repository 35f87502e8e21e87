"""Run every benchmark from a clean state and write BENCHMARKS.md.

    make bench            # or: python -m benchmarks.run [--runs N]

Nothing here is a test: the numbers are measured and published, never asserted.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
CLUSTER_COUNTS = (1, 10, 50)


# The phases of a synth, in order, as `benchmarks/phases.py` marks them.
PHASES = {
    "imports": "start-up and imports",
    "construction": "construction",
    "synthesis": "synthesis and validation",
    "exit": "process exit",
}
NO_BUILTIN_VALIDATION = {"CDK_VALIDATION": "false"}  # what `cdk synth --no-validation` sets


@dataclass
class Sample:
    seconds: float
    peak_rss_mib: float
    spawned: float  # wall-clock time (time.time()) of the spawn, to line up with the app's own marks
    phases: dict[str, float] = field(default_factory=dict)


def run_process(args: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Sample:
    """Wall time and the peak RSS of the largest process in the tree (python or the jsii node process)."""
    spawned, start = time.time(), time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    if status != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{stderr}")
    return Sample(elapsed, usage.ru_maxrss / 1024, spawned)


@functools.cache
def cdk_json_context() -> str:
    """cdk.json's feature flags, as `cdk synth` hands them to the app (not a fork's own ``trustgrid`` settings: the
    benchmark measures its own apps)."""
    from tests.conftest import cdk_json_context as flags

    return json.dumps(flags())


#: Apps CDK's validation refuses under cdk.json's flags: a stack without resources (F0001), one of over 500
#: (F0007). They run with CDK's default flags.
WITHOUT_FLAGS = frozenset({BENCH / "empty_app.py", BENCH / "growth_app.py"})


def synth(app: Path, outdir: Path, extra_env: dict[str, str] | None = None) -> Sample:
    """Synthesize `app` in a fresh process into an empty `outdir`, timing its phases. The app gets cdk.json's
    context (its feature flags), as `cdk synth` gives it, unless it is one of :data:`WITHOUT_FLAGS`."""
    marks_file = outdir.with_name(outdir.name + ".marks.json")
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "TRUSTGRID_BENCH_MARKS": str(marks_file),
    }
    if app not in WITHOUT_FLAGS:
        env["CDK_CONTEXT_JSON"] = cdk_json_context()
    env.update(extra_env or {})
    sample = run_process([sys.executable, str(BENCH / "phases.py"), str(app)], env=env)
    marks = json.loads(marks_file.read_text())
    ends = [marks["imports"], marks["construction"], marks["synthesis"], sample.spawned + sample.seconds]
    starts = [sample.spawned, *ends[:-1]]
    sample.phases = {name: end - start for name, start, end in zip(PHASES, starts, ends, strict=True)}
    return sample


def summary(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} (min {min(values):.{digits}f}, max {max(values):.{digits}f})"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# -- synth against the floor -----------------------------------------------------------------


SYNTH_ROWS = {
    "floor": ("empty CDK app (one empty stack): **the floor**", BENCH / "empty_app.py", None),
    "included": (
        "the default app's own template through `CfnInclude`: **the second floor**",
        BENCH / "include_app.py",
        None,
    ),
    "vpc": ("reference: one stack with only a two-AZ VPC", BENCH / "vpc_app.py", None),
    "default": ("default app (`app.py`: the gateway-cluster stack, checked by cdk-nag)", ROOT / "app.py", None),
    "no_nag": ("reference: the default app without its cdk-nag check", BENCH / "no_nag_app.py", None),
    "floor_nv": ("the floor, without CDK's built-in validation", BENCH / "empty_app.py", NO_BUILTIN_VALIDATION),
    "default_nv": ("default app, without CDK's built-in validation", ROOT / "app.py", NO_BUILTIN_VALIDATION),
}


def bench_synth(runs: int, work: Path) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {name: [] for name in SYNTH_ROWS}
    template = work / "default-template.json"  # what the second floor includes
    synth(ROOT / "app.py", work / "default-for-include")
    shutil.copy(work / "default-for-include" / "TrustgridGatewayCluster.template.json", template)
    include = {"TRUSTGRID_BENCH_TEMPLATE": str(template)}
    for index in range(runs):  # interleaved, so machine noise hits all alike
        for name, (_, app, extra_env) in SYNTH_ROWS.items():
            env = {**(extra_env or {}), **(include if name == "included" else {})}
            samples[name].append(synth(app, work / f"{name}-{index}", env))
    return samples


# -- growth --------------------------------------------------------------------------------


def bench_growth(runs: int, work: Path) -> dict[int, dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    for count in CLUSTER_COUNTS:
        samples = []
        for index in range(runs):
            out = work / f"growth-{count}-{index}"
            samples.append(synth(BENCH / "growth_app.py", out, {"TRUSTGRID_BENCH_CLUSTERS": str(count)}))
        template_path = out / "Growth.template.json"
        template = json.loads(template_path.read_text())
        kinds = [r["Type"] for r in template["Resources"].values()]
        results[count] = {
            "seconds": [s.seconds for s in samples],
            "rss": [s.peak_rss_mib for s in samples],
            "template_kib": template_path.stat().st_size / 1024,
            "lambda_functions": kinds.count("AWS::Lambda::Function"),
            "resources": len(kinds),
        }
    return results


def bench_split(work: Path) -> dict[int, dict[str, Any]]:
    """The default app (cdk-nag included) with N clusters, each in a stack of its own (stackPerCluster): synth
    seconds (one run each: 50 clusters take about a minute), the stacks and the largest template against
    CloudFormation's limits (500 resources, 200 outputs, 1 MB)."""
    results: dict[int, dict[str, Any]] = {}
    for count in CLUSTER_COUNTS:
        clusters = [{"name": f"gw-{i}", "edgeCidrs": [f"10.{100 + i // 256}.{i % 256}.0/24"]} for i in range(count)]
        context = {**json.loads(cdk_json_context()), "trustgrid": {"clusters": clusters, "stackPerCluster": True}}
        out = work / f"split-{count}"
        sample = synth(ROOT / "app.py", out, {"CDK_CONTEXT_JSON": json.dumps(context)})
        templates = [json.loads(p.read_text()) for p in out.glob("*.template.json")]
        sizes = [p.stat().st_size for p in out.glob("*.template.json")]
        results[count] = {
            "seconds": sample.seconds,
            "stacks": len(templates),
            "max_resources": max(len(t["Resources"]) for t in templates),
            "max_outputs": max(len(t.get("Outputs", {})) for t in templates),
            "max_kib": max(sizes) / 1024,
        }
    return results


# -- custom resource against the API stand-in ------------------------------------------------


def bench_custom_resource(repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        }
    )
    from moto import mock_aws

    from tests.lambda_ import conftest as worlds
    from trustgrid_ha_runtime import handler

    timings: dict[str, list[float]] = {"on_event": [], "is_complete": []}
    real_event, real_complete = handler.handle_event, handler.handle_is_complete

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name].append(time.perf_counter() - start)

        return wrapper

    worlds.handle_event = timed("on_event", real_event)
    worlds.handle_is_complete = timed("is_complete", real_complete)
    from tests.lambda_ import rolling

    calls: dict[str, tuple[int, int, int]] = {}
    lifecycle: dict[str, Any] = {}
    with mock_aws():
        for _ in range(repeats):
            with worlds.make_world() as world:
                calls = one_round(worlds, world, timings)
        with worlds.make_world() as world:
            lifecycle["after_online"] = polls_after_both_online(worlds, world, timings)
        with worlds.make_world() as world:
            members = worlds.mint_and_register(world)
            props = world.cluster_props(members)
            fqdn = world.cluster("Create", props)["PhysicalResourceId"]
            deployed = worlds.Deployed([m["Uid"] for m in members], members, props, fqdn)
            lifecycle["rollout"] = rolling.rolling_instance_type_change(world, deployed, restart_polls=3)
            lifecycle["tunnel"] = rolling.rolling_tunnel_port_change(world, deployed)
        with worlds.make_world() as world:
            members = worlds.mint_and_register(world)
            props = world.cluster_props(members)
            fqdn = world.cluster("Create", props)["PhysicalResourceId"]
            deployed = worlds.Deployed([m["Uid"] for m in members], members, props, fqdn)
            lifecycle["cut_over"] = rolling.successor_cut_over(world, deployed)
        lifecycle["swaps"] = member_swaps(worlds)
    return {"calls": calls, "timings": timings, "lifecycle": lifecycle}


def member_swaps(worlds: Any) -> dict[str, Any]:
    """Each member-swap change kind (both positions, as a new image swaps them), one position alone (the standby,
    the member holding the role), and a swap that fails at the second position and rolls back."""
    from tests.lambda_.swapping import KINDS, SwapWorld

    runs: dict[str, Any] = {}
    cases: list[tuple[str, tuple[int, ...], int | None]] = [(kind, (0, 1), None) for kind in KINDS] + [
        ("subnet of the standby only", (1,), None),
        ("subnet of the member holding the role only", (0,), None),
        ("image, failing at the secondary (rolled back)", (0, 1), 1),
    ]
    for name, positions, fail_at in cases:
        with worlds.make_world() as world:
            members = worlds.mint_and_register(world)
            props = world.cluster_props(members)
            fqdn = world.cluster("Create", props)["PhysicalResourceId"]
            deployed = worlds.Deployed([m["Uid"] for m in members], members, props, fqdn)
            change: dict[str, Any] = KINDS.get(name.split(" of ")[0].split(",")[0], KINDS["subnet"])
            runs[name] = SwapWorld(world, deployed).swap(positions, change, fail_at=fail_at)
    return runs


def alarm_latency() -> dict[str, int]:
    """Worst-case seconds from a member going offline to its alarm, from what the construct configures (the check's
    schedule, the alarms' period and evaluation periods) and CloudWatch's evaluation once a minute: the offline
    state waits for the next check, then for enough breaching data points, then for the next evaluation."""
    from trustgrid_ha.config import DEFAULT_MONITORING_INTERVAL
    from trustgrid_ha.monitoring import ALARM_EVALUATION_PERIODS

    period = int(DEFAULT_MONITORING_INTERVAL.to_seconds())
    worst = period + (ALARM_EVALUATION_PERIODS - 1) * period + 60
    return {"period": period, "evaluation_periods": ALARM_EVALUATION_PERIODS, "worst": worst}


def polls_after_both_online(worlds: Any, world: Any, timings: dict[str, list[float]]) -> int:
    """A create whose nodes register late: the polls after the first one that finds both online."""
    members = worlds.mint(world)
    for index, member in enumerate(members):
        worlds.register(world, member, register_in=2 + index)
    start = len(timings["is_complete"])
    world.cluster("Create", world.cluster_props(members))
    waiting = sum(1 for line in world.log_lines() if line["event"] == "cluster.waiting_for_nodes")
    return len(timings["is_complete"]) - start - waiting - 1


def one_round(worlds: Any, world: Any, timings: dict[str, list[float]]) -> dict[str, tuple[int, int, int]]:
    """Create, every kind of update, a no-op update and delete; (reads, writes, polls) for each."""
    calls: dict[str, tuple[int, int, int]] = {}

    def measure(name: str, action: Callable[[], Any]) -> Any:
        start, polls = len(world.stub.requests), len(timings["is_complete"])
        result = action()
        requests = world.stub.requests[start:]
        reads = sum(1 for r in requests if not r.write)
        calls[name] = (reads, len(requests) - reads, len(timings["is_complete"]) - polls)
        return result

    members = worlds.mint_and_register(world)
    props = world.cluster_props(members)
    fqdn = measure("create (both nodes online)", lambda: world.cluster("Create", props))["PhysicalResourceId"]
    updates = {
        "update: edge CIDRs": {**props, "EdgeCidrs": ["172.16.0.0/16", "172.20.0.0/16"]},
        "update: heartbeat port": {**props, "HeartbeatPort": "9100"},
        "update: tunnel port (one gateway at a time)": {**props, "TunnelPort": "9443"},
        "update: heartbeat interface": {**props, "HeartbeatInterface": "WAN"},
        "update: failback mode": {**props, "FailbackMode": "manualFailback"},
    }
    for name, new in updates.items():
        measure(name, functools.partial(world.cluster, "Update", new, old=props, physical=fqdn))
        world.cluster("Update", props, old=new, physical=fqdn)  # back again, unmeasured
    replacement = world.member(world.license("Create", "prod-gw-c", 2)["PhysicalResourceId"], "prod-gw-c", 0)
    worlds.register(world, replacement)
    swapped = {**props, "Members": [replacement, members[1]]}
    measure("update: replaced gateway", lambda: world.cluster("Update", swapped, old=props, physical=fqdn))
    measure("update: no-op", lambda: world.cluster("Update", swapped, old=swapped, physical=fqdn))
    measure("delete", lambda: world.cluster("Delete", swapped, physical=fqdn))
    return calls


# -- the Lambda asset ------------------------------------------------------------------------


def bench_lambda(runs: int) -> dict[str, Any]:
    from trustgrid_ha.provider import runtime_package_dir

    source = runtime_package_dir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, Path("trustgrid_ha_runtime") / path.relative_to(source))
    probe = (
        "import time; t = time.perf_counter(); import trustgrid_ha_runtime.handler as h; a = time.perf_counter() - t; "
        "import boto3; print(a, time.perf_counter() - t, h.__file__)"
    )
    module, first_call, nothing_cached = [], [], []
    with tempfile.TemporaryDirectory() as task:
        # Like /var/task: our package as shipped (sources, no bytecode); the runtime's own libraries
        # (stdlib, urllib3, boto3) are compiled already, as in the Lambda runtime image.
        shutil.copytree(source, Path(task) / "trustgrid_ha_runtime", ignore=shutil.ignore_patterns("__pycache__"))
        env = {**os.environ, "PYTHONPATH": task, "PYTHONDONTWRITEBYTECODE": "1"}
        for index in range(runs + 1):
            output = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
            a, b, where = output.stdout.split()
            assert where.startswith(task), where
            if index:  # the first run only warms the libraries' bytecode caches
                module.append(float(a) * 1000)
                first_call.append(float(b) * 1000)
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as cache:  # nothing compiled at all, the worst case
                cold = {**env, "PYTHONPYCACHEPREFIX": cache, "PYTHONDONTWRITEBYTECODE": ""}
                output = subprocess.run(
                    [sys.executable, "-c", probe], env=cold, capture_output=True, text=True, check=True
                )
            nothing_cached.append(float(output.stdout.split()[0]) * 1000)
    return {
        "zip_kib": len(buffer.getvalue()) / 1024,
        "module_ms": module,
        "with_boto3_ms": first_call,
        "uncached_ms": nothing_cached,
    }


# -- report --------------------------------------------------------------------------------


def machine() -> str:
    def version(args: list[str]) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory = next(
        line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    from importlib.metadata import version as package_version

    return (
        f"{os.cpu_count()} cores ({cpu}), {int(memory) / 1024 / 1024:.0f} GiB, {platform.platform()}; "
        f"Python {platform.python_version()}, Node {version(['node', '--version'])}, "
        f"aws-cdk-lib {package_version('aws-cdk-lib')}, jsii {package_version('jsii')}"
    )


def commit() -> str:
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return sha + (" (with uncommitted changes)" if dirty else "")


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def median_of(samples: list[Sample]) -> float:
    return statistics.median(s.seconds for s in samples)


def synth_section(rows: dict[str, list[Sample]]) -> list[str]:
    lines = [
        "## Synth against the floor",
        "",
        "| app | seconds | " + " | ".join(PHASES.values()) + " |",
        "|---|---|" + "---|" * len(PHASES),
    ]
    for name, (label, _, _) in SYNTH_ROWS.items():
        phases = [statistics.median(s.phases[phase] for s in rows[name]) for phase in PHASES]
        lines.append(
            f"| {label} | {summary([s.seconds for s in rows[name]])} | "
            + " | ".join(f"{value:.2f}" for value in phases)
            + " |"
        )
    floor, default = median_of(rows["floor"]), median_of(rows["default"])
    floor_nv, default_nv = median_of(rows["floor_nv"]), median_of(rows["default_nv"])
    ratio = default / floor
    included, no_nag = median_of(rows["included"]), median_of(rows["no_nag"])
    ours = default / included
    return [
        *lines,
        "",
        "Phases are medians of their own (they need not add up to the median total). Start-up and imports end",
        "when the app creates its `App`, construction when it calls `synth`; synthesis includes the validation",
        "plugins (cdk-nag, CDK's built-in CloudFormation validation); exit is the time from `synth` returning",
        "to the process ending.",
        "",
        f"Ratio of medians: **{ratio:.2f}x** the floor (an empty app).",
        "",
        f"Against the second floor (the same template through `CfnInclude`: the same resources and the same "
        f"built-in validation, none of our construct code): **{ours:.2f}x**, {default - included:.2f} s of our "
        f"code (construct, cdk-nag, asset bundling). Goal within 1.25x: {verdict(ours <= 1.25)}.",
        "",
        f"- CDK's built-in CloudFormation validation (on by default in this aws-cdk-lib; `cdk synth "
        f"--no-validation` or `CDK_VALIDATION=false` turn it off) takes {floor - floor_nv:.2f} s of the "
        f"floor's {floor:.2f} s and {default - default_nv:.2f} s of the default app's {default:.2f} s.",
        f"- Without it on both sides the floor is {floor_nv:.2f} s and the default app {default_nv:.2f} s: "
        f"{default_nv / floor_nv:.2f}x, {default_nv - floor_nv:.2f} s of the app's own work.",
        f"- A stack with only a VPC is already {median_of(rows['vpc']) / floor:.2f}x the floor.",
        f"- cdk-nag's check takes {default - no_nag:.2f} s of the default app's {default:.2f} s (loading its rules "
        f"loads the JavaScript of the aws-cdk-lib modules they inspect, then every rule visits every resource); "
        f"without it the default app is {no_nag / included:.2f}x the second floor.",
        "",
    ]


def report(runs: int, synth_r: dict[str, list[Sample]], growth: dict, split: dict, cr: dict, lam: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m benchmarks.run --runs {runs}`); commit {commit()}.",
        f"Machine: {machine()}.",
        "",
        "Method: every synth runs the app (`python benchmarks/phases.py <app>`, which runs it unchanged and marks",
        "its phases) in a fresh process with a new, empty `CDK_OUTDIR` and cdk.json's context (its feature flags)",
        "in `CDK_CONTEXT_JSON`, as `cdk synth` gives them (not the empty app and the growth apps: under those",
        "flags CDK refuses an empty stack and one over 500 resources): jsii start-up, construction, local asset",
        "bundling and synthesis, no CDK CLI. The synth rows run interleaved. Times are wall-clock medians with min and",
        f"max over {runs} runs. Peak memory is the largest process of the tree (the jsii node process), from",
        "`wait4`. The custom resource runs in-process against the local Trustgrid API stand-in",
        "(`tests/lambda_/trustgrid_stub.py`) and moto, as the tests do.",
        "",
        *synth_section(synth_r),
        "## Growth: clusters in one stack",
        "",
        "| clusters | synth seconds | template KiB | resources | Lambda functions | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    largest = split[max(split)]
    fits = largest["max_resources"] <= 500 and largest["max_outputs"] <= 200 and largest["max_kib"] <= 1024
    for count, g in growth.items():
        lines.append(
            f"| {count} | {summary(g['seconds'])} | {g['template_kib']:.0f} | {g['resources']} | "
            f"{g['lambda_functions']} | {summary(g['rss'], 0)} |"
        )
    ten = statistics.median(growth[10]["seconds"]) / statistics.median(growth[1]["seconds"])
    constant = len({g["lambda_functions"] for g in growth.values()}) == 1
    lines += [
        "",
        f"10 clusters take {ten:.2f}x the time of 1. Goal within 2x: {verdict(ten <= 2)}. Lambda functions constant "
        f"(one provider per stack): {verdict(constant)}.",
        "",
        "The default app with every cluster in a stack of its own (`stackPerCluster: true`; one synth each, "
        "cdk-nag included), against CloudFormation's limits of 500 resources, 200 outputs and 1 MB a template:",
        "",
        "| clusters | synth seconds | stacks | most resources | most outputs | largest template KiB |",
        "|---|---|---|---|---|---|",
        *(
            f"| {count} | {r['seconds']:.1f} | {r['stacks']} | {r['max_resources']} | {r['max_outputs']} | "
            f"{r['max_kib']:.0f} |"
            for count, r in split.items()
        ),
        "",
        f"Within the limits at {max(split)} clusters: {verdict(fits)}.",
        "",
        "## Custom resource: API calls and handler time",
        "",
        "| request | API reads | API writes | is_complete polls |",
        "|---|---|---|---|",
    ]
    for name, (reads, writes, polls) in cr["calls"].items():
        lines.append(f"| {name} | {reads} | {writes} | {polls} |")
    noop_writes = cr["calls"]["update: no-op"][1]
    rollout, after_online = cr["lifecycle"]["rollout"], cr["lifecycle"]["after_online"]
    tunnel, latency = cr["lifecycle"]["tunnel"], alarm_latency()
    cut, swaps = cr["lifecycle"]["cut_over"], cr["lifecycle"]["swaps"]
    swap_ok = all(r.ungraceful_failovers == 0 and r.most_down_at_once <= 1 for r in swaps.values())
    lines += [
        "",
        f"No-op update writes: {noop_writes}. Goal zero: {verdict(noop_writes == 0)}.",
        "",
        "Lifecycle (simulated with the stand-in: each instance stop and start keeps its node offline in Trustgrid "
        "for 3 poll intervals, EC2 reports it running after 1):",
        "",
        f"- Rolling instance-type change: at most **{rollout.most_down_at_once}** gateway down at once "
        f"(goal 1: {verdict(rollout.most_down_at_once == 1)}); {rollout.polls} poll intervals of 30 s in all, "
        f"{rollout.gate_polls} of them the gate holding the secondary until the primary is back. Role moves: "
        f"**{rollout.graceful_moves} graceful, {rollout.ungraceful_failovers} ungraceful** (goal 0 ungraceful: "
        f"{verdict(rollout.ungraceful_failovers == 0)}; the role leaves the primary before it stops and comes back "
        "before the secondary stops).",
        f"- Tunnel-port change: at most **{tunnel.most_down_at_once}** gateway down at once (goal 1: "
        f"{verdict(tunnel.most_down_at_once == 1)}); role moves: **{tunnel.graceful_moves} graceful, "
        f"{tunnel.ungraceful_failovers} ungraceful** (goal 0 ungraceful: {verdict(tunnel.ungraceful_failovers == 0)}); "
        f"{tunnel.polls} poll intervals.",
        f"- Cut-over to a successor cluster: {cut.replaced} route(s) replaced for {cut.tables} managed table(s), "
        f"{cut.deleted} deleted; moments a table was without the route: **{len(cut.windows)}** (goal 0: "
        f"{verdict(not cut.windows and cut.replaced == cut.tables)}). Traffic moves once per table, in one step.",
        "- Member swaps (`memberSwap`; each poll interval 30 s; a new node registers 2 intervals after its instance "
        "starts and is online 1 later; a gateway without its Elastic IP goes offline). The handler takes the same path "
        "for every kind (a new node at the position); what differs is the CloudFormation shape, proven by the change "
        "model in tests/constructs/test_member_swap_model.py:",
        "",
        "  | change | role moves graceful / ungraceful | most gateways down at once | intervals on one member "
        "| intervals in all | route writes by the handler |",
        "  |---|---|---|---|---|---|",
        *(
            f"  | {name}{' (failed: ' + run.failure.split(':')[0] + ')' if run.failure else ''} | "
            f"{run.graceful_moves} / {run.ungraceful_failovers} | {run.most_down_at_once} | "
            f"{run.polls_on_one_member} | {run.polls} | {run.handler_route_writes} |"
            for name, run in swaps.items()
        ),
        "",
        f"  Goal 0 ungraceful and at most 1 down in every case: {verdict(swap_ok)}.",
        f"- Alarm latency (computed from the configuration, not measured in AWS): a member that goes offline raises "
        f"MembersOnline within **{latency['worst']} s** at worst (check every {latency['period']} s, "
        f"{latency['evaluation_periods']} breaching data points, CloudWatch evaluating once a minute). Goal 180 s: "
        f"{verdict(latency['worst'] <= 180)}.",
        f"- Create: {after_online} poll(s) after the first poll that finds both nodes online (it enables the gateway "
        f"services and configures the cluster; the next verifies the restarted nodes and the routes). Goal 1: "
        f"{verdict(after_online <= 1)}.",
        "",
        "| handler | invocations | median ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for name, values in cr["timings"].items():
        ms = [v * 1000 for v in values]
        lines.append(f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | {p95(ms):.1f} |")
    module = statistics.median(lam["module_ms"])
    lines += [
        "",
        "Handler times include the stand-in's HTTP round trips on loopback and moto's EC2; they measure the",
        "handler's own work, not Trustgrid's latency.",
        "",
        "## Lambda asset",
        "",
        f"- Zipped asset: {lam['zip_kib']:.1f} KiB. Goal under 1 MB: {verdict(lam['zip_kib'] < 1024)}.",
        f"- Cold import of `trustgrid_ha_runtime.handler` in a new process, our package from source (as shipped, "
        f"no bytecode), the libraries compiled (as in the Lambda runtime): {summary(lam['module_ms'], 1)} ms. "
        f"Goal under 300 ms: {verdict(module < 300)}.",
        f"- The same plus `boto3`, which the first invocation imports: {summary(lam['with_boto3_ms'], 1)} ms.",
        f"- Worst case, nothing compiled at all (stdlib and urllib3 too): {summary(lam['uncached_ms'], 1)} ms.",
        "",
    ]
    findings = BENCH / "findings.md"
    if findings.exists():
        lines += [findings.read_text().rstrip(), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    work = Path(tempfile.mkdtemp(prefix="trustgrid-bench-"))
    try:
        synth_r = bench_synth(args.runs, work)
        growth = bench_growth(args.runs, work)
        split = bench_split(work)
        cr = bench_custom_resource(args.runs)
        lam = bench_lambda(max(args.runs, 7))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.output.write_text(report(args.runs, synth_r, growth, split, cr, lam))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
