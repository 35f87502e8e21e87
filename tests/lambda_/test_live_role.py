"""Who is active: every reader takes the role a member reports holding (``shadow.reported["cluster.master"]``),
never the configured flag (``config.cluster.master``), which stays on the primary after a manual-mode failover."""

from __future__ import annotations

import io
import json

import boto3
import pytest

from tests.lambda_.conftest import REGION, Deployed, World
from tests.lambda_.test_operations import FQDN, drill_run, run_status
from trustgrid_ha_runtime import monitor
from trustgrid_ha_runtime.handover import DegradedPair
from trustgrid_ha_tools import healthcheck


@pytest.fixture
def failed_over(world: World, deployed: Deployed) -> Deployed:
    """A manual-failback cluster whose primary went down and came back: the secondary holds the role and owns
    the routes, the primary is still the configured active member."""
    a, b = deployed.uids
    props = {**deployed.props, "FailbackMode": "manualFailback"}
    world.cluster("Update", props, old=deployed.props, physical=deployed.fqdn)
    world.stub.set_online(a, False)
    world.between_polls()
    world.stub.set_online(a, True)
    world.between_polls()
    assert (world.stub.configured(FQDN), world.stub.clusters[FQDN]["active"]) == (a, b)
    assert world.stub.clusters[FQDN]["mode"] == "manualFailback"
    return Deployed(deployed.uids, deployed.members, props, deployed.fqdn)


def test_status_after_a_manual_failover_is_healthy_and_shows_both_facts(world: World, failed_over: Deployed) -> None:
    code, text = run_status(world)
    assert code == 0, text
    line_a, line_b = (line for line in text.splitlines() if line.strip().startswith("member"))
    assert "standby" in line_a and "configured-active" in line_a
    assert "active " in line_b and "configured-active" not in line_b
    (cluster,) = json.loads(run_status(world, "--json")[1])
    assert [(m["active"], m["configured_active"]) for m in cluster["members"]] == [(False, True), (True, False)]


def test_the_scheduled_check_and_the_pipeline_step_pass_after_a_manual_failover(
    world: World, failed_over: Deployed
) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    values = monitor.check([{"name": "c", "fqdn": FQDN}], world.runtime().api(), world.ec2, cloudwatch,
                           world.runtime().log)["c"]  # fmt: skip
    assert values == {"ClusterHealthy": 1, "RoutesOnActiveMember": 1, "MembersOnline": 2, "GatewayServiceEnabled": 2}
    out = io.StringIO()
    assert healthcheck.check(world.runtime().api(), [FQDN], attempts=1, interval=0, out=out, ec2=world.ec2)
    assert out.getvalue() == f"healthy: {FQDN}\n"


def test_the_pipeline_step_fails_when_the_routes_stay_on_the_member_that_lost_the_role(
    world: World, deployed: Deployed, monkeypatch
) -> None:
    monkeypatch.setattr(World, "route_agent", lambda self: None)  # the new holder never moves the routes
    world.stub.fail_over(FQDN)
    out = io.StringIO()
    assert not healthcheck.check(world.runtime().api(), [FQDN], attempts=1, interval=0, out=out, ec2=world.ec2)
    assert "not to the active member" in out.getvalue()
    out = io.StringIO()
    assert healthcheck.check(world.runtime().api(), [FQDN], attempts=1, interval=0, out=out)
    assert "routes not checked" in out.getvalue(), "without EC2 access it says what it did not check"


def test_the_drill_after_a_manual_failover_moves_the_role_back_and_waits_for_the_role_not_the_flag(
    world: World, failed_over: Deployed
) -> None:
    a, _ = failed_over.uids
    world.stub.role_lag = 3  # the role follows the configured flag only three polls later
    code, text = drill_run(world)
    assert code == 0, text
    assert "failover prod-gw-b -> prod-gw-a:" in text
    (took,) = [line for line in text.splitlines() if "prod-gw-a is the active member" in line]
    assert float(took.split()[0]) >= 15.0, "it waited for the role, not for the configured flag (set at 0 s)"
    assert world.stub.clusters[FQDN]["active"] == a


