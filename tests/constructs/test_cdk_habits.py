"""The construct behaves like an aws-cdk-lib L2: IConnectable, metric methods, tags everywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from tests.cfn_model import SCHEMAS
from trustgrid_ha import TrustgridHaCluster


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    app = App()
    stack = Stack(app, "Habits")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    topic = sns.Topic(stack, "Pager", enforce_ssl=True)
    cluster = TrustgridHaCluster(
        stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"], alarm_topic=topic,
        instance_type="t3.medium",
    )  # fmt: skip
    TrustgridHaCluster(
        stack, "Quiet", cluster_name="quiet-gw", api_secret=api, edge_cidrs=["172.17.0.0/16"], vpc=cluster.vpc,
        monitoring=False,
    )  # fmt: skip
    workloads = ec2.SecurityGroup(stack, "Workloads", vpc=cluster.vpc, allow_all_outbound=False)
    workloads.connections.allow_to(cluster, ec2.Port.tcp(443), "to the edge sites through the gateways")
    Tags.of(stack).add("team", "network-edge")
    return {
        "stack": stack,
        "cluster": cluster,
        "workloads": workloads,
        "template": Template.from_stack(stack).to_json(),
    }


def test_the_cluster_is_iconnectable_through_its_lan_security_group(built) -> None:
    cluster, workloads, template = built["cluster"], built["workloads"], built["template"]
    assert ec2.IConnectable in type(cluster).__jsii_ifaces__  # jsii.implements
    stack = Stack.of(cluster)
    lan = {"Fn::GetAtt": [stack.get_logical_id(cluster.lan_security_group.node.default_child), "GroupId"]}
    apps = {"Fn::GetAtt": [stack.get_logical_id(workloads.node.default_child), "GroupId"]}
    ingress = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    assert any(r["GroupId"] == lan and r["SourceSecurityGroupId"] == apps and r["FromPort"] == 443 for r in ingress)
    egress = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupEgress"]
    assert any(r["GroupId"] == apps and r["DestinationSecurityGroupId"] == lan for r in egress)


def test_metric_methods_return_cloudwatch_metrics_of_each_gateway(built) -> None:
    cluster = built["cluster"]
    stack = Stack.of(cluster)
    for gateway in cluster.gateways:
        for method, name, statistic in [
            (gateway.metric_status_check_failed, "StatusCheckFailed", "Maximum"),
            (gateway.metric_cpu_utilization, "CPUUtilization", "Average"),
            (gateway.metric_cpu_credit_balance, "CPUCreditBalance", "Minimum"),
            (gateway.metric_network_in, "NetworkIn", "Sum"),
            (gateway.metric_network_out, "NetworkOut", "Sum"),
        ]:
            metric = method()
            assert isinstance(metric, cloudwatch.Metric)
            assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/EC2", name, statistic)
            assert stack.resolve(metric.dimensions["InstanceId"]) == {"Ref": stack.get_logical_id(gateway.instance)}
    assert cluster.primary.metric_cpu_utilization(statistic="Maximum").statistic == "Maximum"


def taggable(resource_type: str) -> bool:
    index = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    if resource_type not in index:
        return False
    schema = json.loads((SCHEMAS / "resources" / f"{index[resource_type]}.json").read_text())
    return "Tags" in schema.get("properties", {})


def test_tags_reach_every_resource_the_construct_causes_the_shared_provider_included(built) -> None:
    untagged = []
    for logical, resource in built["template"]["Resources"].items():
        if not taggable(resource["Type"]):
            continue
        tags = resource.get("Properties", {}).get("Tags", [])
        tags = tags.items() if isinstance(tags, dict) else [(t.get("Key"), t.get("Value")) for t in tags]
        if ("team", "network-edge") not in list(tags):
            untagged.append(f"{logical} ({resource['Type']})")
    assert untagged == []
    provider = [k for k in built["template"]["Resources"] if k.startswith("TrustgridProvider")]
    assert provider, "the provider is in the stack"


def test_continuous_health_schedule_alarms_and_dashboard(built) -> None:
    template, cluster = built["template"], built["cluster"]
    stack = Stack.of(cluster)
    resources = template["Resources"]
    (rule,) = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]  # the quiet cluster has none
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"  # an offline member alarms within ~3 min
    (target,) = rule["Properties"]["Targets"]
    cluster_id = stack.get_logical_id(cluster.cluster.node.default_child)
    assert json.dumps({"Fn::GetAtt": [cluster_id, "ClusterFqdn"]}) in json.dumps(target["Input"])
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
              and r["Properties"].get("Namespace") == "Trustgrid/HA"]  # fmt: skip
    assert sorted(a["MetricName"] for a in alarms) == sorted(
        ["ClusterHealthy", "RoutesOnActiveMember", "MembersOnline", "GatewayServiceEnabled"]
    )
    topic = {"Ref": stack.get_logical_id(built["stack"].node.find_child("Pager").node.default_child)}
    assert all(a["AlarmActions"] == [topic] and a["TreatMissingData"] == "breaching" for a in alarms)
    assert all((a["Period"], a["EvaluationPeriods"]) == (60, 2) for a in alarms)
    cluster_resource = stack.get_logical_id(cluster.cluster.node.default_child)
    alarm_resources = [r for r in resources.values() if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::Events::Rule")
                       and r["Properties"].get("Namespace", "Trustgrid/HA") == "Trustgrid/HA"]  # fmt: skip
    assert all(cluster_resource in r.get("DependsOn", []) for r in alarm_resources), (
        "no check and no alarm while a first create still waits for the gateways to register"
    )
    (dashboard,) = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ["Cluster healthy", "prod-gw-a: CPU %", "prod-gw-b: network in / out", "prod-gw-a: CPU credits"]:
        assert title in body


def test_the_health_check_is_read_only(built) -> None:
    resources = built["template"]["Resources"]
    (function,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"
                   and "monitor.handler" in r["Properties"].get("Handler", "")]  # fmt: skip
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = {
        a
        for p in resources.values()
        if p["Type"] == "AWS::IAM::Policy" and {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "ec2:DescribeRouteTables",
        "ec2:DescribeNetworkInterfaces",
        "cloudwatch:PutMetricData",
        "secretsmanager:GetSecretValue",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_an_application_tier_that_restricts_outbound_traffic_can_reach_the_edge_sites_and_be_reached() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_secretsmanager as secretsmanager
    from aws_cdk.assertions import Template

    from trustgrid_ha import TrustgridHaCluster

    stack = Stack(App(), "Edge")
    cluster = TrustgridHaCluster(
        stack, "Gw", cluster_name="edge-gw", edge_cidrs=["172.16.0.0/16", "172.20.0.0/16"],
        api_secret=secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api"), monitoring=False,
    )  # fmt: skip
    tier = ec2.SecurityGroup(stack, "App", vpc=cluster.vpc, allow_all_outbound=False)
    cluster.allow_edge_traffic_from(tier, ec2.Port.tcp(443))
    cluster.allow_edge_traffic_to(tier, ec2.Port.tcp(8080))
    resources = Template.from_stack(stack).to_json()["Resources"]
    app = resources[stack.get_logical_id(tier.node.default_child)]["Properties"]
    assert sorted((r["CidrIp"], r["FromPort"]) for r in app["SecurityGroupEgress"]) == [
        ("172.16.0.0/16", 443), ("172.20.0.0/16", 443)
    ]  # fmt: skip
    assert sorted((r["CidrIp"], r["FromPort"]) for r in app["SecurityGroupIngress"]) == [
        ("172.16.0.0/16", 8080), ("172.20.0.0/16", 8080)
    ]  # fmt: skip
    lan = {"Fn::GetAtt": [stack.get_logical_id(cluster.lan_security_group.node.default_child), "GroupId"]}
    tier_id = {"Fn::GetAtt": [stack.get_logical_id(tier.node.default_child), "GroupId"]}
    ingress = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    assert any(r["GroupId"] == lan and r.get("SourceSecurityGroupId") == tier_id and r["FromPort"] == 443
               for r in ingress)  # fmt: skip
    egress = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupEgress"]
    assert any(r["GroupId"] == lan and r.get("DestinationSecurityGroupId") == tier_id and r["FromPort"] == 8080
               for r in egress)  # fmt: skip


def test_findings_are_acknowledged_for_cdk_nag_2_as_well_as_3(built) -> None:
    """cdk-nag 3.x reads CDK's Validations acknowledgments; cdk-nag 2.x reads NagSuppressions' metadata on each
    resource, which the construct writes too (same rules, same reasons, granular findings as applies_to)."""
    from trustgrid_ha.nag import _suppression

    assert _suppression("AwsSolutions-IAM5[Resource::*]", "why") == {
        "id": "AwsSolutions-IAM5", "reason": "why", "applies_to": ["Resource::*"]
    }  # fmt: skip
    assert _suppression("AwsSolutions-SF2", "why") == {"id": "AwsSolutions-SF2", "reason": "why"}
    resources = built["template"]["Resources"]
    suppressed = {
        logical: {(r["id"], tuple(r.get("applies_to", ()))) for r in res["Metadata"]["cdk_nag"]["rules_to_suppress"]}
        for logical, res in resources.items()
        if "cdk_nag" in res.get("Metadata", {})
    }
    handler_policies = [
        logical for logical, res in resources.items()
        if res["Type"] == "AWS::IAM::Policy" and "HandlerRole" in logical
    ]  # fmt: skip
    assert handler_policies and all(("AwsSolutions-IAM5", ("Resource::*",)) in suppressed[p] for p in handler_policies)
    instances = [logical for logical, res in resources.items() if res["Type"] == "AWS::EC2::Instance"]
    assert instances and all(("AwsSolutions-EC29", ()) in suppressed[i] for i in instances)
    assert all(len(r["reason"]) >= 10 for res in resources.values()
               for r in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []))  # fmt: skip


def test_every_acknowledgment_for_cdk_nag_3_is_also_one_for_cdk_nag_2(built) -> None:
    """For each construct with acknowledgments (CDK records them as aws:cdk:acknowledged-rules), every resource under it
    carries the same rules, with the same reasons, as cdk-nag 2.x's NagSuppressions metadata."""
    from aws_cdk import CfnResource, Validations

    from trustgrid_ha.nag import _suppression

    stack = built["stack"]
    resources = built["template"]["Resources"]
    checked = 0
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            wanted = [
                _suppression(rule.removeprefix("Annotation::"), reason)
                for rule, reason in dict(entry.data).items()
                if rule.startswith("Annotation::")  # cdk-nag's rules; other plugins' carry their own namespace
            ]
            for child in construct.node.find_all() if wanted else []:
                if isinstance(child, CfnResource) and stack.get_logical_id(child) in resources:
                    metadata = resources[stack.get_logical_id(child)].get("Metadata", {})
                    have = metadata.get("cdk_nag", {}).get("rules_to_suppress", [])
                    assert all(w in have for w in wanted), (child.node.path, wanted)
                    checked += 1
    assert checked > 20
