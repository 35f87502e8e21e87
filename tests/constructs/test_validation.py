"""Every bad setting is refused at synth with a message naming the setting, the value and the fix."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, CfnParameter, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from trustgrid_ha import GatewayType, InterfaceNames, TrustgridConfigError, TrustgridHaCluster


def build(vpc_factory=None, **settings: Any) -> TrustgridHaCluster:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    kwargs: dict[str, Any] = {"cluster_name": "prod-gw", "api_secret": api, "edge_cidrs": ["172.16.0.0/16"]}
    if vpc_factory:
        kwargs["vpc"] = vpc_factory(stack)
    kwargs.update(settings)
    return TrustgridHaCluster(stack, "Gw", **kwargs)


def imported_vpc(stack: Stack, *, azs=("us-east-1a", "us-east-1b"), public=2, private=2, tables=True) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "Imported",
        vpc_id="vpc-0123456789abcdef0",
        vpc_cidr_block="10.9.0.0/16",
        availability_zones=list(azs),
        public_subnet_ids=[f"subnet-0pub{i}" for i in range(public)],
        private_subnet_ids=[f"subnet-0prv{i}" for i in range(private)],
        private_subnet_route_table_ids=[f"rtb-0{i}23456789abcdef" for i in range(private)] if tables else None,
    )


CASES = [
    ({"edge_cidrs": ["172.16.0.0/33"]}, "edge_cidrs[0]", "CIDR notation"),
    ({"edge_cidrs": ["172.16.0.1/16"]}, "edge_cidrs[0]", "no host bits"),
    ({"edge_cidrs": ["10.0.5.0/24"]}, "edge_cidrs[0]", "overlaps the VPC CIDR 10.0.0.0/16"),
    ({"edge_cidrs": []}, "edge_cidrs", "at least one CIDR"),
    ({"heartbeat_port": 0}, "heartbeat_port", "from 1 to 65535"),
    ({"heartbeat_port": 70000}, "heartbeat_port", "from 1 to 65535"),
    ({"heartbeat_port": 8443}, "heartbeat_port", "tunnel port"),
    ({"cluster_name": "Prod_GW"}, "cluster_name", "lowercase letters, digits and dashes"),
    ({"cluster_name": "-prod"}, "cluster_name", "lowercase letters"),
    ({"instance_type": "c7g.large"}, "instance_type", "Graviton"),
    ({"instance_type": "r5.large"}, "instance_type", "not one Trustgrid supports"),
    ({"instance_type": "t2.medium"}, "instance_type", "deprecated gen1 family"),
    ({"instance_type": "c6i"}, "instance_type", "concrete instance type"),
    ({"cluster_ip_failover": True}, "cluster_ip_failover", "same availability zone"),
    ({"tunnel_port": 9443, "heartbeat_port": 9443}, "heartbeat_port", "tunnel port"),
    ({"tunnel_port": 0}, "tunnel_port", "from 1 to 65535"),
    ({"max_ingress_mbps": 0}, "max_ingress_mbps", "Mbit/s"),
    ({"edge_cidrs": ["0.0.0.0/0"]}, "edge_cidrs[0]", "default route"),
    ({"dns_server_cidrs": ["10.0.0.2"]}, "dns_server_cidrs[0]", "CIDR notation"),
    ({"extra_route_table_ids": ["rt-123"]}, "extra_route_table_ids[0]", "rtb-0123456789abcdef0"),
    ({"edge_source_cidrs": ["0.0.0.0"]}, "edge_source_cidrs[0]", "CIDR notation"),
    ({"gateway_names": ["same", "same"]}, "gateway_names", "two different node names"),
    ({"gateway_names": ["ok", "Not OK"]}, "gateway_names[1]", "lowercase letters"),
    ({"wait_timeout": Duration.hours(2)}, "wait_timeout", "between 1 and 50 minutes"),
    ({"machine_image_id": "img-1"}, "machine_image_id", "AMI ID"),
    # the wrong settings a broad sample found (issue 19)
    ({"instance_type": "c7ia.large"}, "instance_type", "EC2 has no instance family 'c7ia'"),
    ({"root_volume_size_gib": float("inf")}, "root_volume_size_gib", "whole number"),
    ({"wait_timeout": Duration.millis(1500)}, "wait_timeout", "whole seconds"),
    ({"monitoring_interval": Duration.millis(60500)}, "monitoring_interval", "whole minutes, 1 to 60"),
    ({"monitoring_interval": Duration.hours(13)}, "monitoring_interval", "whole minutes, 1 to 60"),
    ({"monitoring": False, "monitoring_interval": Duration.minutes(5)}, "monitoring_interval", "monitoring=False"),
    ({"node_removal_policy": RemovalPolicy.SNAPSHOT}, "node_removal_policy", "RETAIN or RemovalPolicy.DESTROY"),
    ({"interface_names": InterfaceNames("ens5", "ens5")}, "interface_names", "different names"),
    ({"interface_names": InterfaceNames("", "ens6")}, "interface_names.wan", "Linux interface name"),
    ({"interface_names": InterfaceNames("ens5", "ens6;reboot")}, "interface_names.lan", "Linux interface name"),
    ({"succeeds": "old-gw", "cut_over": True, "superseded": True}, "superseded", "set one of cut_over and"),
    ({"member_swap": True, "cluster_name": "x" * 55}, "cluster_name", "each with a revision"),
    ({"member_swap": True, "gateway_names": ["a" * 57, "b"]}, "gateway_names[0]", "at most 56 characters"),
    ({"route_table_ids": ["rtb-0123456789abcdef0"]}, "route_table_ids", "creates the VPC"),
    ({"api_url": "https://api.trustgrid.io:99999"}, "api_url", "plain https:// URL"),
    ({"enroll_endpoint": "https://-/v2/enroll"}, "enroll_endpoint", "plain https:// URL"),
    ({"control_plane_cidrs": ["2001:db8::/32"]}, "control_plane_cidrs[0]", "IPv6"),
    ({"gateway_type": GatewayType.PRIVATE, "gateway_clients": ["edge-1", "edge-1"]}, "gateway_clients[1]", "twice"),
    ({"gateway_type": GatewayType.PRIVATE, "gateway_clients": ["prod-gw-b"]}, "gateway_clients[0]", "its own"),
    ({"wan_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)}, "wan_subnets", "as WAN and"),
    ({"wan_subnets": ec2.SubnetSelection(subnet_group_name="Nope")}, "wan_subnets", "names no subnet"),
    ({"api_url": "https://api.trustgrid.io:0"}, "api_url", "plain https:// URL"),
    ({"node_removal_policy": RemovalPolicy.SNAPSHOT}, "node_removal_policy", "'RemovalPolicy.SNAPSHOT'"),
]


@pytest.mark.parametrize(("settings", "setting", "fix"), CASES, ids=[c[1] + ":" + c[2][:20] for c in CASES])
def test_bad_setting_is_refused(settings: dict[str, Any], setting: str, fix: str) -> None:
    with pytest.raises(TrustgridConfigError) as failure:
        build(**settings)
    assert failure.value.setting == setting
    message = str(failure.value)
    assert message.startswith(f"Invalid setting {setting}=")
    assert fix in message


def test_both_gateways_in_one_az_is_refused() -> None:
    with pytest.raises(TrustgridConfigError) as failure:
        build(lambda s: imported_vpc(s, azs=("us-east-1a",), public=1, private=1))
    assert failure.value.setting == "lan_subnets"
    assert "one availability zone" in str(failure.value) and "us-east-1a" in str(failure.value)


def test_missing_public_subnet_in_an_az_is_refused() -> None:
    def vpc(stack: Stack) -> ec2.IVpc:
        imported = imported_vpc(stack)
        return imported

    with pytest.raises(TrustgridConfigError) as failure:
        build(
            vpc, wan_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC, availability_zones=["us-east-1a"])
        )
    assert failure.value.setting == "wan_subnets"
    assert "no public subnet in us-east-1b" in str(failure.value)


def test_lan_subnets_that_are_the_wan_subnets_are_refused() -> None:
    with pytest.raises(TrustgridConfigError) as failure:
        build(imported_vpc, lan_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC))
    assert failure.value.setting == "lan_subnets"
    assert "selected as WAN and as LAN subnets" in str(failure.value)


def test_missing_private_subnets_is_refused() -> None:
    def vpc(stack: Stack) -> ec2.IVpc:
        return ec2.Vpc.from_vpc_attributes(
            stack,
            "NoPrivate",
            vpc_id="vpc-1",
            vpc_cidr_block="10.9.0.0/16",
            availability_zones=["us-east-1a", "us-east-1b"],
            public_subnet_ids=["subnet-a", "subnet-b"],
        )

    with pytest.raises(TrustgridConfigError) as failure:
        build(vpc)
    assert failure.value.setting == "lan_subnets"


def test_imported_subnets_without_route_tables_are_refused() -> None:
    with pytest.raises(TrustgridConfigError) as failure:
        build(lambda s: imported_vpc(s, tables=False))
    assert "route table" in str(failure.value) and "private_subnet_route_table_ids" in str(failure.value)


def test_edge_cidr_overlapping_an_imported_vpc_is_refused() -> None:
    with pytest.raises(TrustgridConfigError, match=r"overlaps the VPC CIDR 10\.9\.0\.0/16"):
        build(imported_vpc, edge_cidrs=["10.9.128.0/17"])


def test_imported_vpc_with_good_settings_synthesizes() -> None:
    cluster = build(imported_vpc)
    assert [g.lan_subnet.subnet_id for g in cluster.gateways] == ["subnet-0prv0", "subnet-0prv1"]
    assert cluster.route_table_ids == ["rtb-0023456789abcdef", "rtb-0123456789abcdef"]


def test_two_clusters_in_a_stack_must_share_the_api_secret() -> None:
    stack = Stack(App(), "S")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    a = secretsmanager.Secret.from_secret_name_v2(stack, "A", "a")
    b = secretsmanager.Secret.from_secret_name_v2(stack, "B", "b")
    TrustgridHaCluster(stack, "One", cluster_name="one", api_secret=a, edge_cidrs=["172.16.0.0/16"], vpc=vpc)
    with pytest.raises(TrustgridConfigError, match="shares one provider"):
        TrustgridHaCluster(stack, "Two", cluster_name="two", api_secret=b, edge_cidrs=["172.17.0.0/16"], vpc=vpc)


@pytest.mark.parametrize(
    ("instance_type", "generation", "lan"),
    [
        ("t3.small", "gen2", "ens6"),
        ("c5a.large", "gen2", "ens6"),
        ("c6in.xlarge", "gen2", "ens6"),
        ("c7i-flex.large", "gen3", "enp40s0"),
        ("m8azn.large", "gen3", "enp40s0"),  # the vendor module's rule: ^[cm][78][ai]
        ("c8a.2xlarge", "gen3", "enp40s0"),
    ],
)
def test_instance_types_follow_the_vendor_module(instance_type: str, generation: str, lan: str) -> None:
    cluster = build(instance_type=instance_type)
    assert cluster.generation.value == generation
    assert cluster.interface_names.lan == lan


def test_the_size_table_matches_the_ec2_api_model() -> None:
    import botocore.session

    from trustgrid_ha.instance_types import GEN2_FAMILIES, GEN3_FAMILY, SIZES

    model = botocore.session.get_session().get_service_model("ec2").shape_for("InstanceType").enum
    known: dict[str, set[str]] = {}
    for name in model:
        family, size = name.split(".", 1)
        if family in GEN2_FAMILIES or GEN3_FAMILY.match(family):
            known.setdefault(family, set()).add(size)
    assert {f: set(s) for f, s in SIZES.items()} == known


def test_availability_zones_of_another_region_are_refused_when_the_region_is_known() -> None:
    stack = Stack(App(), "S", env=Environment(account="123456789012", region="eu-west-1"))
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(
            stack,
            "Gw",
            cluster_name="prod-gw",
            api_secret=api,
            edge_cidrs=["172.16.0.0/16"],
            vpc=imported_vpc(stack),
            machine_image_id="ami-0123456789abcdef0",  # eu-west-1 has no published image: a copy
        )
    assert [p.value for p in failure.value.problems] == ["us-east-1a", "us-east-1b"]
    assert "not an availability zone of the stack's region eu-west-1" in str(failure.value)


def test_a_token_is_validated_at_deploy_time_not_refused_or_garbled() -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    port = CfnParameter(stack, "HeartbeatPort", type="Number", default=9000)
    name = CfnParameter(stack, "ClusterName", type="String")
    TrustgridHaCluster(
        stack, "Gw", cluster_name=name.value_as_string, api_secret=api, edge_cidrs=["172.16.0.0/16"],
        heartbeat_port=port.value_as_number, gateway_names=["gw-a", "gw-b"],
    )  # fmt: skip
    template = Template.from_stack(stack).to_json()
    (cluster,) = (r for r in template["Resources"].values() if r["Type"] == "Custom::TrustgridCluster")
    assert cluster["Properties"]["HeartbeatPort"] == {"Ref": "HeartbeatPort"}
    assert cluster["Properties"]["ClusterName"] == {"Ref": "ClusterName"}
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    assert rules[0]["Properties"]["FromPort"] == {"Ref": "HeartbeatPort"}


@pytest.mark.parametrize(
    ("what", "keywords", "setting", "fix"),
    [
        ("a Duration of a deploy-time number of minutes", "wait", "wait_timeout", "give Duration.seconds(value)"),
        ("an imported VPC without public subnets", "no-public", "wan_subnets", "needs a public subnet"),
        ("an imported VPC without its CIDR", "no-cidr", "lan_source_cidrs", "imported without its CIDR"),
        ("a token in a message", "token", "edge_cidrs[1]", "default route"),
        ("a deploy-time monitoring interval", "interval", "monitoring_interval", "fixed at synth time"),
    ],
)
def test_object_settings_cdk_cannot_handle_are_refused_clearly(
    what: str, keywords: str, setting: str, fix: str
) -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    zones = ["us-east-1a", "us-east-1b"]
    builders: dict[str, Any] = {
        "wait": lambda: {"wait_timeout": Duration.minutes(CfnParameter(stack, "W", type="Number").value_as_number)},
        "no-public": lambda: {"vpc": ec2.Vpc.from_vpc_attributes(stack, "V", vpc_id="vpc-1", availability_zones=zones,
                                                                 private_subnet_ids=["subnet-1", "subnet-2"],
                                                                 vpc_cidr_block="10.0.0.0/16")},
        "no-cidr": lambda: {"vpc": ec2.Vpc.from_vpc_attributes(stack, "V", vpc_id="vpc-1", availability_zones=zones,
                                                               private_subnet_ids=["subnet-1", "subnet-2"],
                                                               public_subnet_ids=["subnet-3", "subnet-4"])},
        "token": lambda: {"edge_cidrs": [CfnParameter(stack, "E").value_as_string, "0.0.0.0/0"]},
        "interval": lambda: {
            "monitoring_interval": Duration.seconds(CfnParameter(stack, "I", type="Number").value_as_number)
        },
    }  # fmt: skip
    given = builders[keywords]()
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw", **{"cluster_name": "prod-gw", "api_secret": api,
                                           "edge_cidrs": ["172.16.0.0/16"], **given})  # fmt: skip
    problem = next(p for p in failure.value.problems if p.setting == setting)
    assert fix in problem.fix, what
    assert "${Token" not in str(failure.value), "never CDK's token text"


def test_a_token_is_shown_as_a_deploy_time_value_in_a_message() -> None:
    from trustgrid_ha.errors import Problem

    stack = Stack(App(), "T")
    token = CfnParameter(stack, "N").value_as_string
    assert str(Problem("cluster_name", token, "fix")) == "cluster_name=(a deploy-time value): fix"
    assert "${Token" not in str(Problem("edge_cidrs", [token, "x"], "fix"))


def test_a_deploy_time_enroll_endpoint_is_refused_it_would_run_unchecked_in_a_root_shell() -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    endpoint = CfnParameter(stack, "Enroll", type="String").value_as_string
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           enroll_endpoint=endpoint)  # fmt: skip
    (problem,) = failure.value.problems
    assert problem.setting == "enroll_endpoint" and "runs as root" in str(failure.value)
    assert "${Token" not in str(failure.value)


def test_token_check_agrees_with_cdk_and_asks_it_only_about_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """``is_unresolved`` answers plain values itself and gives CDK's answer for every kind of token."""
    from aws_cdk import Token

    from trustgrid_ha.errors import is_unresolved

    stack = Stack(App(), "Tokens")
    number = CfnParameter(stack, "N", type="Number").value_as_number
    text = CfnParameter(stack, "S").value_as_string
    items = CfnParameter(stack, "L", type="CommaDelimitedList").value_as_list
    tokens = [number, text, items, f"prefix-{text}", Token.as_string(number), Duration.seconds(number).to_seconds()]
    plain = [0, 9000, -1, 2.5, 1e300, True, "", "c6i.large", "${Token", ["a"], ["a", text], ("x",), (), {"k": text}]
    for value in [*tokens, *plain]:
        expected = Token.is_unresolved(list(value) if isinstance(value, tuple) else value)
        assert is_unresolved(value) is expected, value
    asked: list[object] = []
    real = Token.is_unresolved
    monkeypatch.setattr(Token, "is_unresolved", staticmethod(lambda value: asked.append(value) or real(value)))
    for value in [0, 9000, 2.5, True, "", "c6i.large", ["a"], ["a", "b"], ()]:
        assert not is_unresolved(value)
    assert asked == []


