"""Node licenses as Trustgrid mints them: minting reserves the name and is not idempotent."""

from __future__ import annotations

import pytest

from tests.lambda_.conftest import World
from tests.lambda_.trustgrid_stub import LOST_ANSWER, error
from trustgrid_ha_runtime.api import ApiError, OutcomeUnknown
from trustgrid_ha_runtime.license import license_uid


def mints(world: World) -> list[int | None]:
    return [r.status for r in world.stub.requests if r.path == "/node/license"]


def test_a_mint_refused_before_it_acted_is_sent_again(world: World) -> None:
    world.stub.inject("license", error(503), error(429, retry_after="0"))
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    assert mints(world) == [503, 429, 200]
    assert world.stub.reservations == {uid: "prod-gw-a"}, "one reservation, the one whose license is stored"


@pytest.mark.parametrize("fault", [LOST_ANSWER, error(504, acted=True), error(502, acted=True)])
def test_a_lost_mint_answer_is_never_retried_blindly_and_fails_saying_what_happened(world: World, fault) -> None:
    world.stub.inject("license", fault)
    with pytest.raises(ApiError) as failure:
        world.license("Create", "prod-gw-a", 0)
    message = str(failure.value)
    # asked once more: had the first mint not reached Trustgrid, the second would have minted
    assert len(mints(world)) == 2 and mints(world)[-1] == 422
    assert "reserved by a license that has not registered" in message and "lost" in message
    assert "Choose other gateway names" in message and "already taken" in message  # the API's text/plain body
    assert len(world.stub.reservations) == 1, "the retry did not reserve a second name"


def test_a_lost_mint_answer_then_a_free_name_mints(world: World) -> None:
    world.stub.inject("license", error(502))  # a proxy error that never reached Trustgrid
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    assert mints(world) == [502, 200] and list(world.stub.reservations) == [uid]


def test_two_lost_answers_in_a_row_fail_as_unknown_outcome(world: World) -> None:
    world.stub.inject("license", error(504), error(504))
    with pytest.raises(OutcomeUnknown, match="may have acted"):
        world.license("Create", "prod-gw-a", 0)


def test_a_create_retried_after_the_license_was_stored_adopts_it(world: World) -> None:
    first = world.license("Create", "prod-gw-a", 0)  # stored; CloudFormation never heard back and retries
    again = world.license("Create", "prod-gw-a", 0)
    assert again == first
    assert mints(world) == [200, 422] and len(world.stub.reservations) == 1
    stored = world.secrets.get_secret_value(SecretId=world.license_secrets[0])["SecretString"]
    assert license_uid(stored) == first["PhysicalResourceId"]


def test_a_name_of_a_registered_node_this_stack_did_not_create_is_refused(world: World) -> None:
    foreign = world.stub.add_node("prod-gw-a")
    with pytest.raises(ApiError) as failure:
        world.license("Create", "prod-gw-a", 0)
    message = str(failure.value)
    assert f"belongs to a registered node ({foreign}, online) that this stack did not create" in message
    assert world.stub.nodes[foreign]["name"] == "prod-gw-a", "the foreign node is untouched"


def test_the_license_of_another_name_in_the_secret_is_not_adopted(world: World) -> None:
    world.license("Create", "prod-gw-a", 0)  # the secret holds prod-gw-a's license
    world.stub.reservations["someone-elses"] = "prod-gw-x"  # a pending license of someone else
    with pytest.raises(ApiError, match="reserved by a license that has not registered"):
        world.license("Create", "prod-gw-x", 0)  # a rename of this gateway to a name that is taken


def test_a_registered_node_of_this_stacks_license_is_adopted(world: World) -> None:
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    world.stub.register(uid)
    assert world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"] == uid
