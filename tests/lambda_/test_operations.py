"""The operator's tools against the Trustgrid stand-in and moto: status, the failover drill, the scheduled
health check's metrics."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from tests.lambda_.conftest import REGION, Deployed, World
from trustgrid_ha_runtime import monitor
from trustgrid_ha_tools import drill, status

FQDN = "prod-gw.acme.trustgrid.io"


def run_status(world: World, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    code = status.main(
        ["--secret-id", world.api_secret_arn, "--api-url", world.stub.url, "--cluster", FQDN, *extra],
        secrets=world.secrets, ec2=world.ec2, out=out,
    )  # fmt: skip
    return code, out.getvalue()


def test_status_of_a_healthy_cluster(world: World, deployed: Deployed) -> None:
    code, text = run_status(world)
    assert code == 0, text
    assert f"cluster {FQDN}: health healthy, mode autoFailback" in text
    assert text.count("online   gateway enabled") == 2
    assert "active " in text and "standby" in text
    assert text.count(" ok") == 2 and text.strip().endswith("verdict: healthy")
    _, machine = run_status(world, "--json")
    (cluster,) = json.loads(machine)
    assert cluster["healthy"] is True and {m["lan_eni"] for m in cluster["members"]} == {
        m["LanEniId"] for m in deployed.members
    }
    assert world.stub.key_secret not in text + machine


def test_status_reports_a_route_left_on_the_old_member_as_a_failure(world: World, deployed: Deployed) -> None:
    world.stub.clusters[FQDN]["active"] = deployed.uids[1]  # a failover whose routes have not moved yet
    code, text = run_status(world)
    assert code == 1
    assert "NOT ON THE ACTIVE MEMBER" in text and "not to the active member" in text
    assert "verdict: UNHEALTHY: " + FQDN in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unknown", "has no cluster"),
        ("revoked", "API key was refused"),
    ],
)
def test_status_explains_an_unknown_cluster_or_a_revoked_key(
    world: World, deployed: Deployed, change: str, message: str, capsys
) -> None:
    if change == "unknown":
        del world.stub.clusters[FQDN]
        code, text = run_status(world)
        assert code == 1 and message in text
        return
    world.stub.key_secret = "rotated-away"
    code, _ = run_status(world)
    assert code == 2 and message in capsys.readouterr().err


def test_status_without_credentials_says_so(world: World, deployed: Deployed, monkeypatch, capsys) -> None:
    import botocore.exceptions

    class NoCredentials:
        def get_secret_value(self, **_: object) -> None:
            raise botocore.exceptions.NoCredentialsError()

    code = status.main(["--secret-id", "x", "--cluster", FQDN], secrets=NoCredentials(), ec2=world.ec2)
    assert code == 2 and "no AWS credentials" in capsys.readouterr().err


def drill_run(world: World, *extra: str, typed: str = FQDN) -> tuple[int, str]:
    out = io.StringIO()
    clock = {"t": 0.0}

    def sleep(seconds: float) -> None:  # what happens while the drill waits: the members act, time passes
        clock["t"] += seconds
        world.between_polls()

    code = drill.main(
        ["--secret-id", world.api_secret_arn, "--api-url", world.stub.url, "--cluster", FQDN, "--interval", "5",
         "--timeout", "120", *extra],
        secrets=world.secrets, ec2=world.ec2, out=out, sleep=sleep, now=lambda: clock["t"], ask=lambda _: typed,
    )  # fmt: skip
    return code, out.getvalue()


def test_the_drill_fails_over_measures_and_fails_back(world: World, deployed: Deployed, tmp_path: Path) -> None:
    saved = tmp_path / "drill.json"
    code, text = drill_run(world, "--failback", "--output", str(saved))
    assert code == 0, text
    assert "failover prod-gw-a -> prod-gw-b:" in text and "failover prod-gw-b -> prod-gw-a:" in text
    assert "prod-gw-b is the active member" in text and "cluster healthy, every route on the new active member" in text
    timelines = json.loads(saved.read_text())
    assert [t["complete"] for t in timelines] == [True, True]
    moved = [e for e in timelines[0]["events"] if "sends 172.16.0.0/16" in e[1]]
    assert len(moved) == 2, "each managed route table, timed"
    assert world.stub.clusters[FQDN]["active"] == deployed.uids[0], "failed back"


def test_the_drill_refuses_production_without_yes_and_an_unhealthy_cluster(
    world: World, deployed: Deployed, capsys
) -> None:
    assert drill_run(world, "--production")[0] == 2
    assert "without --yes" in capsys.readouterr().err
    world.stub.set_online(deployed.uids[1], False)
    assert drill_run(world, "--production", "--yes")[0] == 1
    assert "not healthy to begin with" in capsys.readouterr().err
    assert world.stub.clusters[FQDN]["active"] == deployed.uids[0], "nothing was changed"


def test_the_drill_times_out_saying_what_it_saw_last(world: World, deployed: Deployed, monkeypatch, capsys) -> None:
    monkeypatch.setattr(World, "route_agent", lambda self: None)  # the new active member never moves the routes
    assert drill_run(world)[0] == 1
    err = capsys.readouterr().err
    assert "did not complete within 120 s" in err and "Last seen: health 'healthy', active prod-gw-b" in err
    assert "not to the active member" in err


def test_the_scheduled_check_publishes_the_clusters_metrics(world: World, deployed: Deployed) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    name = f"prod-gw-{world.vpc_id}"
    client = world.runtime().api()
    start = len(world.stub.requests)
    results = monitor.check([{"name": name, "fqdn": FQDN}], client, world.ec2, cloudwatch, world.runtime().log)
    assert results[name] == {
        "ClusterHealthy": 1,
        "RoutesOnActiveMember": 1,
        "MembersOnline": 2,
        "GatewayServiceEnabled": 2,
    }
    world.stub.set_online(deployed.uids[1], False)
    monitor.check([{"name": name, "fqdn": FQDN}], client, world.ec2, cloudwatch, world.runtime().log)
    published = cloudwatch.list_metrics(Namespace="Trustgrid/HA", Dimensions=[{"Name": "ClusterName", "Value": name}])
    assert sorted(m["MetricName"] for m in published["Metrics"]) == sorted(monitor.METRICS)
    metric = {
        "Namespace": "Trustgrid/HA",
        "MetricName": "MembersOnline",
        "Dimensions": [{"Name": "ClusterName", "Value": name}],
    }
    now = datetime.now(timezone.utc)
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "online", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Minimum"}}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
    )
    assert min(data["MetricDataResults"][0]["Values"]) == 1.0
    assert [r for r in world.stub.requests[start:] if r.write] == [], "read only: never writes to Trustgrid"


def test_the_scheduled_check_publishes_nothing_when_trustgrid_is_down(world: World, deployed: Deployed) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    world.stub.key_secret = "revoked"
    results = monitor.check([{"name": "down", "fqdn": FQDN}], world.runtime(key_secret="x").api(), world.ec2,
                            cloudwatch, world.runtime().log)  # fmt: skip
    assert results == {"down": None}
