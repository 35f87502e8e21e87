"""The CDK pipeline in CodePipeline: source, `make synth`, then one stage per environment."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, ArnFormat, CfnResource, DefaultStackSynthesizer, Environment, Stack, Stage, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from trustgrid_ha import TrustgridHaCluster, acknowledge

from .gateway_cluster_stack import build_stacks
from .pipeline_settings import EnvironmentSettings, PipelineSettings
from .settings import SECRET_ARN, SIX_AFTER_A_HYPHEN

ROOT = Path(__file__).resolve().parents[1]
#: Where `make synth` writes the pipeline app's cloud assembly (the synth step's primary output).
PIPELINE_OUTPUT = "cdk.out.pipeline"
HEALTH_CHECK_ATTEMPTS = 10
HEALTH_CHECK_INTERVAL_SECONDS = 30


def pinned(package: str = "aws-cdk") -> str:
    """The version package.json pins for an npm tool (the CDK CLI, cdk-assets): the pipeline uses the same."""
    return str(json.loads((ROOT / "package.json").read_text())["devDependencies"][package])


def pinned_cli_version() -> str:
    return pinned("aws-cdk")


#: What every CodeBuild step runs on: a pinned image and pinned runtime versions.
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
#: Node.js 22: a maintained LTS that jsii supports (20 reached its end of life; standard:7.0 offers 22).
RUNTIME_VERSIONS = {"python": "3.11", "nodejs": "22"}


class GatewayClusterStage(Stage):
    """One environment: the gateway-cluster stack in that environment's account and region."""

    def __init__(self, scope: Construct, construct_id: str, *, environment: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id, env=Environment(account=environment.account, region=environment.region))
        self.stacks = build_stacks(
            self, environment.stack, description=f"Trustgrid HA gateway cluster ({environment.name})"
        )
        self.stack = self.stacks[0]

    @property
    def clusters(self) -> list[TrustgridHaCluster]:
        return [cluster for stack in self.stacks for cluster in stack.clusters]