#: Values of every kind, none of them right for an object setting (a VPC, a secret, a Duration, a topic).
WRONG_KINDS: list[Any] = ["x", "", -1, 1.5, True, [], [1], {}, {"a": 1}, object()]


def test_no_value_of_any_kind_in_any_keyword_ends_in_anything_but_a_clear_refusal() -> None:
    """Every keyword, given every kind of value: a valid one builds, any other is a TrustgridConfigError naming
    that keyword. No other exception, so no traceback from deep inside CDK."""
    import inspect

    keywords = [
        p.name
        for p in inspect.signature(TrustgridHaCluster.__init__).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name != "api_secret"
    ]
    crashes = []
    for keyword in keywords:
        for value in WRONG_KINDS:
            try:
                build(**{keyword: value})
            except TrustgridConfigError as exc:
                assert keyword in str(exc), (keyword, value, str(exc))
            except Exception as exc:  # anything else is what this test exists to find
                crashes.append(f"{keyword}={value!r}: {type(exc).__name__}: {exc}")
    assert crashes == []


@pytest.mark.parametrize(
    ("keyword", "value", "fix"),
    [
        ("vpc", "vpc-0123456789abcdef0", "give an ec2.IVpc"),
        ("wan_subnets", ["subnet-1"], "give an ec2.SubnetSelection"),
        ("license_secrets", ["a", "b"], "two Secrets Manager secrets"),
        ("wait_timeout", 45, "a Duration"),
        ("monitoring", "yes", "True or False"),
        ("node_removal_policy", "DESTROY", "RemovalPolicy.RETAIN or RemovalPolicy.DESTROY"),
        ("alarm_topic", "arn:aws:sns:us-east-1:111111111111:t", "an SNS topic"),
        ("api_secret", "trustgrid/api", "a Secrets Manager secret"),
    ],
)
def test_object_settings_of_the_wrong_kind_are_refused_by_keyword(keyword: str, value: Any, fix: str) -> None:
    with pytest.raises(TrustgridConfigError) as failure:
        build(**{keyword: value})
    assert failure.value.setting == keyword and fix in failure.value.fix


