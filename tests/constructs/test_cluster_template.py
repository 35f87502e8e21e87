"""Template assertions for the TrustgridHaCluster construct: one synthesis per module, many checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from trustgrid_ha import HeartbeatInterface, TrustgridHaCluster


@pytest.fixture(scope="module")
def stacks() -> dict[str, Any]:
    app = App()
    one = Stack(app, "One")
    api = secretsmanager.Secret.from_secret_name_v2(one, "Api", "trustgrid/api")
    single = TrustgridHaCluster(one, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"])
    single.add_outputs()  # outputs only when asked
    two = Stack(app, "Two")
    api2 = secretsmanager.Secret.from_secret_name_v2(two, "Api", "trustgrid/api")
    vpc = ec2.Vpc(
        two,
        "Vpc",
        ip_addresses=ec2.IpAddresses.cidr("10.1.0.0/16"),
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Wan", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="Lan", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )
    first = TrustgridHaCluster(two, "East", cluster_name="east", api_secret=api2, edge_cidrs=["172.16.0.0/16"], vpc=vpc)
    second = TrustgridHaCluster(
        two,
        "West",
        cluster_name="west",
        api_secret=api2,
        edge_cidrs=["172.20.0.0/16", "172.21.0.0/16"],
        vpc=vpc,
        instance_type="t3.medium",
        heartbeat_port=9100,
        heartbeat_interface=HeartbeatInterface.WAN,
        extra_route_table_ids=["rtb-0123456789abcdef0"],
        tunnel_port=9443,
        tunnel_udp=False,
        max_ingress_mbps=200,
        control_plane_cidrs=["35.171.100.16/28"],
        https_egress_cidrs=["10.1.200.0/24"],
        package_mirror_cidrs=["10.1.201.0/24"],
        dns_server_cidrs=["10.1.0.2/32"],
        termination_protection=False,
        wait_timeout=Duration.minutes(30),
    )
    return {
        "one": Template.from_stack(one),
        "two": Template.from_stack(two),
        "single": single,
        "first": first,
        "second": second,
    }


def resources(template: Template, kind: str, props: dict | None = None) -> dict[str, Any]:
    return template.find_resources(kind, {"Properties": props} if props else None)


def test_a_protected_cluster_protects_its_stack_from_deletion(stacks) -> None:
    """No delete path (the console's "retain" option after a refused delete included) removes anything from under
    two running gateways: the stack delete is refused before anything is deleted."""
    assert Stack.of(stacks["single"]).termination_protection is True
    assert Stack.of(stacks["second"]).termination_protection is True, "its neighbour 'east' is protected"


def test_two_gateways_in_two_azs_with_wan_and_lan_interfaces(stacks) -> None:
    t = stacks["one"]
    t.resource_count_is("AWS::EC2::Instance", 2)
    t.resource_count_is("AWS::EC2::NetworkInterface", 4)
    t.resource_count_is("AWS::EC2::EIP", 2)
    t.resource_count_is("AWS::EC2::EIPAssociation", 2)
    for eni in resources(t, "AWS::EC2::NetworkInterface").values():
        assert eni["Properties"]["SourceDestCheck"] is False
    cluster = stacks["single"]
    lan_subnets = [g.lan_subnet.availability_zone for g in cluster.gateways]
    wan_subnets = [g.wan_subnet.availability_zone for g in cluster.gateways]
    assert lan_subnets == wan_subnets and lan_subnets[0] != lan_subnets[1]
    (image_id,) = resources(t, "Custom::TrustgridImage")
    for instance in resources(t, "AWS::EC2::Instance").values():
        props = instance["Properties"]
        assert [n["DeviceIndex"] for n in props["NetworkInterfaces"]] == ["0", "1"]
        assert props["MetadataOptions"] == {
            "HttpEndpoint": "enabled",
            "HttpPutResponseHopLimit": 1,
            "HttpTokens": "required",
        }
        (volume,) = props["BlockDeviceMappings"]
        assert volume["Ebs"] == {"DeleteOnTermination": True, "Encrypted": True, "VolumeSize": 30, "VolumeType": "gp3"}
        assert props["DisableApiTermination"] is False  # applied by Custom::TrustgridProtection once verified
        assert props["InstanceType"] == "c6i.large"
        assert "CreditSpecification" not in props
        assert props["ImageId"] == {"Fn::GetAtt": [image_id, "ImageId"]}


def test_burstable_gateways_get_unlimited_credits_and_a_credit_alarm(stacks) -> None:
    t = stacks["two"]
    west = stacks["second"]
    for gateway in west.gateways:
        props = t.to_json()["Resources"][Stack.of(west).get_logical_id(gateway.instance)]["Properties"]
        assert props["CreditSpecification"] == {"CPUCredits": "unlimited"}
        assert props["DisableApiTermination"] is False
    t.resource_count_is("AWS::CloudWatch::Alarm", 2 + 2 + 2 + 2 * 4)  # recovery x4, credit x2, health 4 per cluster


def test_auto_recovery_alarm_on_the_system_status_check(stacks) -> None:
    alarms = resources(stacks["one"], "AWS::CloudWatch::Alarm", {"MetricName": "StatusCheckFailed_System"})
    assert len(alarms) == 2
    for alarm in alarms.values():
        (action,) = alarm["Properties"]["AlarmActions"]
        assert ":ec2:recover" in json.dumps(action)


def test_image_resolved_by_a_custom_resource_with_the_generation_pattern(stacks) -> None:
    images = resources(stacks["one"], "Custom::TrustgridImage")
    (image,) = images.values()
    assert image["Properties"]["Owner"] == "079972220921"
    assert image["Properties"]["NamePattern"] == "trustgrid-node-2204-*"
    assert image["Properties"]["InterfaceNaming"] == "gen2"


def test_heartbeat_rule_references_security_groups_only(stacks) -> None:
    t = stacks["one"]
    cluster = stacks["single"]
    sg_id = Stack.of(cluster).get_logical_id(cluster.heartbeat_security_group.node.default_child)
    ingress = resources(t, "AWS::EC2::SecurityGroupIngress", {"FromPort": 9000})
    egress = resources(t, "AWS::EC2::SecurityGroupEgress", {"FromPort": 9000})
    assert len(ingress) == 1 and len(egress) == 1
    (rule,) = ingress.values()
    assert rule["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}
    assert rule["Properties"]["IpProtocol"] == "tcp" and rule["Properties"]["ToPort"] == 9000
    (out,) = egress.values()
    assert out["Properties"]["DestinationSecurityGroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}
    assert "CidrIp" not in json.dumps(ingress) + json.dumps(egress)
    lan_enis = [t.to_json()["Resources"][Stack.of(cluster).get_logical_id(g.lan_interface)] for g in cluster.gateways]
    for eni in lan_enis:
        assert {"Fn::GetAtt": [sg_id, "GroupId"]} in eni["Properties"]["GroupSet"]


def test_wan_heartbeat_moves_the_group_to_the_wan_interfaces(stacks) -> None:
    t, west = stacks["two"], stacks["second"]
    stack = Stack.of(west)
    hb = {"Fn::GetAtt": [stack.get_logical_id(west.heartbeat_security_group.node.default_child), "GroupId"]}
    res = t.to_json()["Resources"]
    for g in west.gateways:
        assert hb in res[stack.get_logical_id(g.wan_interface)]["Properties"]["GroupSet"]
        assert hb not in res[stack.get_logical_id(g.lan_interface)]["Properties"]["GroupSet"]
    assert resources(t, "AWS::EC2::SecurityGroupIngress", {"FromPort": 9100})


def test_wan_and_lan_security_groups(stacks) -> None:
    cluster = stacks["single"]
    wan = stacks["one"].to_json()["Resources"][
        Stack.of(cluster).get_logical_id(cluster.wan_security_group.node.default_child)
    ]
    ingress = {(r["IpProtocol"], r["FromPort"], r["CidrIp"]) for r in wan["Properties"]["SecurityGroupIngress"]}
    assert ingress == {("tcp", 8443, "0.0.0.0/0"), ("udp", 8443, "0.0.0.0/0")}
    egress = {(r["IpProtocol"], r["FromPort"], r["CidrIp"]) for r in wan["Properties"]["SecurityGroupEgress"]}
    assert egress == {
        ("tcp", 443, "35.171.100.16/28"),  # the Trustgrid control plane
        ("tcp", 8443, "35.171.100.16/28"),
        ("tcp", 443, "34.223.12.192/28"),
        ("tcp", 8443, "34.223.12.192/28"),
        ("tcp", 443, "0.0.0.0/0"),  # AWS APIs and the enroll endpoint: no fixed addresses
        ("tcp", 80, "0.0.0.0/0"),  # Ubuntu mirrors for the first-boot package install
    }
    reasons = {r["Description"] for r in wan["Properties"]["SecurityGroupEgress"]}
    assert all(reasons) and len(reasons) == 4
    lan = stacks["one"].to_json()["Resources"][
        Stack.of(cluster).get_logical_id(cluster.lan_security_group.node.default_child)
    ]
    assert [r["CidrIp"] for r in lan["Properties"]["SecurityGroupIngress"]] == ["10.0.0.0/16"]  # the VPC CIDR


def test_route_permissions_scoped_to_the_managed_route_tables_and_each_gateway_reads_only_its_license(stacks) -> None:
    t, cluster = stacks["one"], stacks["single"]
    stack = Stack.of(cluster)
    policies = resources(t, "AWS::IAM::Policy")
    for gateway in cluster.gateways:
        role_id = stack.get_logical_id(gateway.role.node.default_child)
        (policy,) = (p for p in policies.values() if p["Properties"]["Roles"] == [{"Ref": role_id}])
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        (route,) = (s for s in statements if s.get("Sid") == "FailoverRoutes")
        assert sorted(route["Action"]) == ["ec2:CreateRoute", "ec2:DeleteRoute"]
        assert len(route["Resource"]) == 2
        for arn in route["Resource"]:
            text = json.dumps(arn)
            assert ":route-table/" in text and "RouteTable" in text
        describe = next(s for s in statements if s.get("Sid") == "DescribeRouteTables")
        assert describe["Action"] == "ec2:DescribeRouteTables" and describe["Resource"] == "*"
        (secret,) = (s for s in statements if "secretsmanager:GetSecretValue" in s["Action"])
        own = stack.get_logical_id(gateway.license_secret.node.default_child)
        assert secret["Resource"] == {"Ref": own}, "its own license, not the other gateway's"
        actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert actions == {
            "ec2:DescribeRouteTables",
            "ec2:CreateRoute",
            "ec2:DeleteRoute",
            "secretsmanager:GetSecretValue",
        }
        # its failover permissions exist before it runs and outlive it on a delete
        instance = t.to_json()["Resources"][stack.get_logical_id(gateway.instance)]
        policy = stack.get_logical_id(gateway.role.node.find_child("DefaultPolicy").node.default_child)
        assert policy in instance["DependsOn"]
    t.resource_count_is("AWS::IAM::InstanceProfile", 2)


def test_extra_route_tables_are_managed(stacks) -> None:
    west = stacks["second"]
    assert west.route_table_ids[-1] == "rtb-0123456789abcdef0" and len(west.route_table_ids) == 3


def test_tunnel_port_and_narrowed_egress_follow_the_settings(stacks) -> None:
    west = stacks["second"]
    res = stacks["two"].to_json()["Resources"]
    wan = res[Stack.of(west).get_logical_id(west.wan_security_group.node.default_child)]["Properties"]
    assert {(r["IpProtocol"], r["FromPort"]) for r in wan["SecurityGroupIngress"]} == {("tcp", 9443)}  # UDP off
    egress = {(r["IpProtocol"], r["FromPort"], r["CidrIp"]) for r in wan["SecurityGroupEgress"]}
    assert egress == {
        ("tcp", 443, "35.171.100.16/28"),
        ("tcp", 8443, "35.171.100.16/28"),
        ("tcp", 443, "10.1.200.0/24"),
        ("tcp", 80, "10.1.201.0/24"),
        ("tcp", 53, "10.1.0.2/32"),
        ("udp", 53, "10.1.0.2/32"),
    }
    (cluster,) = (
        r["Properties"]
        for r in resources(stacks["two"], "Custom::TrustgridCluster").values()
        if r["Properties"]["ClusterName"] == "west"
    )
    assert (cluster["TunnelPort"], cluster["TunnelUdp"], cluster["MaxIngressMbps"]) == ("9443", "false", "200")
    assert cluster["MaxClientWriteMbps"] == ""


def test_no_route_resource_duplicates_a_cluster_managed_entry(stacks) -> None:
    for template in (stacks["one"], stacks["two"]):
        routes = resources(template, "AWS::EC2::Route")
        destinations = {r["Properties"].get("DestinationCidrBlock") for r in routes.values()}
        assert not destinations & {"172.16.0.0/16", "172.20.0.0/16", "172.21.0.0/16"}
    (cluster,) = resources(stacks["one"], "Custom::TrustgridCluster").values()
    props = cluster["Properties"]
    assert props["EdgeCidrs"] == ["172.16.0.0/16"]
    assert len(props["RouteTableIds"]) == 2
    assert props["LanInterfaceName"] == "ens6"
    assert props["HeartbeatPort"] == "9000" and props["HeartbeatInterface"] == "LAN"
    assert props["FailbackMode"] == "autoFailback"
    assert str(props["ServiceTimeout"]) == "3480"
    assert [set(m) for m in props["Members"]] == [
        {"Uid", "Name", "LanEniId", "LanIp", "WanIp", "PublicIp", "LanSubnetId"}
    ] * 2
    assert props["ContractVersion"] == "2" and props["LanInterfaceOverride"] == "false"
    assert (props["TunnelPort"], props["TunnelUdp"]) == ("8443", "true")
    public_ips = [m["PublicIp"] for m in props["Members"]]
    assert all("Fn::GetAtt" in ip and ip["Fn::GetAtt"][1] == "PublicIp" for ip in public_ips)


def test_licenses_come_from_the_custom_resource_through_secrets_manager(stacks) -> None:
    t = stacks["one"]
    licenses = resources(t, "Custom::TrustgridNodeLicense")
    assert sorted(lic["Properties"]["NodeName"] for lic in licenses.values()) == ["prod-gw-a", "prod-gw-b"]
    assert {lic["Properties"]["Source"] for lic in licenses.values()} == {"mint"}
    cluster = stacks["single"]
    for gateway in cluster.gateways:
        instance = t.to_json()["Resources"][Stack.of(cluster).get_logical_id(gateway.instance)]
        user_data = json.dumps(instance["Properties"]["UserData"])
        assert "secretsmanager.GetSecretValue" in user_data and "/usr/local/trustgrid/license.txt" in user_data
        assert "register.sh" in user_data and "ansible-playbook" in user_data
        assert "awscli" not in user_data and "aws-cli" not in user_data, "nothing the image lacks"
        stack = Stack.of(cluster)
        # the license is in its secret, and the Elastic IP on the WAN interface, before the instance boots
        assert stack.get_logical_id(gateway.license.node.default_child) in instance["DependsOn"]
        assert stack.get_logical_id(gateway.elastic_ip_association) in instance["DependsOn"]


def test_one_provider_per_stack_shared_by_every_cluster(stacks) -> None:
    two = stacks["two"]
    functions = resources(two, "AWS::Lambda::Function")
    ours = [f for f in functions.values() if "trustgrid_ha_runtime.handler" in f["Properties"].get("Handler", "")]
    assert len(ours) == 2  # on_event and is_complete
    tokens = {json.dumps(c["Properties"]["ServiceToken"]) for c in resources(two, "Custom::TrustgridCluster").values()}
    assert len(tokens) == 1
    assert len(resources(two, "Custom::TrustgridCluster")) == 2
    assert stacks["first"].provider is stacks["second"].provider
    handler_policy = next(p for p in resources(two, "AWS::IAM::Policy").values() if "OwnStackStatus" in json.dumps(p))[
        "Properties"
    ]["PolicyDocument"]["Statement"]
    own_stack = next(s for s in handler_policy if s.get("Sid") == "OwnStackStatus")
    assert own_stack["Action"] == "cloudformation:DescribeStacks" and own_stack["Resource"] == {"Ref": "AWS::StackId"}
    env = ours[0]["Properties"]["Environment"]["Variables"]
    assert env["TRUSTGRID_API_URL"] == "https://api.trustgrid.io"
    assert set(env) == {"TRUSTGRID_API_URL", "TRUSTGRID_API_SECRET_ARN"}


def test_outputs_for_every_gateway_only_when_asked(stacks) -> None:
    assert "Outputs" not in stacks["two"].to_json()
    outputs = stacks["one"].to_json()["Outputs"]
    for kind in ("InstanceId", "WanPublicIp", "LanEniId", "LanPrivateIp"):
        assert sum(kind in key for key in outputs) == 2, kind
    for kind in ("WanSecurityGroupId", "LanSecurityGroupId", "HeartbeatSecurityGroupId", "ClusterFqdn"):
        assert sum(kind in key for key in outputs) == 1, kind


def test_connections_expose_the_lan_security_group(stacks) -> None:
    cluster = stacks["single"]
    assert cluster.connections.security_groups == [cluster.lan_security_group]


def test_the_handlers_logs_survive_a_rollback_or_a_delete(stacks) -> None:
    groups = resources(stacks["one"], "AWS::Logs::LogGroup")
    assert len(groups) == 4  # the handler's, the framework's, the waiter's and the health check's
    assert {g["DeletionPolicy"] for g in groups.values()} == {"Retain"}
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {90}


def test_the_handler_may_protect_exactly_the_two_instances(stacks) -> None:
    t, cluster = stacks["one"], stacks["single"]
    stack = Stack.of(cluster)
    (policy,) = (p for k, p in resources(t, "AWS::IAM::Policy").items() if "ProtectionPolicy" in k)
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ec2:ModifyInstanceAttribute"
    text = json.dumps(statement["Resource"])
    assert len(statement["Resource"]) == 2 and ":instance/" in text
    for gateway in cluster.gateways:
        assert json.dumps({"Ref": stack.get_logical_id(gateway.instance)}) in text
    (protection,) = resources(t, "Custom::TrustgridProtection").values()
    assert protection["Properties"]["Enabled"] == "true"
    enabled = sorted(
        p["Properties"]["Enabled"] for p in resources(stacks["two"], "Custom::TrustgridProtection").values()
    )
    assert enabled == ["false", "true"]  # west turned it off