class PipelineStack(Stack):
    """A self-mutating CDK pipeline that deploys the gateway-cluster stack to every configured environment.

    Production environments wait for a manual approval; every stage ends with a health check that asks
    the Trustgrid API whether each of its clusters is healthy.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: PipelineSettings, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, env=Environment(account=settings.account, region=settings.region), **kwargs
        )
        if settings.is_example:
            Annotations.of(self).add_warning_v2(
                "trustgrid:example-pipeline",
                "EXAMPLE pipeline settings: no 'trustgrid.pipeline' context was given, so this pipeline uses an "
                "example connection, repository and accounts. Set 'trustgrid.pipeline' before deploying it.",
            )
        self.source = pipelines.CodePipelineSource.connection(
            settings.repository, settings.branch, connection_arn=settings.connection_arn
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=pipelines.ShellStep(
                "Synth",
                input=self.source,
                # the same commands as on a developer's machine: the pinned CDK CLI comes from npm ci
                commands=["make synth-pipeline"],
                primary_output_directory=PIPELINE_OUTPUT,
            ),
            pipeline_type=codepipeline.PipelineType.V2,
            self_mutation=True,
            cli_version=pinned_cli_version(),
            cdk_assets_cli_version=pinned("cdk-assets"),
            cross_account_keys=True,
            enable_key_rotation=True,
            docker_enabled_for_synth=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}}
                ),
            ),
        )
        self.connection_arns = connection_arns(settings.connection_arn)
        self.stages: dict[str, GatewayClusterStage] = {}
        for environment in settings.environments:
            stage = GatewayClusterStage(self, environment.name, environment=environment)
            self.stages[environment.name] = stage
            pre = (
                [
                    pipelines.ManualApprovalStep(
                        "Approve", comment=f"Deploy the Trustgrid gateways to {environment.name}?"
                    )
                ]
                if environment.production
                else []
            )
            self.pipeline.add_stage(stage, pre=pre, post=[self._health_check(environment, stage, settings)])
        self.pipeline.build_pipeline()
        self._grant_connection()
        self._acknowledge_pipeline_findings()
        # cfn-lint E3703 checks a deploy action's RoleArn as an IAM role ARN and cannot read the Fn::Join that
        # CDK Pipelines writes for the target account's bootstrap role (a false positive on generated code).
        # Ignored on this one resource only, so every other pipeline-action check still runs.
        pipeline_resource = self.pipeline.pipeline.node.default_child
        assert isinstance(pipeline_resource, CfnResource)
        pipeline_resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3703"]}})

    def _grant_connection(self) -> None:
        """The pinned aws-cdk-lib grants ``codestar-connections:UseConnection``; AWS renamed the service to
        ``codeconnections`` and new connections have ``arn:aws:codeconnections:`` ARNs. The source action's role
        may use the connection under both names."""
        roles = [
            r for r in self.pipeline.pipeline.node.find_all() if isinstance(r, iam.Role) and "/Source/" in r.node.path
        ]
        for role in roles:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="UseConnection",
                    actions=["codestar-connections:UseConnection", "codeconnections:UseConnection"],
                    resources=self.connection_arns,
                )
            )

    def _health_check(
        self, environment: EnvironmentSettings, stage: GatewayClusterStage, settings: PipelineSettings
    ) -> pipelines.CodeBuildStep:
        outputs = {f"CLUSTER_FQDN_{i}": c.fqdn_output for i, c in enumerate(stage.clusters)}
        clusters = " ".join(f'"${name}"' for name in outputs)
        secret = environment.health_check_secret_name or settings.api_secret_name
        # the target account's CDK lookup role (read only, trusted by the pipeline account through `cdk bootstrap
        # --trust`): the step reads the managed route tables with it
        lookup_role = (
            DefaultStackSynthesizer.DEFAULT_LOOKUP_ROLE_ARN.replace("${AWS::Partition}", self.partition)
            .replace("${AWS::AccountId}", environment.account)
            .replace("${AWS::Region}", environment.region)
            .replace("${Qualifier}", DefaultStackSynthesizer.DEFAULT_QUALIFIER)
        )
        return pipelines.CodeBuildStep(
            "TrustgridHealthCheck",
            input=self.source,
            env_from_cfn_outputs=outputs,
            commands=[
                "python3 -m pip install --quiet -r requirements-runtime.txt",
                "python3 -m pip install --quiet --no-deps .",
                "python3 -m trustgrid_ha_tools.healthcheck "
                f"--secret-id {shlex.quote(secret)} "
                f"--api-url {shlex.quote(environment.stack.api_url)} "
                f"--role-arn {shlex.quote(lookup_role)} --region {shlex.quote(environment.region)} "
                f"--attempts {HEALTH_CHECK_ATTEMPTS} --interval {HEALTH_CHECK_INTERVAL_SECONDS} {clusters}",
            ],
            role_policy_statements=[
                iam.PolicyStatement(
                    sid="ReadTrustgridApiSecret",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[self._secret_arn(secret)],  # this environment's key alone
                ),
                iam.PolicyStatement(
                    sid="ReadRouteTablesInTheTargetAccount",
                    actions=["sts:AssumeRole"],
                    resources=[lookup_role],
                ),
            ],
        )

    def _secret_arn(self, name_or_arn: str) -> str:
        """The secret as IAM names it: a complete ARN as it is; a partial ARN or a name with any random suffix."""
        arn = SECRET_ARN.match(name_or_arn)
        if arn is not None:
            return name_or_arn if SIX_AFTER_A_HYPHEN.search(arn["name"]) else f"{name_or_arn}-??????"
        return self.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{name_or_arn}-??????",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _acknowledge_pipeline_findings(self) -> None:
        """cdk-nag findings on what CDK Pipelines generates (not on our own statements), each with a reason."""
        for policy in self.pipeline.node.find_all():
            if isinstance(policy, iam.CfnPolicy):
                acknowledge(
                    policy,
                    "CDK Pipelines' generated policy: its wildcards cover this pipeline's own artifact bucket "
                    "objects and KMS key use, its CodeBuild projects' log streams and report groups, and the "
                    "CDK bootstrap roles it assumes in the target accounts.",
                    *wildcard_findings(self, policy),
                )
        # the artifact bucket, and the replication buckets of the cross-region support stacks CDK adds to the app
        for bucket in self.node.root.node.find_all():
            if isinstance(bucket, s3.CfnBucket) and any(
                name in bucket.node.path for name in ("ArtifactsBucket", "CrossRegionCodePipelineReplicationBucket")
            ):
                acknowledge(
                    bucket,
                    "Pipeline artifact buckets hold short-lived build artifacts, encrypted with the pipeline's "
                    "KMS key; access is audited through CloudTrail rather than server access logs.",
                    "AwsSolutions-S1",
                )


def _render(value: Any) -> str:
    """A resolved policy value as cdk-nag writes it in a finding ID (``<Logical.Attr>``, ``<Ref>``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_render(part) for part in parts)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"<{logical_id}.{attribute}>"
        if "Ref" in value:
            return f"<{value['Ref']}>"
    return json.dumps(value)


def wildcard_findings(stack: Stack, policy: iam.CfnPolicy) -> list[str]:
    """The ``AwsSolutions-IAM5[...]`` finding IDs a generated policy's wildcard actions and resources raise."""
    document = stack.resolve(policy.policy_document)
    findings: list[str] = []
    for statement in document.get("Statement", []):
        for key, kind in (("Action", "Action"), ("Resource", "Resource")):
            values = statement.get(key, [])
            for value in values if isinstance(values, list) else [values]:
                text = _render(value)
                finding = f"AwsSolutions-IAM5[{kind}::{text}]"
                if "*" in text and finding not in findings:
                    findings.append(finding)
    return findings


def connection_arns(arn: str) -> list[str]:
    """The connection's ARN under both service names (``codestar-connections`` and ``codeconnections``)."""
    tail = arn.split(":", 3)[3]
    partition = arn.split(":")[1]
    return [f"arn:{partition}:{service}:{tail}" for service in ("codestar-connections", "codeconnections")]