def test_none_for_an_optional_keyword_means_its_default() -> None:
    """As in jsii's own Python bindings: an optional keyword given None is the default."""
    from aws_cdk import RemovalPolicy

    cluster = build(monitoring=None, node_removal_policy=None, heartbeat_port=None)
    assert cluster.config.monitoring is True and cluster.monitoring is not None
    assert cluster.config.node_removal_policy == RemovalPolicy.RETAIN
    assert cluster.config.heartbeat_port == 9000


def test_object_settings_of_the_right_kind_pass_as_cdk_and_jsii_hand_them_over() -> None:
    """Imported objects come back from jsii as dynamic proxies: they pass the kind check as CDK's classes do."""
    from aws_cdk import RemovalPolicy
    from aws_cdk import aws_sns as sns

    stack = Stack(App(), "Kinds")
    secrets = [secretsmanager.Secret.from_secret_name_v2(stack, f"L{i}", f"trustgrid/license-{i}") for i in (1, 2)]
    cluster = TrustgridHaCluster(
        stack,
        "Gw",
        cluster_name="prod-gw",
        api_secret=secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api"),
        edge_cidrs=["172.16.0.0/16"],
        vpc=imported_vpc(stack),
        license_secrets=secrets,
        node_removal_policy=RemovalPolicy.DESTROY,
        wait_timeout=Duration.minutes(30),
        monitoring_interval=Duration.minutes(10),
        alarm_topic=sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:111111111111:alarms"),
    )
    assert cluster.config.wait_timeout_seconds == 1800


