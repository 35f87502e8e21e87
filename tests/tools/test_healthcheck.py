"""The pipeline's post-deploy health check, against the API stand-in and moto's Secrets Manager."""

from __future__ import annotations

import io

from tests.lambda_.conftest import Deployed, World
from trustgrid_ha_tools import healthcheck


def run(world: World, *clusters: str, attempts: int = 1) -> tuple[int, str]:
    out = io.StringIO()
    code = healthcheck.main(
        ["--secret-id", world.api_secret_arn, "--api-url", world.stub.url, "--attempts", str(attempts),
         "--interval", "0", *clusters],
        secrets=world.secrets,
        out=out,
    )  # fmt: skip
    return code, out.getvalue()


def test_healthy_cluster_passes(world: World, deployed: Deployed) -> None:
    code, out = run(world, deployed.fqdn)
    assert code == 0 and f"healthy: {deployed.fqdn}" in out
    assert world.stub.key_secret not in out


def test_unhealthy_cluster_fails_with_the_reason(world: World, deployed: Deployed) -> None:
    world.stub.set_online(deployed.uids[1], False)
    code, out = run(world, deployed.fqdn, attempts=2)
    assert code == 1
    assert "attempt 2/2" in out and "health is 'unhealthy'" in out and "Trustgrid portal" in out


def test_unknown_cluster_fails_naming_it(world: World, deployed: Deployed) -> None:
    code, out = run(world, deployed.fqdn, "nope.acme.trustgrid.io")
    assert code == 1 and "nope.acme.trustgrid.io" in out and "has no cluster" in out


def test_recovers_when_the_cluster_becomes_healthy_between_attempts(world: World, deployed: Deployed) -> None:
    world.stub.set_online(deployed.uids[0], False)
    sleeps: list[float] = []

    def heal(seconds: float) -> None:
        sleeps.append(seconds)
        world.stub.set_online(deployed.uids[0])

    client = world.runtime().api()
    out = io.StringIO()
    assert healthcheck.check(client, [deployed.fqdn], attempts=3, interval=5, out=out, sleep=heal)
    assert sleeps == [5]
