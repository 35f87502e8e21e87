"""Route verification against moto's EC2, the license and image resources, and the real entry points."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest

from tests.lambda_.conftest import REGION, World
from trustgrid_ha_runtime import handler
from trustgrid_ha_runtime.api import ApiError
from trustgrid_ha_runtime.contract import IMAGE_TYPE
from trustgrid_ha_runtime.handler import handle_event
from trustgrid_ha_runtime.image import newest_image
from trustgrid_ha_runtime.license import license_uid
from trustgrid_ha_runtime.routes import route_problems

EDGE = "172.16.0.0/16"


def tables(world: World) -> list[dict]:
    return world.ec2.describe_route_tables(RouteTableIds=world.route_tables)["RouteTables"]


def member_enis(world: World) -> list[str]:
    return [world.enis[s] for s in world.subnets]


def test_route_present_in_every_table_verifies(world: World) -> None:
    for table in world.route_tables:
        world.ec2.create_route(RouteTableId=table, DestinationCidrBlock=EDGE, NetworkInterfaceId=member_enis(world)[1])
    assert route_problems(tables(world), world.route_tables, [EDGE], member_enis(world)) == []


def test_route_missing_is_reported_per_table(world: World) -> None:
    world.ec2.create_route(
        RouteTableId=world.route_tables[0], DestinationCidrBlock=EDGE, NetworkInterfaceId=member_enis(world)[0]
    )
    problems = route_problems(tables(world), world.route_tables, [EDGE], member_enis(world))
    assert problems == [
        f"route table {world.route_tables[1]} has no route for {EDGE} yet (the active member creates it)"
    ]


def test_route_to_a_non_member_eni_is_reported(world: World) -> None:
    stranger = world.ec2.create_network_interface(SubnetId=world.subnets[0])["NetworkInterface"]["NetworkInterfaceId"]
    for table in world.route_tables:
        world.ec2.create_route(RouteTableId=table, DestinationCidrBlock=EDGE, NetworkInterfaceId=stranger)
    problems = route_problems(tables(world), world.route_tables, [EDGE], member_enis(world))
    assert len(problems) == 2
    assert all(stranger in p and "not to a cluster member's LAN interface" in p for p in problems)


def test_minted_license_goes_to_its_secret_and_never_into_the_response(world: World) -> None:
    response = world.license("Create", "prod-gw-a", 0)
    uid = response["PhysicalResourceId"]
    stored = world.secrets.get_secret_value(SecretId=world.license_secrets[0])["SecretString"]
    assert license_uid(stored) == uid
    assert response["Data"] == {"NodeUid": uid, "NodeName": "prod-gw-a", "NodeFqdn": "prod-gw-a.acme.trustgrid.io"}
    assert stored not in json.dumps(response) and stored not in world.log_text()


def test_taken_node_name_fails_with_a_fix(world: World) -> None:
    world.stub.add_node("prod-gw-a")
    with pytest.raises(ApiError) as failure:
        world.license("Create", "prod-gw-a", 0)
    assert "HTTP 422" in str(failure.value) and "Choose other gateway names" in str(failure.value)


def test_supplied_license_is_read_not_minted(world: World) -> None:
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]  # puts a real license in secret 0
    before = len(world.stub.licenses)
    response = world.license("Create", "prod-gw-a", 0, Source="secret")
    assert response["PhysicalResourceId"] == uid
    assert len(world.stub.licenses) == before


def test_license_update_without_changes_keeps_the_node(world: World) -> None:
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    start = len(world.stub.requests)
    response = world.license("Update", "prod-gw-a", 0, physical=uid)
    assert response["PhysicalResourceId"] == uid
    assert [r for r in world.stub.requests[start:] if r.write] == []


@pytest.mark.parametrize("remove", [True, False])
def test_license_delete_keeps_or_removes_the_node_record(world: World, remove: bool) -> None:
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    world.license("Delete", "prod-gw-a", 0, physical=uid, RemoveNodeOnDelete=str(remove).lower())
    assert world.stub.knows(uid) is not remove
    world.license("Delete", "prod-gw-a", 0, physical=uid, RemoveNodeOnDelete=str(remove).lower())  # already gone


@pytest.mark.parametrize("status", ["ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"])
def test_a_rollback_removes_the_node_record_it_minted(world: World, status: str) -> None:
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    world.set_stack_status(status)  # the first deployment failed and is undoing itself
    world.license("Delete", "prod-gw-a", 0, physical=uid)
    assert not world.stub.knows(uid)
    again = world.license("Create", "prod-gw-a", 1)  # the retried deployment can use the name again
    assert again["Data"]["NodeName"] == "prod-gw-a"


def test_a_normal_delete_keeps_the_node_record_by_default(world: World) -> None:
    uid = world.license("Create", "prod-gw-a", 0)["PhysicalResourceId"]
    world.set_stack_status("DELETE_IN_PROGRESS")
    world.license("Delete", "prod-gw-a", 0, physical=uid)
    assert world.stub.knows(uid)


def test_newest_image_wins() -> None:
    images = [{"ImageId": "ami-1", "CreationDate": "2026-01-01"}, {"ImageId": "ami-2", "CreationDate": "2026-06-01"}]
    assert newest_image(images)["ImageId"] == "ami-2"
    same_second = [{"ImageId": "ami-3", "CreationDate": "2026-06-01", "Name": "n-2"}, {**images[1], "Name": "n-1"}]
    assert newest_image(same_second)["ImageId"] == "ami-3"  # then the later name (the vendor's carry dates)
    assert newest_image([]) is None


def image_event(
    request: str, owner: str, physical: str | None = None, token: str = "", pattern: str = "trustgrid-node-2204-*"
) -> dict:
    props = {"Owner": owner, "NamePattern": pattern, "InterfaceNaming": "gen2", "RefreshToken": token}
    event = {"RequestType": request, "ResourceType": IMAGE_TYPE, "ResourceProperties": props}
    if physical:
        event.update(PhysicalResourceId=physical, OldResourceProperties=props)
    return event


def vendor_image(world: World, name: str, naming: str) -> tuple[str, str]:
    """An image as Trustgrid publishes it: a name and the InterfaceNaming tag. (image id, owner)"""
    instance = world.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    image = world.ec2.create_image(InstanceId=instance["InstanceId"], Name=name)["ImageId"]
    world.ec2.create_tags(Resources=[image], Tags=[{"Key": "InterfaceNaming", "Value": naming}])
    return image, world.ec2.describe_images(ImageIds=[image])["Images"][0]["OwnerId"]


def test_image_is_resolved_once_and_kept_on_update(world: World) -> None:
    image, owner = vendor_image(world, "trustgrid-node-2204-20261101", "gen2")
    created = handle_event(image_event("Create", owner), world.runtime())
    assert created == {"PhysicalResourceId": image, "Data": {"ImageId": image}}
    newer, _ = vendor_image(world, "trustgrid-node-2204-20261201", "gen2")
    kept = handle_event(image_event("Update", owner, physical=image), world.runtime())
    assert kept["Data"]["ImageId"] == image != newer


def test_image_lookup_filters_on_the_interface_naming_tag(world: World) -> None:
    gen2, owner = vendor_image(world, "tagged-2204-20261105", "gen2")
    vendor_image(world, "tagged-2204-20261106", "gen3")  # newer, but another interface naming
    event = image_event("Create", owner, pattern="tagged-2204-*")
    assert handle_event(event, world.runtime())["PhysicalResourceId"] == gen2


def test_an_update_that_only_adds_the_interface_naming_filter_keeps_the_image(world: World) -> None:
    image, owner = vendor_image(world, "trustgrid-node-2204-20261107", "gen2")
    vendor_image(world, "trustgrid-node-2204-20261108", "gen2")
    event = image_event("Update", owner, physical=image)
    del event["OldResourceProperties"]["InterfaceNaming"]  # written by the first version of this library
    assert handle_event(event, world.runtime())["PhysicalResourceId"] == image


def test_no_image_in_the_region_fails_with_a_fix(world: World) -> None:
    with pytest.raises(LookupError, match="ask Trustgrid support to copy the image"):
        handle_event(image_event("Create", "079972220921"), world.runtime())


def test_real_entry_point_reads_the_secret_and_url_from_the_environment(world: World, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRUSTGRID_API_URL", world.stub.url)
    monkeypatch.setenv("TRUSTGRID_API_SECRET_ARN", world.api_secret_arn)
    monkeypatch.setenv("AWS_REGION", REGION)
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 120_000)
    event = {
        "RequestType": "Create",
        "ResourceType": "Custom::TrustgridNodeLicense",
        "ResourceProperties": {"NodeName": "prod-gw-a", "Source": "mint", "LicenseSecretArn": world.license_secrets[0]},
    }
    response = handler.on_event(event, context)
    assert response["Data"]["NodeFqdn"] == "prod-gw-a.acme.trustgrid.io"
    assert handler.is_complete({**event, **response}, context) == {"IsComplete": True}
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert {"request.start", "api.call", "license.minted", "request.done"} <= {line["event"] for line in lines}
    license_text = boto3.client("secretsmanager", region_name=REGION).get_secret_value(
        SecretId=world.license_secrets[0]
    )["SecretString"]
    assert world.stub.key_secret not in out and license_text not in out