def test_the_region_list_is_botocores_for_ec2_in_every_partition() -> None:
    import botocore.session

    from trustgrid_ha.regions import REGIONS

    session = botocore.session.get_session()
    known = {r for p in session.get_available_partitions() for r in session.get_available_regions("ec2", p)}
    assert set(REGIONS) == known


def test_a_metal_size_with_a_dash_is_an_instance_type() -> None:
    assert build(instance_type="c7i.metal-24xl").generation.value == "gen3"


def test_two_license_secrets_must_be_two() -> None:
    stack = Stack(App(), "S")
    license_secret = secretsmanager.Secret.from_secret_name_v2(stack, "L", "license")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           license_secrets=[license_secret, license_secret])  # fmt: skip
    assert failure.value.setting == "license_secrets" and "object at 0x" not in str(failure.value)
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw2", cluster_name="prod-gw2", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           license_secrets=[license_secret])  # fmt: skip
    assert "object at 0x" not in str(failure.value) and "license_secrets=[" in str(failure.value)


@pytest.mark.parametrize(
    "keyword",
    ["lan_source_cidrs", "edge_source_cidrs", "route_table_ids", "extra_route_table_ids", "control_plane_cidrs",
     "dns_server_cidrs", "gateway_clients"],
)  # fmt: skip
def test_a_deploy_time_list_is_refused_where_each_item_makes_a_rule(keyword: str) -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    listed = CfnParameter(stack, "List", type="CommaDelimitedList").value_as_list
    extra: dict[str, Any] = {"gateway_type": GatewayType.PRIVATE} if keyword == "gateway_clients" else {}
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           **{keyword: listed}, **extra)  # fmt: skip
    assert failure.value.setting == keyword and "give the list itself" in str(failure.value)
    assert "Token[" not in str(failure.value)


