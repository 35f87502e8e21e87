"""One Trustgrid gateway appliance: two ENIs, an Elastic IP, its license and the instance."""

from __future__ import annotations

from typing import Any

from aws_cdk import CustomResource, Duration, Fn, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from trustgrid_ha_runtime.contract import LICENSE_TYPE, LicenseProperties, LicenseSource

from .errors import is_unresolved
from .instance_types import is_burstable
from .nag import acknowledge
from .provider import SERVICE_TIMEOUT, TrustgridProvider, grant_get_secret_value
from .user_data import first_boot_script


class TrustgridGateway(Construct):
    """A Trustgrid node on EC2 with a WAN interface (public subnet, Elastic IP) and a LAN interface.

    The interfaces are resources of their own, so their IDs and private IPs
    (which the cluster's heartbeat and route failover use) stay the same for the
    life of the gateway. Created by :class:`TrustgridHaCluster`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        node_name: str,
        instance_type: str,
        image_id: str,
        wan_subnet: ec2.ISubnet,
        lan_subnet: ec2.ISubnet,
        wan_security_groups: list[ec2.ISecurityGroup],
        lan_security_groups: list[ec2.ISecurityGroup],
        route_table_arns: list[str],
        provider: TrustgridProvider,
        license_secret: secretsmanager.ISecret | None,
        node_removal_policy: RemovalPolicy,
        root_volume_size_gib: int,
        enroll_endpoint: str,
        elastic_ip: ec2.CfnEIP | None = None,
        tags: dict[str, str] | None = None,
        swap_cluster: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.node_name = node_name
        self.wan_subnet = wan_subnet
        self.lan_subnet = lan_subnet
        self.instance_type = instance_type
        self.image_id = image_id
        self.root_volume_size_gib = root_volume_size_gib
        self.role, self.instance_profile = self._role(route_table_arns)

        self.wan_interface = ec2.CfnNetworkInterface(
            self,
            "WanInterface",
            subnet_id=wan_subnet.subnet_id,
            group_set=[sg.security_group_id for sg in wan_security_groups],
            source_dest_check=False,
            description=f"Trustgrid {node_name} WAN",
        )
        self.lan_interface = ec2.CfnNetworkInterface(
            self,
            "LanInterface",
            subnet_id=lan_subnet.subnet_id,
            group_set=[sg.security_group_id for sg in lan_security_groups],
            source_dest_check=False,
            description=f"Trustgrid {node_name} LAN",
        )
        # With a position's address (a cluster that swaps members), the position's seat puts it on this gateway.
        self.elastic_ip = elastic_ip or ec2.CfnEIP(self, "WanAddress", domain="vpc")
        self.elastic_ip_association: ec2.CfnEIPAssociation | None = None
        if elastic_ip is None:
            self.elastic_ip_association = ec2.CfnEIPAssociation(
                self,
                "WanAddressAssociation",
                allocation_id=self.elastic_ip.attr_allocation_id,
                network_interface_id=self.wan_interface.ref,
            )

        supplied = license_secret is not None
        self.license_secret: secretsmanager.ISecret = license_secret or secretsmanager.Secret(
            self,
            "LicenseSecret",
            description=f"Trustgrid node license of {node_name}, minted by the cluster's custom resource",
            removal_policy=RemovalPolicy.DESTROY,
        )
        if not supplied:
            acknowledge(
                self.license_secret,
                "A node license is a one-time registration token: there is nothing to rotate.",
                "AwsSolutions-SMG4",
            )
        provider.grant_license_secret(self.license_secret, write=not supplied)
        grant_get_secret_value(self.license_secret, self.role)  # its own license only, read only
        self.license = CustomResource(
            self,
            "License",
            service_token=provider.service_token,
            resource_type=LICENSE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties=LicenseProperties(
                node_name=node_name,
                license_secret_arn=self.license_secret.secret_arn,
                source=LicenseSource.SECRET if supplied else LicenseSource.MINT,
                remove_node_on_delete=node_removal_policy == RemovalPolicy.DESTROY,
                swap_cluster=swap_cluster or "",
            ).to_properties(),
        )
        self.node_uid = self.license.get_att_string("NodeUid")
        self.node_fqdn = self.license.get_att_string("NodeFqdn")

        self.instance = ec2.CfnInstance(
            self,
            "Instance",
            image_id=image_id,
            instance_type=instance_type,
            iam_instance_profile=self.instance_profile.instance_profile_name,
            network_interfaces=[
                ec2.CfnInstance.NetworkInterfaceProperty(device_index="0", network_interface_id=self.wan_interface.ref),
                ec2.CfnInstance.NetworkInterfaceProperty(device_index="1", network_interface_id=self.lan_interface.ref),
            ],
            metadata_options=ec2.CfnInstance.MetadataOptionsProperty(
                http_tokens="required", http_put_response_hop_limit=1, http_endpoint="enabled"
            ),
            block_device_mappings=[
                ec2.CfnInstance.BlockDeviceMappingProperty(
                    device_name="/dev/sda1",
                    ebs=ec2.CfnInstance.EbsProperty(
                        volume_size=root_volume_size_gib, volume_type="gp3", encrypted=True, delete_on_termination=True
                    ),
                )
            ],
            credit_specification=(
                ec2.CfnInstance.CreditSpecificationProperty(cpu_credits="unlimited")
                if is_burstable(instance_type)
                else None
            ),
            # Termination protection is applied by the cluster's Custom::TrustgridProtection once the cluster has
            # verified, so that a failed first create can roll back (see TrustgridHaCluster).
            disable_api_termination=False,
            monitoring=True,
            user_data=self._user_data(enroll_endpoint),
            tags=[{"key": "Name", "value": node_name}, *({"key": k, "value": v} for k, v in (tags or {}).items())],
        )
        # The license must be in its secret before the instance first boots, and, as in the vendor's module,
        # the Elastic IP must be on the WAN interface so that first boot has internet through the WAN.
        self.instance.node.add_dependency(self.license, *filter(None, [self.elastic_ip_association]))
        # Its permissions exist before it runs (a failover right after an update can move routes), and on a delete
        # outlive it, as does the WAN subnet's route to the internet: a gateway that still runs (a protected one
        # whose stack delete was refused) keeps its failover permissions and its way to the control plane.
        self.instance.node.add_dependency(self.role, wan_subnet.internet_connectivity_established)

        if not is_unresolved(image_id):  # machine_image_id: the user's choice, such as Trustgrid support's copy
            acknowledge(
                self.instance,
                "The image is the one machine_image_id names (a copy Trustgrid support made for a region without a "
                "published image, or a pinned one); without it the newest vendor image is resolved per region.",
                "CloudFormation-Validate::W9010",
            )
        acknowledge(
            self.instance,
            "EC2 termination protection is turned on by the cluster's Custom::TrustgridProtection resource once the "
            "cluster has verified (termination_protection, default on), not in the template, so that a failed "
            "first create rolls back completely and a protected stack delete is refused before anything is removed.",
            "AwsSolutions-EC29",
        )
        self.recovery_alarm = self._instance_alarm(
            "SystemStatusRecovery",
            f"Recovers {node_name} when the EC2 system status check fails",
            metric_name="StatusCheckFailed_System",
            period=Duration.minutes(1),
            evaluation_periods=2,
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            missing=cloudwatch.TreatMissingData.MISSING,
        )
        self.recovery_alarm.add_alarm_action(cw_actions.Ec2Action(cw_actions.Ec2InstanceAction.RECOVER))
        self.cpu_credit_alarm: cloudwatch.Alarm | None = None
        if is_burstable(instance_type):
            self.cpu_credit_alarm = self._instance_alarm(
                "CpuSurplusCredits",
                f"{node_name} is spending surplus (charged) CPU credits",
                metric_name="CPUSurplusCreditBalance",
                period=Duration.minutes(5),
                evaluation_periods=3,
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

    def _role(self, route_table_arns: list[str]) -> tuple[iam.Role, iam.InstanceProfile]:
        """This gateway's own role: route failover in exactly the managed route tables, and its own license."""
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Trustgrid {self.node_name}: route failover in the managed route tables",
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="DescribeRouteTables", actions=["ec2:DescribeRouteTables"], resources=["*"])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FailoverRoutes", actions=["ec2:CreateRoute", "ec2:DeleteRoute"], resources=route_table_arns
            )
        )
        acknowledge(
            role, "ec2:DescribeRouteTables supports no resource-level permissions.", "AwsSolutions-IAM5[Resource::*]"
        )
        return role, iam.InstanceProfile(self, "InstanceProfile", role=role)

    # -- metrics ------------------------------------------------------------------------------

    def metric(
        self, metric_name: str, *, statistic: str = "Average", period: Duration | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """An ``AWS/EC2`` metric of this gateway's instance (``props``: the rest of ``cloudwatch.MetricProps``)."""
        return cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name=metric_name,
            dimensions_map={"InstanceId": self.instance.ref},
            statistic=statistic,
            period=period or Duration.minutes(5),
            **props,
        )

    def metric_status_check_failed(self, **props: Any) -> cloudwatch.Metric:
        """1 while the instance or system status check fails. @default - maximum over 1 minute."""
        return self.metric("StatusCheckFailed", **{"statistic": "Maximum", "period": Duration.minutes(1), **props})

    def metric_cpu_utilization(self, **props: Any) -> cloudwatch.Metric:
        """CPU utilization in percent. @default - average over 5 minutes."""
        return self.metric("CPUUtilization", **props)

    def metric_cpu_credit_balance(self, **props: Any) -> cloudwatch.Metric:
        """Earned CPU credits left (burstable types). @default - minimum over 5 minutes."""
        return self.metric("CPUCreditBalance", **{"statistic": "Minimum", **props})

    def metric_cpu_surplus_credit_balance(self, **props: Any) -> cloudwatch.Metric:
        """Surplus (charged) CPU credits spent (burstable types in unlimited mode). @default - maximum."""
        return self.metric("CPUSurplusCreditBalance", **{"statistic": "Maximum", **props})

    def metric_network_in(self, **props: Any) -> cloudwatch.Metric:
        """Bytes received on all interfaces. @default - sum over 5 minutes."""
        return self.metric("NetworkIn", **{"statistic": "Sum", **props})

    def metric_network_out(self, **props: Any) -> cloudwatch.Metric:
        """Bytes sent on all interfaces. @default - sum over 5 minutes."""
        return self.metric("NetworkOut", **{"statistic": "Sum", **props})

    def _instance_alarm(
        self,
        construct_id: str,
        description: str,
        *,
        metric_name: str,
        period: Duration,
        evaluation_periods: int,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        missing: cloudwatch.TreatMissingData,
    ) -> cloudwatch.Alarm:
        """An alarm on the maximum of one AWS/EC2 metric of this gateway's instance."""
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=self.metric(metric_name, statistic="Maximum", period=period),
            evaluation_periods=evaluation_periods,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )

    def _user_data(self, enroll_endpoint: str) -> str:
        script = first_boot_script(license_secret_arn=self.license_secret.secret_arn, enroll_endpoint=enroll_endpoint)
        return Fn.base64(script)

    @property
    def instance_id(self) -> str:
        return self.instance.ref

    @property
    def wan_public_ip(self) -> str:
        return self.elastic_ip.attr_public_ip

    @property
    def lan_eni_id(self) -> str:
        return self.lan_interface.ref

    @property
    def lan_private_ip(self) -> str:
        return self.lan_interface.attr_primary_private_ip_address

    @property
    def wan_private_ip(self) -> str:
        return self.wan_interface.attr_primary_private_ip_address
