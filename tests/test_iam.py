"""moto does not enforce IAM. Here every AWS call the custom-resource handler and the scheduled check make, through
their real entry points (``handler.on_event``/``is_complete``, ``monitor.handler``, clients built from the
environment as in Lambda), is recorded and evaluated against the synthesized policies of the role that makes it:
a call no statement allows fails, and so does a statement nothing calls (every permission is used).

Resources are compared by kind, since the template names them with intrinsics and the tests with moto's ids: the
stack, the API secret, a license secret, a gateway instance, a managed route table, or any resource (``*``)."""

from __future__ import annotations

import fnmatch
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_cdk import App

from app import build_app
from tests.conftest import cdk_json_context
from tests.lambda_.conftest import ACCOUNT, REGION, World, make_world, mint_and_register
from tests.lambda_.rolling import gate as gate_props
from tests.lambda_.rolling import guard as guard_props
from trustgrid_ha_runtime import handler, monitor
from trustgrid_ha_runtime.contract import (
    CLUSTER_TYPE,
    GATE_TYPE,
    GUARD_TYPE,
    IMAGE_TYPE,
    LICENSE_TYPE,
    MEMBER_TYPE,
    PROTECTION_TYPE,
    SEAT_TYPE,
    ImageProperties,
    LicenseProperties,
    ProtectionProperties,
)

pytestmark = pytest.mark.integration

#: boto3's own client factory (the tests replace ``boto3.client`` with a recording one).
BOTO3_CLIENT = boto3.client
#: IAM's prefix where it differs from the client's service name.
PREFIX = {"monitoring": "cloudwatch"}


@dataclass
class Call:
    action: str
    kind: str
    params: dict[str, Any]


@dataclass
class Recorder:
    """Wraps boto3 clients and records each API call as (IAM action, kind of resource)."""

    world: World
    calls: list[Call] = field(default_factory=list)

    def client(self, service: str, **kwargs: Any) -> Any:
        real = BOTO3_CLIENT(service, **{"region_name": REGION, **kwargs})
        recorder = self
        assumed = "aws_session_token" in kwargs  # a client with a role's own credentials: that role's calls

        class Recording:
            def __getattr__(self, name: str) -> Any:
                method = getattr(real, name)
                operation = real.meta.method_to_api_mapping.get(name)
                if operation is None:
                    return method

                def call(**params: Any) -> Any:
                    prefix = PREFIX.get(real.meta.service_model.endpoint_prefix, real.meta.service_model.signing_name)
                    action = f"{prefix}:{operation}"
                    if not assumed:
                        recorder.calls += [Call(action, kind, params) for kind in recorder.kinds(action, params)]
                    return method(**params)

                return call

        return Recording()

    def kinds(self, action: str, params: dict[str, Any]) -> list[str]:
        """The kinds of resource a call needs permission on (an address moves onto an interface: both)."""
        if action in ("ec2:AssociateAddress", "ec2:DisassociateAddress"):  # the address and the interface it is on
            return ["elastic-ip", "network-interface"]
        return [self.kind(action, params)]

    def kind(self, action: str, params: dict[str, Any]) -> str:
        if action.startswith("secretsmanager:"):
            secret = params["SecretId"]
            return "license-secret" if secret in self.world.license_secrets else (
                "api-secret" if secret == self.world.api_secret_arn else f"secret {secret}"
            )  # fmt: skip
        if action == "ec2:ModifyInstanceAttribute":
            return "instance"
        if action in ("ec2:DeleteRoute", "ec2:CreateRoute", "ec2:ReplaceRoute"):
            return "route-table"
        if action == "cloudformation:DescribeStacks":
            return "stack"
        if action == "sts:AssumeRole":
            return "lookup-role" if "-lookup-role-" in params["RoleArn"] else f"role {params['RoleArn']}"
        return "*"


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 600_000