def test_a_deploy_time_edge_list_works_but_cannot_open_security_groups_one_rule_each() -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    listed = CfnParameter(stack, "List", type="CommaDelimitedList").value_as_list
    cluster = TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=listed)
    tier = ec2.SecurityGroup(stack, "Tier", vpc=cluster.vpc)
    with pytest.raises(TrustgridConfigError) as failure:
        cluster.allow_edge_traffic_from(tier)
    assert failure.value.setting == "edge_cidrs" and "allow_edge_traffic_from" in str(failure.value)


def test_a_stack_with_an_account_and_region_synthesizes_before_its_zones_are_looked_up() -> None:
    """CDK gives a new VPC placeholder zones (dummy1a, ...) until the CLI has looked the region's zones up."""
    app = App()
    stack = Stack(app, "S", env=Environment(account="123456789012", region="us-east-1"))
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"])
    Template.from_stack(stack).resource_count_is("AWS::EC2::Instance", 2)


@pytest.mark.parametrize(
    ("first", "second", "setting"),
    [
        ({"cluster_name": "a-a"}, {"cluster_name": "a"}, "cluster_name"),  # a's default node a-a
        ({"cluster_name": "a"}, {"cluster_name": "b", "gateway_names": ["a", "b-x"]}, "gateway_names[0]"),
        ({"cluster_name": "a", "succeeds": "b"}, {"cluster_name": "b", "succeeds": "a"}, "succeeds"),
    ],
)
def test_clusters_of_one_stack_keep_their_names_and_succession_apart(
    first: dict[str, Any], second: dict[str, Any], setting: str
) -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    TrustgridHaCluster(stack, "First", api_secret=api, edge_cidrs=["172.16.0.0/16"], **first)
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Second", api_secret=api, edge_cidrs=["172.17.0.0/16"], **second)
    assert failure.value.setting == setting


