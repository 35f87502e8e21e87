"""The custom-resource provider: one per stack, shared by every cluster in it."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    Aws,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from trustgrid_ha_runtime.contract import API_SECRET_ENV, API_URL_ENV, METRICS_NAMESPACE

from .errors import TrustgridConfigError
from .nag import acknowledge

RUNTIME_PACKAGE = "trustgrid_ha_runtime"
PROVIDER_ID = "TrustgridProvider"

#: How long the provider waits for a cluster before CloudFormation hears a failure.
PROVIDER_TOTAL_TIMEOUT = Duration.minutes(55)
#: The custom resources' own timeout: longer than the provider's, within CloudFormation's one hour.
SERVICE_TIMEOUT = Duration.minutes(58)


def runtime_package_dir() -> Path:
    """Where the installed runtime package lives (in a wheel install: site-packages)."""
    spec = importlib.util.find_spec(RUNTIME_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"The Lambda handler package {RUNTIME_PACKAGE!r} is not installed. "
            "Install the trustgrid-ha-cluster distribution, which ships it."
        )
    return Path(next(iter(spec.submodule_search_locations)))


@jsii.implements(ILocalBundling)
class _CopyPackage:
    """Local bundling: the asset is the runtime package copied as it is (no Docker, no downloads)."""

    def __init__(self, source: Path) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        shutil.copytree(
            self._source,
            Path(output_dir) / RUNTIME_PACKAGE,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )
        return True


def handler_code() -> lambda_.Code:
    source = runtime_package_dir()
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.SOURCE,
        exclude=["__pycache__", "*.pyc"],
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds. CDK requires an image to be named.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=_CopyPackage(source),
        ),
    )


def grant_secret(secret: secretsmanager.ISecret, grantee: iam.IGrantable, *actions: str) -> None:
    """Exactly ``actions`` on ``secret`` (``grant_read``/``grant_write`` add actions the code never calls), and
    decrypting with the secret's own key if it has one. A secret imported by name or partial ARN is matched with
    Secrets Manager's random suffix, as CDK's own grants do."""
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(actions),
        resource_arns=[secret.secret_full_arn or f"{secret.secret_arn}-??????"],
    )
    if secret.encryption_key is not None:
        secret.encryption_key.grant_decrypt(grantee)


def grant_get_secret_value(secret: secretsmanager.ISecret, grantee: iam.IGrantable) -> None:
    grant_secret(secret, grantee, "secretsmanager:GetSecretValue")


class TrustgridProvider(Construct):
    """The Lambda functions and Provider framework behind the cluster, license and image resources.

    Use :meth:`of` rather than the constructor: it returns the stack's one
    provider, creating it on first use.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, api_secret: secretsmanager.ISecret, api_url: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.api_secret = api_secret
        self.api_url = api_url
        self.role = iam.Role(
            self,
            "HandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Trustgrid HA cluster custom resources: Trustgrid API calls and read-only EC2 checks",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadOnlyEc2",
                actions=[
                    "ec2:DescribeImages",  # the vendor image
                    "ec2:DescribeRouteTables",  # route verification and conflicts
                    "ec2:DescribeSubnets",  # the LAN subnets' routers
                    "ec2:DescribeNetworkInterfaces",  # which instances a cluster delete would strand
                    "ec2:DescribeInstanceAttribute",  # whether they are still protected
                    "ec2:DescribeInstanceStatus",  # the gate: EC2's view of a restarted gateway
                    "ec2:DescribeInstances",  # in a rollback: whether it restarts a gateway again
                ],
                resources=["*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="OwnStackStatus",  # a license deleted by a rollback also removes its unused node record
                actions=["cloudformation:DescribeStacks"],
                resources=[Aws.STACK_ID],
            )
        )
        grant_get_secret_value(api_secret, self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FirstDataPoints",  # a verified cluster publishes its first health data points itself
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )
        # The logs are kept when the stack goes (a rollback of a failed first create included): they explain it.
        log_group = logs.LogGroup(
            self, "HandlerLogs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.RETAIN
        )
        log_group.grant_write(self.role)
        code = handler_code()
        environment = {API_URL_ENV: api_url, API_SECRET_ENV: api_secret.secret_arn}
        common: dict[str, Any] = {
            "runtime": lambda_.Runtime.PYTHON_3_14,
            "code": code,
            "role": self.role,
            "timeout": Duration.minutes(3),
            "memory_size": 256,
            "environment": environment,
            "log_group": log_group,
            "logging_format": lambda_.LoggingFormat.TEXT,
        }
        self.on_event_function = lambda_.Function(
            self,
            "OnEvent",
            handler=f"{RUNTIME_PACKAGE}.handler.on_event",
            description="Trustgrid HA cluster: create, update and delete requests",
            **common,
        )
        self.is_complete_function = lambda_.Function(
            self,
            "IsComplete",
            handler=f"{RUNTIME_PACKAGE}.handler.is_complete",
            description="Trustgrid HA cluster: waits for nodes, converges and verifies the cluster",
            **common,
        )
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.on_event_function,
            is_complete_handler=self.is_complete_function,
            query_interval=Duration.seconds(30),
            total_timeout=PROVIDER_TOTAL_TIMEOUT,
            log_group=logs.LogGroup(
                self, "FrameworkLogs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.RETAIN
            ),
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=logs.LogGroup(
                    self, "WaiterLogs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.RETAIN
                ),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
        )
        self._suppress_framework_findings()

    @property
    def service_token(self) -> str:
        return self.provider.service_token

    @classmethod
    def of(cls, scope: Construct, *, api_secret: secretsmanager.ISecret, api_url: str) -> TrustgridProvider:
        """The stack's provider; every cluster in a stack must use the same API secret and URL."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(PROVIDER_ID)
        if existing is None:
            return cls(stack, PROVIDER_ID, api_secret=api_secret, api_url=api_url)
        assert isinstance(existing, TrustgridProvider)
        if existing.api_secret.secret_arn != api_secret.secret_arn:
            raise TrustgridConfigError(
                "api_secret",
                api_secret.node.path,
                "every cluster in a stack shares one provider and so one Trustgrid API secret; "
                f"this stack already uses {existing.api_secret.node.path}. Pass the same secret or use another stack.",
            )
        if existing.api_url != api_url:
            raise TrustgridConfigError(
                "api_url",
                api_url,
                f"every cluster in a stack shares one provider; this stack already uses {existing.api_url!r}.",
            )
        return existing

    def grant_license_secret(self, secret: secretsmanager.ISecret, *, write: bool) -> None:
        """Let the handler store a minted license in ``secret`` and read it back (a request delivered again adopts
        the license an earlier delivery stored), or read a supplied one."""
        if write:
            grant_secret(secret, self.role, "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue")
        else:
            grant_get_secret_value(secret, self.role)

    def _suppress_framework_findings(self) -> None:
        acknowledge(
            self.role,
            "ec2:DescribeImages/RouteTables/Subnets/NetworkInterfaces/Instances/InstanceAttribute/InstanceStatus "
            "support no "
            "resource-level permissions; cloudwatch:PutMetricData supports none either and is limited to the "
            "Trustgrid/HA namespace by condition.",
            "AwsSolutions-IAM5[Resource::*]",
        )
        stack = Stack.of(self)
        function_arns = [
            f"AwsSolutions-IAM5[Resource::<{stack.resolve(stack.get_logical_id(fn))}.Arn>:*]"
            for fn in self.node.find_all()
            if isinstance(fn, lambda_.CfnFunction)
        ]
        acknowledge(
            self.provider,
            "The Provider framework (aws-cdk-lib) invokes its handler functions and their versions (ARN:*); "
            "its functions use the CDK-managed AWSLambdaBasicExecutionRole.",
            *function_arns,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        )
        acknowledge(
            self.provider,
            "The Provider framework's waiter state machine offers no X-Ray tracing setting.",
            "AwsSolutions-SF2",
        )
        acknowledge(
            self.provider,
            "Step Functions log delivery (logs:CreateLogDelivery and related) supports no resource-level permissions.",
            "AwsSolutions-IAM5[Resource::*]",
        )