# -- the template's side ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("iam")
    app = App(outdir=str(out), context=cdk_json_context())
    build_app(app).synth()
    return json.loads((out / "TrustgridGatewayCluster.template.json").read_text())


def role_of(template: dict[str, Any], handler_name: str) -> str:
    (function,) = [
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler_name
    ]  # fmt: skip
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])


def statements(template: dict[str, Any], role: str, sids: set[str] | None = None) -> list[dict[str, Any]]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    assert not template["Resources"][role]["Properties"].get("ManagedPolicyArns"), "no managed policy"
    return [s for s in found if s["Effect"] == "Allow" and (sids is None or s.get("Sid") in sids)]


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "Ref" in value:
            return [value["Ref"]]
        if "Fn::GetAtt" in value:
            return [value["Fn::GetAtt"][0]]
        return [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


def resource_kind(template: dict[str, Any], resource: Any) -> str:
    if resource == "*":
        return "*"
    text = json.dumps(resource)
    types = {template["Resources"][r]["Type"] for r in refs(resource) if r in template["Resources"]}
    if resource == {"Ref": "AWS::StackId"}:
        return "stack"
    if "AWS::SecretsManager::Secret" in types:
        return "license-secret"
    if ":secret:" in text:
        return "api-secret"
    if ("AWS::EC2::Instance" in types and ":instance/" in text) or ":instance/*" in text:
        return "instance"
    by_arn = {":route-table/": "route-table", ":elastic-ip/": "elastic-ip", ":network-interface/": "network-interface",
              "-lookup-role-": "lookup-role"}  # fmt: skip
    for part, kind in by_arn.items():
        if part in text:
            return kind
    if "AWS::Logs::LogGroup" in types:
        return "log-group"
    return f"other {text}"


def grants(template: dict[str, Any], role: str, sids: set[str] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(action pattern, resource kind, condition) for every Allow statement of ``role`` (or those of ``sids``)."""
    found = []
    for statement in statements(template, role, sids):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            for resource in resources:
                found.append((action, resource_kind(template, resource), statement.get("Condition", {})))
    return found


def allows(grant: tuple[str, str, dict[str, Any]], call: Call) -> bool:
    action, kind, condition = grant
    if not fnmatch.fnmatchcase(call.action, action) or kind not in ("*", call.kind):
        return False
    namespace = condition.get("StringEquals", {}).get("cloudwatch:namespace")
    return namespace is None or call.params.get("Namespace") == namespace


def check(template: dict[str, Any], role: str, calls: list[Call], ours: set[str] | None = None) -> None:
    """Every call allowed; every permission used (of the statements ``ours``, when the role also carries what a
    framework writes for itself, such as CDK Pipelines' build roles)."""
    granted = [g for g in grants(template, role) if g[1] != "log-group"]  # the Lambda runtime's own log writes
    missing = sorted({(c.action, c.kind) for c in calls if not any(allows(g, c) for g in granted)})
    assert missing == [], f"calls the role {role} is not allowed to make (they would fail in AWS): {missing}"
    own = [g for g in grants(template, role, ours) if g[1] != "log-group"]
    unused = sorted({(a, k) for a, k, c in own if not any(allows((a, k, c), call) for call in calls)})
    assert unused == [], f"permissions of {role} that nothing uses: {unused}"


# -- the code's side ------------------------------------------------------------------------------------------------


@pytest.fixture
def recorded(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, Recorder]]:
    with make_world() as world:
        recorder = Recorder(world)
        monkeypatch.setattr(boto3, "client", lambda service, **kw: recorder.client(service, **kw))
        monkeypatch.setenv("TRUSTGRID_API_URL", world.stub.url)
        monkeypatch.setenv("TRUSTGRID_API_SECRET_ARN", world.api_secret_arn)
        monkeypatch.setenv("AWS_REGION", REGION)
        yield world, recorder


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


def run(world: World, kind: str, request: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A request through the real entry points, polled as the Provider framework does."""
    event = {"RequestType": request, "ResourceType": kind, "ResourceProperties": props, "StackId": world.stack_id,
             "LogicalResourceId": kind.split("::")[1], **extra}  # fmt: skip
    event.update(handler.on_event(event, Context()))
    for _ in range(12):
        if handler.is_complete(event, Context())["IsComplete"]:
            return event
        world.between_polls()
    raise AssertionError(f"{kind} {request} did not complete")


def test_the_handler_role_allows_every_call_the_handler_makes_and_nothing_more(
    template: dict[str, Any], recorded: tuple[World, Recorder]
) -> None:
    world, recorder = recorded
    owner = world.ec2.describe_images(ImageIds=[vendor_image(world)])["Images"][0]["OwnerId"]
    run(world, IMAGE_TYPE, "Create", ImageProperties(owner, "trustgrid-node-2204-*", "gen2").to_properties())
    licenses = [
        run(world, LICENSE_TYPE, "Create", LicenseProperties(name, world.license_secrets[i]).to_properties())
        for i, name in enumerate(("prod-gw-a", "prod-gw-b"))
    ]
    run(world, LICENSE_TYPE, "Create", LicenseProperties("prod-gw-a", world.license_secrets[0]).to_properties())
    members = [world.member(e["PhysicalResourceId"], name, i) for i, (e, name) in
               enumerate(zip(licenses, ("prod-gw-a", "prod-gw-b"), strict=True))]  # fmt: skip
    for member in members:
        mint_and_register_one(world, member)
    run(world, GUARD_TYPE, "Create", guard_props(world, "c6i.large"))
    props = world.cluster_props(members, MetricsName="prod-gw")
    cluster = run(world, CLUSTER_TYPE, "Create", props)
    deployed = type("D", (), {"members": members, "uids": [m["Uid"] for m in members]})()
    run(world, GATE_TYPE, "Update", gate_props(world, deployed, "c6i.xlarge"),  # type: ignore[arg-type]
        OldResourceProperties=gate_props(world, deployed, "c6i.large"), PhysicalResourceId="gate")  # type: ignore[arg-type]  # fmt: skip
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")  # a rollback that restarts the primary again
    run(world, GUARD_TYPE, "Update", guard_props(world, "c6i.large"), OldResourceProperties=guard_props(world, "x"),
        PhysicalResourceId="guard")  # fmt: skip
    world.set_stack_status("UPDATE_COMPLETE")
    instances = list(world.instances.values())
    run(world, PROTECTION_TYPE, "Create", ProtectionProperties(tuple(instances), True).to_properties())
    off = ProtectionProperties(tuple(instances), False).to_properties()
    run(world, PROTECTION_TYPE, "Delete", off, PhysicalResourceId="protection")
    run(world, CLUSTER_TYPE, "Delete", props, PhysicalResourceId=cluster["PhysicalResourceId"])
    world.set_stack_status("ROLLBACK_IN_PROGRESS")  # a rollback's license Delete removes the node record it minted
    run(world, LICENSE_TYPE, "Delete", LicenseProperties("prod-gw-b", world.license_secrets[1]).to_properties(),
        PhysicalResourceId=members[1]["Uid"])  # fmt: skip

    check(template, role_of(template, "trustgrid_ha_runtime.handler.on_event"), recorder.calls)
    assert role_of(template, "trustgrid_ha_runtime.handler.is_complete") == role_of(
        template, "trustgrid_ha_runtime.handler.on_event"
    )


def test_the_scheduled_checks_role_allows_every_call_it_makes_and_nothing_more(
    template: dict[str, Any], recorded: tuple[World, Recorder]
) -> None:
    world, recorder = recorded
    members = mint_and_register(world)
    props = world.cluster_props(members)
    world.cluster("Create", props)
    recorder.calls.clear()
    results = monitor.handler({"clusters": [{"name": "prod-gw", "fqdn": "prod-gw.acme.trustgrid.io"}]}, Context())
    assert results["prod-gw"] is not None
    check(template, role_of(template, "trustgrid_ha_runtime.monitor.handler"), recorder.calls)


def test_the_pipelines_health_step_may_make_every_call_it_makes_and_nothing_more(
    recorded: tuple[World, Recorder], tmp_path: Any
) -> None:
    from pipeline_app import build_pipeline_app
    from tests.stacks.test_pipeline import PIPELINE
    from trustgrid_ha_tools import healthcheck

    world, recorder = recorded
    members = mint_and_register(world)
    world.cluster("Create", world.cluster_props(members))
    recorder.calls.clear()
    build_pipeline_app(App(outdir=str(tmp_path), context=cdk_json_context(trustgrid={"pipeline": PIPELINE}))).synth()
    pipeline = json.loads((tmp_path / "TrustgridPipeline.template.json").read_text())
    ours = {"ReadTrustgridApiSecret", "ReadRouteTablesInTheTargetAccount"}
    dev, test = sorted({
        ref
        for p in pipeline["Resources"].values()
        if p["Type"] == "AWS::IAM::Policy" and "trustgrid/pipeline-api-" in json.dumps(p)
        and "lookup-role-222222222222" in json.dumps(p)  # the dev and test environments' steps
        for ref in refs(p["Properties"]["Roles"])
    })  # fmt: skip
    # the target account's lookup role (moto's one account holds the clusters here)
    lookup = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-lookup-role-{ACCOUNT}-{REGION}"
    out = io.StringIO()
    code = healthcheck.main(["--secret-id", world.api_secret_arn, "--api-url", world.stub.url, "--role-arn", lookup,
                             "--region", REGION, "--attempts", "1", "prod-gw.acme.trustgrid.io"], out=out)  # fmt: skip
    assert code == 0, out.getvalue()
    assert {c.action for c in recorder.calls} == {"secretsmanager:GetSecretValue", "sts:AssumeRole"}
    for role in (dev, test):
        check(pipeline, role, recorder.calls, ours)


def vendor_image(world: World) -> str:
    instance = world.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    image = world.ec2.create_image(InstanceId=instance["InstanceId"], Name="trustgrid-node-2204-20261101")["ImageId"]
    world.ec2.create_tags(Resources=[image], Tags=[{"Key": "InterfaceNaming", "Value": "gen2"}])
    return str(image)


def mint_and_register_one(world: World, member: dict[str, str]) -> None:
    from tests.lambda_.conftest import register

    register(world, member)


def test_a_successors_cut_over_and_give_back_make_only_calls_its_role_allows(
    recorded: tuple[World, Recorder], tmp_path: Any
) -> None:
    """A stack with a cluster and its successor: the cut-over and the give-back (a rollback) through the real entry
    points, every call checked against the provider role of that stack."""
    from tests.lambda_.rolling import new_members, successor

    context = {"clusters": [
        {"name": "prod-gw", "edgeCidrs": ["172.16.0.0/16"]},
        {"name": "prod-gw2", "edgeCidrs": ["172.16.0.0/16"], "succeeds": "prod-gw", "cutOver": True},
    ]}  # fmt: skip
    app = App(outdir=str(tmp_path), context=cdk_json_context(trustgrid=context))
    build_app(app, nag=False).synth()
    template = json.loads((tmp_path / "TrustgridGatewayCluster.template.json").read_text())
    world, recorder = recorded
    members = mint_and_register(world)
    world.cluster("Create", world.cluster_props(members))
    new = new_members(world)
    before, after = successor(world, new, owns_routes=False), successor(world, new, owns_routes=True)
    recorder.calls.clear()
    cluster = run(world, CLUSTER_TYPE, "Create", before)
    run(world, CLUSTER_TYPE, "Update", after, OldResourceProperties=before,
        PhysicalResourceId=cluster["PhysicalResourceId"])  # fmt: skip
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
    run(world, CLUSTER_TYPE, "Update", before, OldResourceProperties=after,
        PhysicalResourceId=cluster["PhysicalResourceId"])  # fmt: skip
    world.set_stack_status("UPDATE_COMPLETE")
    assert {"ec2:ReplaceRoute"} <= {c.action for c in recorder.calls}
    role = role_of(template, "trustgrid_ha_runtime.handler.on_event")
    granted = [g for g in grants(template, role) if g[1] != "log-group"]
    missing = sorted({(c.action, c.kind) for c in recorder.calls if not any(allows(g, c) for g in granted)})
    assert missing == [], f"calls the provider role is not allowed to make: {missing}"


def test_a_member_swap_and_its_rollback_make_only_calls_the_role_allows(
    recorded: tuple[World, Recorder], tmp_path: Any
) -> None:
    """A stack whose cluster swaps members: a swap of the primary (seat, member, protection, the old license in the
    cleanup), a rollback of the seat, and a seat's delete, through the real entry points; every call checked against
    the provider role, and every permission of the address policy used."""
    from tests.lambda_.conftest import Deployed
    from tests.lambda_.swapping import SwapWorld

    context = {"clusters": [{"name": "prod-gw", "edgeCidrs": ["172.16.0.0/16"], "memberSwap": True}]}
    app = App(outdir=str(tmp_path), context=cdk_json_context(trustgrid=context))
    build_app(app, nag=False).synth()
    template = json.loads((tmp_path / "TrustgridGatewayCluster.template.json").read_text())
    world, recorder = recorded
    members = mint_and_register(world)
    props = world.cluster_props(members)
    fqdn = world.cluster("Create", props)["PhysicalResourceId"]
    swap = SwapWorld(world, Deployed([m["Uid"] for m in members], members, props, fqdn))
    old, other = swap.gateways
    new = swap.new_gateway(0, "prod-gw-a-0")
    swap.new, swap.gateways = [new, None], [new, other]
    recorder.calls.clear()
    run(world, SEAT_TYPE, "Update", swap.seat(new, 0), OldResourceProperties=swap.seat(old, 0), PhysicalResourceId="s")
    swap.launch(new)
    run(world, MEMBER_TYPE, "Update", swap.member([new, other], 0), OldResourceProperties=swap.member([old, other], 0),
        PhysicalResourceId="member")  # fmt: skip
    world.ec2.create_tags(Resources=[old.instance], Tags=[{"Key": "trustgrid-ha:cluster", "Value": "prod-gw"}])
    run(world, PROTECTION_TYPE, "Update", ProtectionProperties((new.instance, other.instance)).to_properties(),
        OldResourceProperties=ProtectionProperties((old.instance, other.instance)).to_properties(),
        PhysicalResourceId="protection")  # fmt: skip
    world.set_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")  # the seat leaves the pair to the member's rollback
    run(world, SEAT_TYPE, "Update", swap.seat(old, 0), OldResourceProperties=swap.seat(new, 0), PhysicalResourceId="s")
    run(world, MEMBER_TYPE, "Update", swap.member([old, other], 0), OldResourceProperties=swap.member([new, other], 0),
        PhysicalResourceId="member")  # fmt: skip
    world.set_stack_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    run(world, LICENSE_TYPE, "Delete", LicenseProperties(new.name, "arn:x", swap_cluster="prod-gw")
        .to_properties(), PhysicalResourceId=new.uid)  # fmt: skip
    world.set_stack_status("UPDATE_COMPLETE")
    run(world, SEAT_TYPE, "Delete", swap.seat(old, 0), PhysicalResourceId="s")

    assert {"ec2:AssociateAddress", "ec2:DisassociateAddress"} <= {c.action for c in recorder.calls}
    role = role_of(template, "trustgrid_ha_runtime.handler.on_event")
    check(template, role, recorder.calls, ours={"ReadAddresses", "MoveAddresses", "ReleaseAddresses",
                                                "ReleaseSwappedInstances"})  # fmt: skip