def test_a_virtual_network_with_a_deploy_time_name_still_has_its_other_fields_checked() -> None:
    from trustgrid_ha import VirtualNetwork

    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    network = VirtualNetwork(name=CfnParameter(stack, "Network").value_as_string, route="not-a-cidr")
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           virtual_network=network)  # fmt: skip
    assert failure.value.setting == "virtual_network.route"


def test_a_zone_of_another_region_is_named_by_its_place_in_the_vpc() -> None:
    app = App()
    stack = Stack(app, "S", env=Environment(account="123456789012", region="us-east-1"))
    with pytest.raises(TrustgridConfigError) as failure:
        api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           vpc=imported_vpc(stack, azs=("us-east-1a", "eu-west-1b")))  # fmt: skip
    assert failure.value.setting == "vpc.availability_zones[1]"


@pytest.mark.parametrize("keyword", ["member_swap", "cut_over", "superseded", "monitoring", "termination_protection"])
def test_a_switch_that_shapes_the_template_cannot_be_a_deploy_time_value(keyword: str) -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    switch = CfnParameter(stack, "Switch", default="false").value_as_string
    extra = {"succeeds": "old-gw"} if keyword == "cut_over" else {}
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           **{keyword: switch}, **extra)  # fmt: skip
    assert failure.value.setting == keyword and "at synth time" in str(failure.value)


