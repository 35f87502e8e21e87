"""The API client's retry, timeout and error behaviour against the stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lambda_.trustgrid_stub import DROP, Fault, TrustgridStub, error, slow
from trustgrid_ha_runtime.api import ApiError, Credentials, NotFound, RetryPolicy, TrustgridClient
from trustgrid_ha_runtime.log import JsonLogger


@pytest.fixture
def stub() -> Iterator[TrustgridStub]:
    server = TrustgridStub().start()
    yield server
    server.stop()


def client(stub: TrustgridStub, sleeps: list[float], budget: float = 30.0, attempts: int = 5) -> TrustgridClient:
    return TrustgridClient(
        stub.url,
        Credentials(stub.key_id, stub.key_secret),
        logger=JsonLogger(stream=__import__("io").StringIO()),
        policy=RetryPolicy(max_attempts=attempts, base_delay=0.5, max_delay=4.0, request_timeout=0.3),
        budget=lambda: budget,
        sleep=sleeps.append,
        rng=lambda: 1.0,
    )


def test_retry_after_is_honoured(stub: TrustgridStub) -> None:
    sleeps: list[float] = []
    stub.inject("org", error(429, retry_after="3"))
    assert client(stub, sleeps).org_domain() == "acme.trustgrid.io"
    assert sleeps == [3.0]


def test_backoff_grows_exponentially_and_is_capped(stub: TrustgridStub) -> None:
    sleeps: list[float] = []
    stub.inject("org", *[error(503)] * 4)
    client(stub, sleeps).org_domain()
    assert sleeps == [1.0, 2.0, 4.0, 4.0]  # base 0.5 * 2^n with full jitter at its maximum (rng=1), capped at 4


def test_jitter_spreads_the_delays(stub: TrustgridStub) -> None:
    values = iter([0.1, 0.9])
    sleeps: list[float] = []
    c = client(stub, sleeps)
    c._rng = lambda: next(values)
    stub.inject("org", error(500), error(500))
    c.org_domain()
    assert sleeps == [pytest.approx(0.1), pytest.approx(1.8)]


def test_gives_up_after_the_attempt_limit_with_a_clear_message(stub: TrustgridStub) -> None:
    stub.inject("org", *[error(502)] * 10)
    with pytest.raises(ApiError) as failure:
        client(stub, [], attempts=3).org_domain()
    assert "read organization" in str(failure.value) and "3 attempt(s)" in str(failure.value)
    assert "HTTP 502" in str(failure.value)


def test_a_retry_after_longer_than_the_budget_fails_at_once(stub: TrustgridStub) -> None:
    sleeps: list[float] = []
    stub.inject("org", error(429, retry_after="120"))
    with pytest.raises(ApiError):
        client(stub, sleeps, budget=20.0).org_domain()
    assert sleeps == []


@pytest.mark.parametrize("fault", [slow(0.6), DROP], ids=["timeout", "dropped"])
def test_timeouts_and_dropped_connections_are_retried(stub: TrustgridStub, fault: Fault) -> None:
    sleeps: list[float] = []
    stub.inject("get_cluster", fault)
    stub.clusters["x.acme.trustgrid.io"] = {
        "name": "x",
        "fqdn": "x.acme.trustgrid.io",
        "config": {},
        "mode": "autoFailback",
    }
    assert client(stub, sleeps).get_cluster("x.acme.trustgrid.io")["name"] == "x"
    assert len(sleeps) == 1


def test_not_found_is_its_own_error(stub: TrustgridStub) -> None:
    c = client(stub, [])
    with pytest.raises(NotFound):
        c.get_node("nope")
    assert c.find_node("nope") is None


def test_422_is_permanent_and_carries_the_validation_messages(stub: TrustgridStub) -> None:
    sleeps: list[float] = []
    with pytest.raises(ApiError) as failure:
        client(stub, sleeps).create_cluster("Not_Valid")
    assert failure.value.status == 422
    assert "name must be lowercase letters, digits and dashes" in str(failure.value)
    assert sleeps == []


def test_credentials_parse_and_never_show_the_secret() -> None:
    creds = Credentials.from_secret_string('{"apiKeyId": "id", "apiKeySecret": "very-secret"}')
    assert "very-secret" not in repr(creds)
    with pytest.raises(ValueError, match="apiKeySecret"):
        Credentials.from_secret_string('{"apiKeyId": "id"}')
    with pytest.raises(ValueError, match="not JSON"):
        Credentials.from_secret_string("very-secret")


def test_org_domain_is_asked_once_per_api_key(stub: TrustgridStub) -> None:
    first, second = client(stub, []), client(stub, [])
    assert first.org_domain() == second.org_domain() == "acme.trustgrid.io"
    assert [r.path for r in stub.requests] == ["/org/mine"]
