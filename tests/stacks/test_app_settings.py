"""The app's settings: a thin translation onto the construct's settings; every bad input refused clearly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from app import build_app
from stacks.pipeline_settings import PipelineSettings
from stacks.settings import AppSettings
from trustgrid_ha import ClusterConfig, TrustgridConfigError

ROOT = Path(__file__).resolve().parents[2]
OK = {"name": "a", "edgeCidrs": ["172.16.0.0/16"]}


def refused(context: Any) -> TrustgridConfigError:
    with pytest.raises(TrustgridConfigError) as failure:
        build_app(App(context={"trustgrid": context}))
    return failure.value


def cluster(**changes: Any) -> dict[str, Any]:
    return {"clusters": [{**OK, **changes}]}


VNET = {"name": "corp-vnet", "route": "100.64.10.0/24"}
CASES = [
    # the setting, as the user spelled it; the value; a part of the fix
    (cluster(gatewayType="secret"), "trustgrid.clusters[0].gatewayType", "one of public, private"),
    (cluster(gatewayType="private"), "trustgrid.clusters[0].gatewayClients", "name at least one"),
    (cluster(gatewayClients=["branch-1"]), "trustgrid.clusters[0].gatewayClients", "a public gateway"),
    (cluster(virtualNetwork={"name": "corp-vnet"}), "trustgrid.clusters[0].virtualNetwork.route", "required"),
    (cluster(virtualNetwork={**VNET, "nats": []}), "trustgrid.clusters[0].virtualNetwork.nats", "insideNats"),
    (
        cluster(virtualNetwork={**VNET, "routes": {"networkCidr": "100.64.30.0/24"}}),
        "trustgrid.clusters[0].virtualNetwork.routes",
        "a list of VpnRoute",
    ),
    (
        cluster(virtualNetwork={**VNET, "accessPolicies": [None]}),
        "trustgrid.clusters[0].virtualNetwork.accessPolicies[0]",
        "give an object",
    ),
    (
        cluster(
            virtualNetwork={
                **VNET,
                "publish": True,
                "accessPolicies": [
                    {"source": "100.64.20.0/24", "dest": "100.64.10.0/24", "protocol": "tcp", "ports": "443-80"}
                ],
            }
        ),
        "trustgrid.clusters[0].virtualNetwork.accessPolicies[0].ports",
        "low to high",
    ),
    (
        cluster(
            virtualNetwork={
                **VNET,
                "insideNats": [
                    {"networkCidr": "100.64.20.0/24", "localCidr": "10.60.0.0/24"},
                    {"networkCidr": "100.64.20.0/25", "localCidr": "10.61.0.0/25"},
                ],
            }
        ),
        "trustgrid.clusters[0].virtualNetwork.insideNats[1]",
        "overlaps the NAT network",
    ),
    (
        cluster(
            virtualNetwork={**VNET, "insideNats": [{"networkCidr": "100.64.20.0/24", "localCidr": "10.60.0.1/24"}]}
        ),
        "trustgrid.clusters[0].virtualNetwork.insideNats[0].localCidr",
        "no host bits",
    ),
    (
        cluster(
            virtualNetwork={**VNET, "outsideNats": [{"networkCidr": "100.64.20.0/24", "localCidr": "10.9.0.0/25"}]}
        ),
        "trustgrid.clusters[0].virtualNetwork.outsideNats[0].networkCidr",
        "same prefix length",
    ),
    (cluster(virtualNetwork={**VNET, "route": "172.16.1.0/24"}), "trustgrid.clusters[0].edgeCidrs[0]", "own virtual"),
    (cluster(heartbeatPrt=1), "trustgrid.clusters[0].heartbeatPrt", "unknown setting"),
    ({"clusters": [{"name": "a"}]}, "trustgrid.clusters[0].edgeCidrs", "required"),
    (cluster(edgeCidrs="172.16.0.0/16"), "trustgrid.clusters[0].edgeCidrs", "a list of CIDRs"),
    (cluster(edgeCidrs={"a": 1}), "trustgrid.clusters[0].edgeCidrs", "a list of CIDRs"),
    (cluster(edgeCidrs=[172]), "trustgrid.clusters[0].edgeCidrs", "a list of CIDRs"),
    (cluster(edgeCidrs=["10.60.1.0/24"]), "trustgrid.clusters[0].edgeCidrs[0]", "overlaps the VPC CIDR"),
    (cluster(edgeCidrs=["0.0.0.0/0"]), "trustgrid.clusters[0].edgeCidrs[0]", "default route"),
    (cluster(edgeCidrs=["172.16.0.1/16"]), "trustgrid.clusters[0].edgeCidrs[0]", "no host bits"),
    (cluster(edgeCidrs=["fd00::/8"]), "trustgrid.clusters[0].edgeCidrs[0]", "IPv6 is not supported"),
    (cluster(lanSourceCidrs=["fd00::/64"]), "trustgrid.clusters[0].lanSourceCidrs[0]", "IPv6 is not supported"),
    (cluster(heartbeatInterface="ETH"), "trustgrid.clusters[0].heartbeatInterface", "LAN, WAN"),
    (cluster(failbackMode=1), "trustgrid.clusters[0].failbackMode", "autoFailback, manualFailback"),
    (cluster(heartbeatPort="9000"), "trustgrid.clusters[0].heartbeatPort", "a whole number"),
    (cluster(heartbeatPort=True), "trustgrid.clusters[0].heartbeatPort", "a whole number"),
    (cluster(instanceType=5), "trustgrid.clusters[0].instanceType", "a string"),
    (cluster(instanceType="c6i.huge"), "trustgrid.clusters[0].instanceType", "has no size 'huge'"),
    (cluster(instanceType="t3.48xlarge"), "trustgrid.clusters[0].instanceType", "has no size"),
    (cluster(machineImageId="ami-123"), "trustgrid.clusters[0].machineImageId", "AMI ID"),
    (cluster(terminationProtection="yes"), "trustgrid.clusters[0].terminationProtection", "true or false"),
    (cluster(removeNodesOnDelete="yes"), "trustgrid.clusters[0].removeNodesOnDelete", "true or false"),
    (cluster(waitTimeoutMinutes=90), "trustgrid.clusters[0].waitTimeoutMinutes", "between 1 and 50 minutes"),
    (cluster(waitTimeoutMinutes=-1), "trustgrid.clusters[0].waitTimeoutMinutes", "from 1 to 50"),
    (cluster(gatewayNames="a-1"), "trustgrid.clusters[0].gatewayNames", "a list of two node names"),
    (cluster(enrollEndpoint="https://x.io/enroll; rm -rf /"), "trustgrid.clusters[0].enrollEndpoint", "https://"),
    ({**cluster(), "apiUrl": "http://api.trustgrid.io"}, "trustgrid.apiUrl", "travel in clear"),
    ({**cluster(), "apiUrl": 5}, "trustgrid.apiUrl", "a string"),
    ({"clusters": [OK, OK]}, "trustgrid.clusters", "used twice"),
    (
        {"clusters": [OK, {"name": "b", "edgeCidrs": ["172.16.128.0/17"]}]},
        "trustgrid.clusters[1].edgeCidrs[0]",
        "in the same VPC",
    ),
    (
        {"clusters": [OK, {"name": "b", "edgeCidrs": ["172.17.0.0/16"], "gatewayNames": ["a-a", "b-b"]}]},
        "trustgrid.clusters[1].gatewayNames[0]",
        "node names are unique",
    ),
    ({"clusters": []}, "trustgrid.clusters", "at least one cluster"),
    ({"clusters": {"name": "a"}}, "trustgrid.clusters", "a list"),
    ({**cluster(), "vpcCidr": "10.60.0.0"}, "trustgrid.vpcCidr", "CIDR notation"),
    ({**cluster(), "vpcCidr": "10.0.0.0/8"}, "trustgrid.vpcCidr", "from /16 to /28"),
    ({**cluster(), "vpcCidr": "10.0.0.0/26"}, "trustgrid.vpcCidr", "/22 or larger"),
    ({**cluster(), "apiSecretName": "trustgrid/api-key-Ab12Cd"}, "trustgrid.apiSecretName", "random suffix"),
    ({**cluster(), "apiSecretName": "arn:aws:s3:::bucket"}, "trustgrid.apiSecretName", "secret name (letters, digits"),
    ({"colour": "blue", **cluster()}, "trustgrid.colour", "unknown setting"),
    # the wrong settings a broad sample found (issue 19)
    (
        cluster(enrollEndpoint="https://keymaster.trustgrid.io/v2/enroll\n"),
        "trustgrid.clusters[0].enrollEndpoint",
        "plain https:// URL",
    ),
    (cluster(name="a\n"), "trustgrid.clusters[0].name", "lowercase letters"),
    (cluster(machineImageId="ami-0123456789abcdef0\n"), "trustgrid.clusters[0].machineImageId", "AMI ID"),
    ({**cluster(), "apiSecretName": "trustgrid/api-key\n"}, "trustgrid.apiSecretName", "secret name"),
    (
        {**cluster(), "region": "us-east-1", "availabilityZones": ["us-east-1-bos-1a", "us-east-1a"]},
        "trustgrid.availabilityZones[0]",
        "Local Zone",
    ),
    (
        cluster(virtualNetwork={**VNET, "networkRouteMetric": 10}),
        "trustgrid.clusters[0].virtualNetwork.networkRouteMetric",
        "only with publish",
    ),
    (
        {
            **cluster(),
            "region": "cn-north-1",
            "apiSecretName": "arn:aws:secretsmanager:cn-north-1:111111111111:secret:trustgrid/api-Ab12Cd",
        },
        "trustgrid.apiSecretName",
        "partition aws",
    ),
    (
        {
            "clusters": [
                {**OK, "name": "a", "succeeds": "c"},
                {**OK, "name": "b", "succeeds": "a"},
                {**OK, "name": "c", "succeeds": "b"},
            ]
        },
        "trustgrid.clusters[0].succeeds",
        "in a loop",
    ),
    (
        {
            "stackPerCluster": True,
            "clusters": [
                {**OK, "name": "x"},
                {**OK, "name": "y", "succeeds": "x", "cutOver": True},
                {**OK, "name": "z", "succeeds": "y", "cutOver": True},
            ],
        },
        "trustgrid.clusters[1].cutOver",
        "one cut-over at a time",
    ),
    ({**cluster(), "vpcCidr": "127.0.0.0/16"}, "trustgrid.vpcCidr", "loopback"),
    ({**cluster(), "vpcCidr": "169.254.0.0/16"}, "trustgrid.vpcCidr", "link-local"),
    ({**cluster(), "availabilityZones": ["foo", "bar"]}, "trustgrid.availabilityZones[0]", "availability zone"),
    (
        {**cluster(), "availabilityZones": ["us-east-1a", "us-west-2a"]},
        "trustgrid.availabilityZones[1]",
        "availability zone of us-east-1",
    ),
    (cluster(routeTableIds=["rtb-0123456789abcdef0"]), "trustgrid.clusters[0].routeTableIds", "the app creates"),
    (cluster(apiUrl="https://api.trustgrid.io:99999"), "trustgrid.clusters[0].apiUrl", "set trustgrid.apiUrl"),
    ({**cluster(), "apiUrl": "https://api.trustgrid.io:99999"}, "trustgrid.apiUrl", "plain https:// URL"),
    ({**cluster(), "apiUrl": "https://-"}, "trustgrid.apiUrl", "plain https:// URL"),
    (
        cluster(alarmTopicArn="arn:aws-cn:sns:us-east-1:111111111111:pager"),
        "trustgrid.clusters[0].alarmTopicArn",
        "in its partition",
    ),
    (
        cluster(alarmTopicArn="arn:aws:sns:xx-fake-9:111111111111:pager"),
        "trustgrid.clusters[0].alarmTopicArn",
        "a region that exists",
    ),
    (cluster(controlPlaneCidrs=["2001:db8::/32"]), "trustgrid.clusters[0].controlPlaneCidrs[0]", "IPv6"),
    (cluster(gatewayType="private", gatewayClients=["b", "b"]), "trustgrid.clusters[0].gatewayClients[1]", "twice"),
    (cluster(gatewayType="private", gatewayClients=["a-a"]), "trustgrid.clusters[0].gatewayClients[0]", "own"),
    (
        cluster(virtualNetwork={**VNET, "publish": "yes"}),
        "trustgrid.clusters[0].virtualNetwork.publish",
        "true or false",
    ),
    (
        cluster(virtualNetwork={**VNET, "routes": [{"networkCidr": "100.64.30.0/24", "node": "Bad Node!"}]}),
        "trustgrid.clusters[0].virtualNetwork.routes[0].node",
        "lowercase letters",
    ),
    (
        cluster(virtualNetwork={**VNET, "accessPolicies": [{"source": "100.64.20.0/24", "dest": "100.64.10.0/24"}]}),
        "trustgrid.clusters[0].virtualNetwork.accessPolicies",
        "only with publish",
    ),
    (
        cluster(
            virtualNetwork={
                **VNET,
                "publish": True,
                "accessPolicies": [
                    {"source": "100.64.20.0/24", "dest": "100.64.10.0/24", "protocol": "tcp", "ports": "70000"}
                ],
            }
        ),
        "trustgrid.clusters[0].virtualNetwork.accessPolicies[0].ports",
        "1 to 65535",
    ),
    (
        cluster(
            virtualNetwork={
                **VNET,
                "publish": True,
                "accessPolicies": [{"source": "100.64.20.0/24", "dest": "100.64.10.0/24", "lineNumber": "5"}],
            }
        ),
        "trustgrid.clusters[0].virtualNetwork.accessPolicies[0].lineNumber",
        "whole number",
    ),
    ({**cluster(), "apiSecretName": "   "}, "trustgrid.apiSecretName", "secret name (letters, digits"),
    (
        {
            **cluster(),
            "region": "us-east-1",
            "apiSecretName": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:a-Ab12Cd",
        },
        "trustgrid.apiSecretName",
        "read in the stack's region us-east-1",
    ),
    (
        {
            "clusters": [
                {**OK, "name": "a", "succeeds": "b"},
                {**OK, "name": "b", "edgeCidrs": ["172.30.0.0/16"], "succeeds": "a"},
            ]
        },
        "trustgrid.clusters[0].succeeds",
        "succession goes one way",
    ),
    (
        {"clusters": [{**OK, "name": "a-a"}, {**OK, "name": "a", "edgeCidrs": ["172.30.0.0/16"]}]},
        "trustgrid.clusters[0].name",
        "a gateway of the cluster 'a' has that name",
    ),
    (cluster(clusterName="b"), "trustgrid.clusters[0].clusterName", "'name' in a cluster entry"),
    (cluster(apiUrl="https://api.example.io"), "trustgrid.clusters[0].apiUrl", "set trustgrid.apiUrl"),
    (cluster(monitoring="yes"), "trustgrid.clusters[0].monitoring", "true (the scheduled health check"),
    (cluster(monitoringIntervalMinutes=0), "trustgrid.clusters[0].monitoringIntervalMinutes", "from 1 to 60"),
    (cluster(alarmTopicArn="pager"), "trustgrid.clusters[0].alarmTopicArn", "an SNS topic ARN"),
    (cluster(heartbeatPort=22), "trustgrid.clusters[0].heartbeatPort", "the appliance's SSH port"),
    (cluster(name="a" * 62), "trustgrid.clusters[0].name", "would be 64 characters"),
    (cluster(gatewayNames=["a", "a-b"]), "trustgrid.clusters[0].gatewayNames[0]", "named like its cluster"),
    (
        cluster(machineImageId="ami-0123456789abcdef0", imageRefreshToken="2027-01"),
        "trustgrid.clusters[0].imageRefreshToken",
        "give one of the two",
    ),
    (cluster(instanceType="t3.micro"), "trustgrid.clusters[0].instanceType", "below the smallest size"),
    (cluster(edgeCidrs=["169.254.0.0/16"]), "trustgrid.clusters[0].edgeCidrs[0]", "instance metadata service"),
    (cluster(edgeCidrs=["224.0.0.0/4"]), "trustgrid.clusters[0].edgeCidrs[0]", "multicast"),
    (cluster(edgeCidrs=["172.18.0.0/16"]), "trustgrid.clusters[0].edgeCidrs[0]", "container bridge"),
    ({**cluster(), "vpcCidr": "172.18.0.0/16"}, "trustgrid.vpcCidr", "container bridge"),
    (cluster(lanSourceCidrs=["172.16.5.0/24"]), "trustgrid.clusters[0].lanSourceCidrs[0]", "either on the LAN side"),
    (
        cluster(monitoring=False, alarmTopicArn="arn:aws:sns:us-east-1:111111111111:pager"),
        "trustgrid.clusters[0].alarmTopicArn",
        "monitoring: false turns off",
    ),
    (
        {
            **cluster(alarmTopicArn="arn:aws:sns:us-west-2:111111111111:pager"),
            "account": "111111111111",
            "region": "us-east-1",
        },
        "trustgrid.clusters[0].alarmTopicArn",
        "topics of their own region",
    ),
    (
        {
            "clusters": [OK, {"name": "b", "edgeCidrs": ["172.17.0.0/16"], "gatewayNames": ["a-a", "b-b"]}],
            "stackPerCluster": True,
        },
        "trustgrid.clusters[1].gatewayNames",
        "also a gateway of the cluster 'a'",
    ),
    ({"pipeline": {}, "colour": "blue"}, "trustgrid.colour", "unknown setting"),
    (cluster(tunnelPort=22), "trustgrid.clusters[0].tunnelPort", "SSH port"),
    (
        cluster(routeTableIds=["rtb-0123456789abcdef0"], extraRouteTableIds=["rtb-0123456789abcdef0"]),
        "trustgrid.clusters[0].extraRouteTableIds[0]",
        "listed already",
    ),
    (cluster(imageRefreshToken=""), "trustgrid.clusters[0].imageRefreshToken", "names the refresh"),
    ({**cluster(), "apiSecretName": "trustgrid-abcdef"}, "trustgrid.apiSecretName", "hyphen and six characters"),
    ({**cluster(), "account": "111111111111", "region": "xx-nowhere-9"}, "trustgrid.region", "no AWS region"),
    (
        {**cluster(), "account": "111111111111", "region": "eu-central-1"},
        "trustgrid.clusters[0].machineImageId",
        "publishes its node image in us-east-1",
    ),
    ({"pipeline": {}}, "trustgrid.pipeline.connectionArn", "connection ARN"),
    ([1, 2], "trustgrid", "give an object"),
]


def test_every_problem_is_reported_at_once_an_unknown_key_hides_none_of_the_clusters_problems() -> None:
    error = refused({"colour": "blue", "clusters": [{"name": "a"}, {**OK, "name": "b", "heartbeatPort": "x"}]})
    assert {p.setting for p in error.problems} >= {
        "trustgrid.colour",
        "trustgrid.clusters[0].edgeCidrs",
        "trustgrid.clusters[1].heartbeatPort",
    }


@pytest.mark.parametrize(
    "settings",
    [
        cluster(edgeCidrs=["172.16.0.0/12"]),  # a supernet of the appliance's bridge: its own route keeps its part
        cluster(edgeCidrs=["128.0.0.0/1"]),  # a wide supernet (of the multicast and reserved blocks)
        cluster(lanSourceCidrs=["10.0.0.0/8"], edgeCidrs=["10.50.0.0/16"]),  # a corporate network around an edge
        cluster(heartbeatPort=800),  # any unused port
        {**cluster(machineImageId="ami-0123456789abcdef0"), "account": "111111111111", "region": "eusc-de-east-1"},
    ],
)
def test_settings_a_real_deployment_uses_are_accepted(settings: dict) -> None:
    build_app(App(context={"trustgrid": settings}), nag=False)


@pytest.mark.parametrize(
    ("change", "setting", "fix"),
    [
        ({"connectionArn": "arn:aws:codeconnections:eu-west-1:999999999999:connection/abc"}, "connectionArn",
         "create the connection in the pipeline's account"),
        ({"repository": "acme/edge.git"}, "repository", "without '.git'"),
        ({"branch": "refs/heads/main"}, "branch", "not a ref"),
        ({"branch": "HEAD"}, "branch", "not HEAD"),
        ({"repository": "acme/.."}, "repository", "'.' and '..' name no repository"),
        ({"region": "us-fake-1"}, "region", "no AWS region has this name"),
        ({"connectionArn": "arn:aws-cn:codeconnections:us-east-1:111111111111:connection/abc"}, "connectionArn",
         "partition"),
        ({"apiSecretName": "trustgrid/api-key-Ab12Cd"}, "apiSecretName", "random suffix"),
        ({"apiSecretName": "arn:aws:secretsmanager:us-east-1:111111111111:secret:trustgrid/api-Ab12Cd"},
         "apiSecretName", "read in the stack's region eu-west-1"),
        ({"branch": "release.lock/1"}, "branch", "'.lock'"),
        ({"repository": "-acme/repo"}, "repository", "does not start with '-'"),
    ],
)  # fmt: skip
def test_pipeline_source_mistakes_are_refused(change: dict, setting: str, fix: str) -> None:
    from tests.stacks.test_pipeline import PIPELINE

    with pytest.raises(TrustgridConfigError) as failure:
        PipelineSettings.from_context({"pipeline": {**PIPELINE, **change}})
    (problem,) = failure.value.problems
    assert problem.setting == f"trustgrid.pipeline.{setting}" and fix in problem.fix


def test_make_deploy_refuses_a_pipeline_only_configuration_its_pipeline_deploys_it() -> None:
    from tests.stacks.test_pipeline import PIPELINE

    with pytest.raises(TrustgridConfigError, match="would go around them"):
        build_app(App(context={"trustgrid": {"pipeline": PIPELINE}, "trustgrid-deploy": True}), nag=False)


def test_lan_sources_from_anywhere_are_supported() -> None:
    from aws_cdk.assertions import Template

    app = build_app(App(context={"trustgrid": cluster(lanSourceCidrs=["0.0.0.0/0"])}), nag=False)
    template = Template.from_stack(app.node.find_child("TrustgridGatewayCluster")).to_json()["Resources"]
    (lan,) = [r["Properties"] for r in template.values() if r["Type"] == "AWS::EC2::SecurityGroup"
              and "LAN:" in r["Properties"]["GroupDescription"]]  # fmt: skip
    assert [r["CidrIp"] for r in lan["SecurityGroupIngress"]] == ["0.0.0.0/0"]
    assert [r["CidrIp"] for r in lan["SecurityGroupEgress"]] == ["0.0.0.0/0"]


def test_monitoring_and_its_alarm_topic_are_cdk_json_keys() -> None:
    from aws_cdk.assertions import Template

    arn = "arn:aws:sns:us-east-1:111111111111:pager"
    app = build_app(App(context={"trustgrid": {"clusters": [
        {**OK, "alarmTopicArn": arn, "monitoringIntervalMinutes": 2},
        {"name": "quiet", "edgeCidrs": ["172.17.0.0/16"], "monitoring": False},
    ]}}), nag=False)  # fmt: skip
    template = Template.from_stack(app.node.find_child("TrustgridGatewayCluster")).to_json()["Resources"]
    rules = [r for r in template.values() if r["Type"] == "AWS::Events::Rule"]
    assert [r["Properties"]["ScheduleExpression"] for r in rules] == ["rate(2 minutes)"], "none for 'quiet'"
    alarms = [r["Properties"] for r in template.values() if r["Type"] == "AWS::CloudWatch::Alarm"
              and r["Properties"].get("Namespace") == "Trustgrid/HA"]  # fmt: skip
    assert len(alarms) == 4 and all(a["AlarmActions"] == [arn] for a in alarms)


@pytest.mark.parametrize(("context", "setting", "fix"), CASES, ids=[f"{c[1]}:{c[2][:18]}" for c in CASES])
def test_bad_settings_are_refused_naming_the_setting_the_value_and_the_fix(
    context: Any, setting: str, fix: str
) -> None:
    error = refused(context)
    assert setting in [p.setting for p in error.problems], error
    problem = next(p for p in error.problems if p.setting == setting)
    assert fix in problem.fix, problem


#: JSON values of every type, and numbers a Duration, a port or a size cannot hold.
WRONG_VALUES: list[Any] = ["x", "", -1, 1.5, 1e20, 2**70, True, [], [1], ["x"], {}, {"a": 1}]


def test_no_value_of_any_type_in_any_setting_ends_in_anything_but_a_clear_refusal() -> None:
    """Every app setting, given every kind of JSON value: a valid one synthesizes (without the synth itself),
    any other is a TrustgridConfigError naming that setting. No other exception, so no traceback."""
    keys = list(ClusterConfig.app_settings())
    stack_keys = ["apiSecretName", "apiUrl", "vpcCidr", "vpc", "account", "region", "availabilityZones", "clusters"]
    contexts = [(f"trustgrid.clusters[0].{key}", cluster(**{key: value})) for key in keys for value in WRONG_VALUES]
    contexts += [(f"trustgrid.{key}", {**cluster(), key: value}) for key in stack_keys for value in WRONG_VALUES]
    contexts += [("trustgrid.clusters[0]", {"clusters": [value]}) for value in WRONG_VALUES]
    vpc = {
        "id": "vpc-0a1b2c3d4e5f60718",
        "cidr": "10.20.0.0/16",
        "availabilityZones": ["us-east-1a", "us-east-1b"],
        "publicSubnetIds": ["subnet-0aaa1111aaaa1111a", "subnet-0bbb2222bbbb2222b"],
        "privateSubnetIds": ["subnet-0ddd4444dddd4444d", "subnet-0eee5555eeee5555e"],
        "privateRouteTableIds": ["rtb-0ddd4444dddd4444d", "rtb-0eee5555eeee5555e"],
    }
    account = {"account": "111111111111", "region": "us-east-1"}
    contexts += [
        (f"trustgrid.vpc.{key}", {**cluster(), **account, "vpc": {**vpc, key: value}})
        for key in vpc
        for value in [*WRONG_VALUES, ["us-east-1a"], ["subnet-0aaa1111aaaa1111a"]]
    ]
    crashes = []
    for setting, context in contexts:
        try:
            build_app(App(context={"trustgrid": context}), nag=False)
        except TrustgridConfigError as exc:
            assert setting in str(exc), (setting, str(exc))
        except Exception as exc:  # anything else is what this test exists to find
            crashes.append(f"{setting}={context}: {type(exc).__name__}: {exc}")
    assert crashes == []


def test_every_problem_is_reported_at_once() -> None:
    error = refused(
        {
            "apiUrl": "http://x",
            "clusters": [
                {"name": "Bad_Name", "edgeCidrs": ["0.0.0.0/0"], "heartbeatPort": "x", "tunnelPort": 70000},
                {"name": "b", "edgeCidrs": ["172.30.0.0/16"], "instanceType": "r5.large"},
            ],
        }
    )
    assert {p.setting for p in error.problems} >= {
        "trustgrid.clusters[0].name",
        "trustgrid.clusters[0].edgeCidrs[0]",
        "trustgrid.clusters[0].heartbeatPort",
        "trustgrid.clusters[0].tunnelPort",
        "trustgrid.clusters[1].instanceType",
        "trustgrid.apiUrl",
    }
    assert str(error).startswith(f"{len(error.problems)} invalid settings:")


def test_a_json_string_from_the_command_line_works() -> None:
    settings = AppSettings.from_context(json.dumps({"clusters": [OK]}))
    assert [c.name for c in settings.clusters] == ["a"] and not settings.is_example
    with pytest.raises(TrustgridConfigError, match="must be a JSON object"):
        AppSettings.from_context("{clusters: [")


def test_examples_only_without_any_trustgrid_context() -> None:
    assert AppSettings.from_context(None).is_example
    assert not AppSettings.from_context({"clusters": [OK]}).is_example
    with pytest.raises(TrustgridConfigError, match="refusing to deploy the example"):
        build_app(App(context={"trustgrid-deploy": "true"}))


def test_every_app_cluster_key_is_a_construct_setting() -> None:
    assert ClusterConfig.app_settings()["heartbeatPort"] == "heartbeat_port"
    assert ClusterConfig.app_settings()["edgeSourceCidrs"] == "edge_source_cidrs"
    assert "waitTimeoutSeconds" not in ClusterConfig.app_settings()


def test_pipeline_settings_without_clusters_in_an_environment_are_refused() -> None:
    pipeline = {
        "connectionArn": "arn:aws:codeconnections:eu-west-1:111111111111:connection/abc",
        "repository": "acme/edge",
        "account": "111111111111",
        "region": "eu-west-1",
        "environments": [
            {
                "name": "dev",
                "account": "222222222222",
                "region": "eu-west-1",
                "availabilityZones": ["eu-west-1a", "us-east-1b"],
            }
        ],
    }
    with pytest.raises(TrustgridConfigError) as failure:
        PipelineSettings.from_context({"pipeline": pipeline})
    settings = {p.setting for p in failure.value.problems}
    assert "trustgrid.pipeline.environments[0].clusters" in settings
    assert "trustgrid.pipeline.environments[0].availabilityZones[1]" in settings


@pytest.mark.parametrize("app", ["app.py", "pipeline_app.py"])
def test_the_cli_prints_a_clean_message_and_exits_non_zero(app: str) -> None:
    bad = {"trustgrid": {"clusters": [{"name": "a", "edgeCidrs": ["172.16.0.0/33"]}], "pipeline": {"account": 1}}}
    result = subprocess.run(
        [sys.executable, app],
        cwd=ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(bad), "CDK_OUTDIR": "/tmp/trustgrid-bad-settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("trustgrid-ha-cluster: ")


def test_the_app_uses_only_the_librarys_public_api() -> None:
    import ast

    import trustgrid_ha

    for path in [ROOT / "app.py", ROOT / "pipeline_app.py", *(ROOT / "stacks").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trustgrid_ha"):
                assert node.module == "trustgrid_ha", f"{path.name} imports {node.module}"
                assert {a.name for a in node.names} <= set(trustgrid_ha.__all__), path.name


def test_the_docs_list_every_app_setting() -> None:
    """Each cluster key in the generated reference, each of the stack's keys in the app's settings page."""
    from stacks.settings import STACK_KEYS

    reference = (ROOT / "docs" / "configuration.md").read_text()
    for key in ClusterConfig.app_settings():
        assert f"`clusters[].{key}`" in reference, key
    app = (ROOT / "docs" / "app.md").read_text()
    for key in STACK_KEYS - {"clusters"}:
        assert f"`{key}`" in app, key


def test_make_installs_again_when_the_venv_or_node_modules_are_gone() -> None:
    for override, step in (
        ("PY_STAMP=/nonexistent/.venv/.installed", "-m venv"),
        ("NODE_STAMP=/nonexistent/.installed", "npm ci"),
    ):
        plan = subprocess.run(["make", "-n", "install", override], cwd=ROOT, capture_output=True, text=True)
        assert step in plan.stdout, plan.stdout + plan.stderr
    makefile = (ROOT / "Makefile").read_text()
    assert "PY_STAMP := $(VENV)/.installed" in makefile and "NODE_STAMP := node_modules/.installed" in makefile


def test_the_cli_runs_the_apps_without_the_node_end_of_life_banner() -> None:
    app = json.loads((ROOT / "cdk.json").read_text())["app"]
    assert app.startswith("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 ")
    env = {k: v for k, v in os.environ.items() if k != "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # python3 as make's PATH has it
    result = subprocess.run(
        ["sh", "-c", app], cwd=ROOT, env={**env, "CDK_OUTDIR": "/tmp/trustgrid-banner"}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "end-of-life" not in result.stderr


def test_a_pipeline_only_configuration_synthesizes_the_stack_of_each_environment() -> None:
    """README's pipeline-only configuration: `make synth` builds the default app too, which then gives the stack the
    pipeline deploys to each environment (to diff it locally), not an error."""
    from aws_cdk import Stack

    from tests.stacks.test_pipeline import PIPELINE

    app = build_app(App(context={"trustgrid": {"pipeline": PIPELINE}}), nag=False)
    stacks = {c.node.id: c for c in app.node.children if isinstance(c, Stack)}
    assert sorted(stacks) == [
        "dev-TrustgridGatewayCluster",
        "prod-TrustgridCluster-edge-gw",  # prod has a stack per cluster
        "prod-TrustgridCluster-partner-gw",
        "prod-TrustgridGatewayCluster",
        "test-TrustgridGatewayCluster",
    ]
    assert (stacks["prod-TrustgridGatewayCluster"].account, stacks["prod-TrustgridGatewayCluster"].region) == (
        "333333333333",
        "eu-west-1",
    )


def test_two_environments_of_one_trustgrid_organization_may_not_share_a_cluster_or_gateway_name() -> None:
    from tests.stacks.test_pipeline import PIPELINE

    same = [{"name": "edge-gw", "edgeCidrs": ["172.16.0.0/16"]}]
    pipeline = {**PIPELINE, "environments": [{**e, "clusters": same} for e in PIPELINE["environments"]]}
    with pytest.raises(TrustgridConfigError) as failure:
        PipelineSettings.from_context({"pipeline": pipeline})
    problems = {p.setting: p.fix for p in failure.value.problems}
    assert (
        "the cluster name 'edge-gw' is also used in the environment 'dev'"
        in (problems["trustgrid.pipeline.environments[1].clusters[0].name"])
    )
    assert "trustgrid.pipeline.environments[2].clusters[0].name" not in problems, "prod has a key of its own"


def test_a_virtual_network_and_a_private_gateway_in_cdk_json_reach_the_construct() -> None:
    network = {**VNET, "insideNats": [{"networkCidr": "100.64.10.0/24", "localCidr": "10.60.0.0/24"}], "publish": True}
    settings = AppSettings.from_context(cluster(virtualNetwork=network, gatewayType="private",
                                                gatewayClients=["branch-01"]))  # fmt: skip
    config = settings.clusters[0].config
    assert config is not None and config.virtual_network is not None
    assert (config.virtual_network.name, config.virtual_network.publish) == ("corp-vnet", True)
    assert config.virtual_network.inside_nats[0].local_cidr == "10.60.0.0/24"
    assert (config.gateway_type.value, config.gateway_clients) == ("private", ("branch-01",))


def test_the_readmes_first_configuration_synthesizes() -> None:
    """What a newcomer copies from the README is accepted as it is."""
    block = re.search(r"```json\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block is not None
    settings = json.loads(block.group(1))["context"]["trustgrid"]
    assert settings["clusters"][0]["memberSwap"] is True
    build_app(App(context={"trustgrid": settings}), nag=False)


def test_a_pipeline_deploys_within_its_partition() -> None:
    from tests.stacks.test_pipeline import PIPELINE

    environments = [{**PIPELINE["environments"][0], "region": "cn-north-1"}]
    with pytest.raises(TrustgridConfigError) as failure:
        PipelineSettings.from_context({"pipeline": {**PIPELINE, "environments": environments}})
    assert "trustgrid.pipeline.environments[0].region" in {p.setting for p in failure.value.problems}


@pytest.mark.parametrize("suffix", ["a1b2c3", "Ab12Cd"])
def test_a_complete_secret_arn_is_accepted_whatever_the_case_of_its_suffix(suffix: str) -> None:
    """Secrets Manager's random suffix may be lowercase letters and digits only (AWS's own examples: -a1b2c3)."""
    arn = f"arn:aws:secretsmanager:us-east-1:111111111111:secret:trustgrid/api-{suffix}"
    build_app(App(context={"trustgrid": {**cluster(), "region": "us-east-1", "account": "111111111111",
                                         "apiSecretName": arn}}), nag=False)  # fmt: skip