@pytest.mark.parametrize("keyword", ["machine_image_id", "image_refresh_token", "root_volume_size_gib"])
def test_a_member_swap_needs_the_values_that_make_a_new_node_at_synth_time(keyword: str) -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    parameter = CfnParameter(stack, "Value", type="Number" if keyword == "root_volume_size_gib" else "String")
    value = parameter.value_as_number if keyword == "root_volume_size_gib" else parameter.value_as_string
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           member_swap=True, **{keyword: value})  # fmt: skip
    assert failure.value.setting == keyword and "member_swap" in str(failure.value)


def test_succession_in_a_loop_of_three_and_two_cut_overs_in_a_row_are_refused() -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    TrustgridHaCluster(stack, "A", cluster_name="a", api_secret=api, edge_cidrs=["172.16.0.0/16"], succeeds="c")
    TrustgridHaCluster(stack, "B", cluster_name="b", api_secret=api, edge_cidrs=["172.16.0.0/16"], succeeds="a")
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "C", cluster_name="c", api_secret=api, edge_cidrs=["172.16.0.0/16"], succeeds="b")
    assert failure.value.setting == "succeeds" and "in a loop" in str(failure.value)
    chain = Stack(App(), "T")
    api = secretsmanager.Secret.from_secret_name_v2(chain, "Api", "trustgrid/api")
    TrustgridHaCluster(chain, "X", cluster_name="x", api_secret=api, edge_cidrs=["172.16.0.0/16"])
    TrustgridHaCluster(chain, "Y", cluster_name="y", api_secret=api, edge_cidrs=["172.16.0.0/16"], succeeds="x",
                       cut_over=True)  # fmt: skip
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(chain, "Z", cluster_name="z", api_secret=api, edge_cidrs=["172.16.0.0/16"], succeeds="y",
                           cut_over=True)  # fmt: skip
    assert "one cut-over at a time" in str(failure.value)


def test_an_alarm_topic_of_another_region_and_a_vpc_that_lists_a_subnet_twice_are_refused() -> None:
    from aws_cdk import aws_sns as sns

    stack = Stack(App(), "S", env=Environment(account="123456789012", region="us-east-1"))
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    topic = sns.Topic.from_topic_arn(stack, "Pager", "arn:aws:sns:eu-west-1:123456789012:pager")
    with pytest.raises(TrustgridConfigError) as failure:
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           alarm_topic=topic)  # fmt: skip
    assert failure.value.setting == "alarm_topic" and "own region" in str(failure.value)
    other = Stack(App(), "T")
    api = secretsmanager.Secret.from_secret_name_v2(other, "Api", "trustgrid/api")
    vpc = ec2.Vpc.from_vpc_attributes(
        other, "Imported", vpc_id="vpc-0123456789abcdef0", vpc_cidr_block="10.9.0.0/16",
        availability_zones=["us-east-1a", "us-east-1b"], public_subnet_ids=["subnet-0pub0", "subnet-0pub0"],
        private_subnet_ids=["subnet-0prv0", "subnet-0prv1"],
        private_subnet_route_table_ids=["rtb-0023456789abcdef0", "rtb-0123456789abcdef0"],
    )  # fmt: skip
    with pytest.raises(TrustgridConfigError, match="lists this subnet twice"):
        TrustgridHaCluster(other, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"], vpc=vpc)


def test_a_vpc_with_zones_of_two_regions_is_refused_without_a_region_too() -> None:
    stack = Stack(App(), "S")
    api = secretsmanager.Secret.from_secret_name_v2(stack, "Api", "trustgrid/api")
    with pytest.raises(TrustgridConfigError, match="one region"):
        TrustgridHaCluster(stack, "Gw", cluster_name="prod-gw", api_secret=api, edge_cidrs=["172.16.0.0/16"],
                           vpc=imported_vpc(stack, azs=("us-east-1a", "us-west-2a")))  # fmt: skip