def test_the_drill_asks_for_the_cluster_to_be_typed_back(world: World, deployed: Deployed, capsys) -> None:
    assert drill_run(world, typed="prod-gw")[0] == 2
    assert "not confirmed; nothing was changed" in capsys.readouterr().err
    assert [r for r in world.stub.requests if r.write and "/active/" in r.path][1:] == [], "only the create's"
    assert drill_run(world, "--yes", typed="")[0] == 0


@pytest.mark.parametrize("down", [0, 1])
def test_a_planned_restart_is_refused_on_a_degraded_pair_before_anything_changes(
    world: World, deployed: Deployed, down: int
) -> None:
    world.stub.set_online(deployed.uids[down], False)
    start = len(world.stub.requests)
    with pytest.raises(DegradedPair) as refused:
        world.cluster("Update", {**deployed.props, "TunnelPort": "9443"}, old=deployed.props, physical=deployed.fqdn)
    name = ("prod-gw-a", "prod-gw-b")[down]
    assert f"gateway {name} is registered, offline" in str(refused.value)
    assert "Refused before anything changed" in str(refused.value)
    assert [r for r in world.stub.requests[start:] if r.write] == []


def test_the_active_member_is_set_once_on_the_configured_flag_not_on_health(world: World, deployed: Deployed) -> None:
    world.stub.set_online(deployed.uids[1], False)  # unhealthy now
    start = len(world.stub.requests)
    with pytest.raises(AssertionError, match="not complete"):  # a duplicate Create: it waits for health, ...
        world.cluster("Create", deployed.props, max_polls=2)
    assert [r.path for r in world.stub.requests[start:] if "/active/" in r.path] == [], "... but never re-designates"


def test_every_operator_path_refuses_a_non_https_api_url(world: World, deployed: Deployed, capsys) -> None:
    """The key never travels in clear: only https, or a stand-in on this machine's loopback interface."""
    from trustgrid_ha_runtime.api import Credentials, InsecureApiUrl, TrustgridClient
    from trustgrid_ha_tools import drill, status

    plain = "http://api.trustgrid.io"
    args = ["--secret-id", world.api_secret_arn, "--api-url", plain, "--cluster", FQDN]
    assert status.main(args, secrets=world.secrets, ec2=world.ec2, out=io.StringIO()) == 2
    assert drill.main([*args, "--yes"], secrets=world.secrets, ec2=world.ec2, out=io.StringIO()) == 1
    out = io.StringIO()
    assert healthcheck.main(["--secret-id", world.api_secret_arn, "--api-url", plain, FQDN], secrets=world.secrets,
                            out=out) == 2  # fmt: skip
    assert "must not travel in clear" in out.getvalue()
    assert capsys.readouterr().err.count("must not travel in clear") == 2
    for url in (plain, "ftp://api.trustgrid.io", "https://", "api.trustgrid.io"):
        with pytest.raises(InsecureApiUrl):  # what the custom resource and the scheduled check build too
            TrustgridClient(url, Credentials("id", "secret"))
    assert [r for r in world.stub.requests if r.write and "/active/" in r.path][1:] == [], "nothing moved"


def test_the_pipeline_step_explains_an_ec2_refusal_instead_of_a_traceback(world: World, deployed: Deployed) -> None:
    class Refused:
        def describe_route_tables(self, **_: object) -> None:
            raise RuntimeError("AccessDenied: the lookup role may not DescribeRouteTables")

        describe_network_interfaces = describe_route_tables

    out = io.StringIO()
    assert not healthcheck.check(world.runtime().api(), [FQDN], attempts=1, interval=0, out=out, ec2=Refused())
    assert "AccessDenied" in out.getvalue()


def test_the_operator_tools_take_the_region_from_aws_region_or_aws_default_region_and_say_when_none(
    monkeypatch, capsys
) -> None:
    from trustgrid_ha_tools import cli, status

    assert cli.aws_region(None, {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"}) == "eu-west-1"
    assert cli.aws_region(None, {"AWS_DEFAULT_REGION": "us-east-2"}) == "us-east-2"
    assert cli.aws_region("ap-south-1", {"AWS_REGION": "eu-west-1"}) == "ap-south-1"
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert status.main(["--secret-id", "s", "--cluster", FQDN]) == 2
    assert "no AWS region: give --region, or set AWS_REGION or AWS_DEFAULT_REGION" in capsys.readouterr().err
