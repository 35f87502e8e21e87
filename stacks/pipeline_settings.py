"""The pipeline's settings: ``trustgrid.pipeline`` in cdk.json, read in the app's one idiom (:mod:`stacks.reading`).

The pipeline (its source, its own account and region) deploys one stage per environment; each environment holds
the settings of a gateway-cluster stack (:class:`stacks.settings.AppSettings`) plus where it goes. Without a
``trustgrid.pipeline`` the example pipeline (``examples/settings/pipeline.json``) is synthesized, marked as such.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustgrid_ha import REGION_CODE, region_problem

from .reading import (
    ACCOUNT,
    CONTEXT_KEY,
    FLAG,
    Problems,
    as_object,
    context,
    json_keys,
    key,
    pattern,
    read_keys,
    unknown,
)
from .settings import (
    APP_KEYS,
    DEFAULT_API_SECRET,
    SECRET,
    SECRET_NAME,
    STACK_KEYS,
    AppSettings,
    availability_zones,
    partition_of,
    secret_problem,
    stack_settings,
    zones_for_a_new_vpc,
)

EXAMPLE_PIPELINE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "examples" / "settings" / "pipeline.json").read_text()
)
CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)
CONNECTION_HINT = "a CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:connection/ID)"
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
#: A branch name `git check-ref-format --branch` accepts, in the usual characters.
BRANCH = re.compile(r"^(?![-/.])(?!.*(\.\.|//|@\{|/\.|\.lock$|[./]$))[\w./@+-]+\Z")
STAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}\Z")

#: Whether the region exists, the construct checks (a region newer than this release works with machineImageId).
REGION = pattern(REGION_CODE, "an AWS region like 'us-east-1'")


@dataclass(frozen=True)
class EnvironmentSettings:
    """One deployment target of the pipeline: a stage with the gateway-cluster stack."""

    stack: AppSettings
    name: str = key("name", pattern(STAGE_NAME, "a stage name: a letter, then letters, digits and -"))
    account: str = key("account", ACCOUNT)
    region: str = key("region", REGION)
    production: bool = key("production", FLAG, False)
    #: The pipeline account's copy of this environment's API key (its health check reads it, and only it); "" for
    #: the pipeline's own.
    health_check_secret_name: str = key("healthCheckSecretName", SECRET_NAME, "")

    @classmethod
    def parse(cls, where: str, raw: Any, problems: Problems) -> EnvironmentSettings | None:
        entry = as_object(problems, where, raw, "with name, account, region and the cluster settings")
        unknown(problems, where, entry, json_keys(cls) | STACK_KEYS | {"availabilityZones"})
        values = read_keys(cls, where, entry, problems)
        zones = availability_zones(problems, where, entry.get("availabilityZones"), values["region"])
        zones_for_a_new_vpc(problems, where, entry)
        stack = stack_settings(problems, where, entry, zones=zones, account=values["account"], region=values["region"])
        return None if stack is None else cls(**{**values, "stack": stack})


@dataclass(frozen=True)
class PipelineSettings:
    """The CDK pipeline: its source, its own account and region, and the environments it deploys."""

    connection_arn: str = key("connectionArn", pattern(CONNECTION_ARN, CONNECTION_HINT))
    repository: str = key("repository", pattern(REPOSITORY, "'owner/repository'"))
    account: str = key("account", ACCOUNT)
    region: str = key("region", REGION)
    branch: str = key("branch", pattern(BRANCH, "a git branch name like 'main'"), "main")
    api_secret_name: str = key("apiSecretName", SECRET_NAME, DEFAULT_API_SECRET)
    environments: tuple[EnvironmentSettings, ...] = ()
    is_example: bool = False

    @classmethod
    def from_context(cls, raw: Any) -> PipelineSettings:
        """``trustgrid.pipeline``; without it, the example pipeline (marked as such: `make synth` still works for a
        configuration of the default app alone)."""
        data = context(raw)
        is_example = not isinstance(data, dict) or "pipeline" not in data
        problems = Problems()
        if isinstance(data, dict):
            unknown(problems, CONTEXT_KEY, data, APP_KEYS)
        where = f"{CONTEXT_KEY}.pipeline"
        given = EXAMPLE_PIPELINE if is_example else data["pipeline"]
        pipeline = as_object(problems, where, given, "see docs/pipeline.md")
        unknown(problems, where, pipeline, json_keys(cls) | {"environments"})
        settings = cls(
            **read_keys(cls, where, pipeline, problems),
            environments=_environments(problems, where, pipeline.get("environments")),
            is_example=is_example,
        )
        _one_name_per_organization(problems, list(settings.environments), settings.api_secret_name)
        _secrets_importable(problems, where, settings)
        _source_in_place(problems, where, settings)
        problems.raise_any()
        return settings


def _secrets_importable(problems: Problems, where: str, settings: PipelineSettings) -> None:
    """The secrets the pipeline grants its health step, as IAM must name them (a name with Secrets Manager's random
    suffix, or a partial ARN that looks complete, would never match the real secret)."""
    named = [(f"{where}.apiSecretName", settings.api_secret_name)] + [
        (f"{where}.environments[{i}].healthCheckSecretName", e.health_check_secret_name)
        for i, e in enumerate(settings.environments)
        if e.health_check_secret_name
    ]
    for setting, value in named:
        problem = secret_problem(value, settings.region or None)  # the health step reads it in the pipeline's region
        if problem is not None and SECRET.match(value):  # a bad pattern is reported already
            problems.add(setting, value, problem)
    for index, environment in enumerate(settings.environments):
        if settings.region and environment.region and partition_of(environment.region) != partition_of(settings.region):
            problems.add(f"{where}.environments[{index}].region", environment.region, f"a pipeline deploys within "
                         f"its partition ({partition_of(settings.region)}, of {settings.region}); give a region of it, "
                         "or a pipeline of that partition.")  # fmt: skip


def _environments(problems: Problems, where: str, raw: Any) -> tuple[EnvironmentSettings, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(f"{where}.environments", raw, "give a list of at least one environment.")
        raw = []
    parsed = [EnvironmentSettings.parse(f"{where}.environments[{i}]", e, problems) for i, e in enumerate(raw)]
    environments = tuple(e for e in parsed if e is not None)
    names = [e.name for e in environments]
    if len(set(names)) != len(names):
        problems.add(f"{where}.environments", names, "give every environment a different name.")
    return environments


def _source_in_place(problems: Problems, where: str, settings: PipelineSettings) -> None:
    """A connection is used by the pipelines of its own account; a repository and a branch go by their names."""
    parts = settings.connection_arn.split(":")
    if len(parts) > 4 and settings.account and parts[4] != settings.account:
        problems.add(
            f"{where}.connectionArn",
            settings.connection_arn,
            f"the connection is in account {parts[4]}, the pipeline in {settings.account}: create the connection in "
            "the pipeline's account (its role must use it).",
        )
    if settings.repository.endswith(".git"):
        problems.add(f"{where}.repository", settings.repository, "give 'owner/repository' without '.git'.")
    if any(part in (".", "..") for part in settings.repository.split("/")):
        problems.add(f"{where}.repository", settings.repository, "give 'owner/repository': '.' and '..' name no "
                     "repository.")  # fmt: skip
    if settings.repository.startswith("-"):
        problems.add(f"{where}.repository", settings.repository, "give 'owner/repository': a name does not start "
                     "with '-'.")  # fmt: skip
    if any(part.endswith(".lock") for part in settings.branch.split("/")):
        problems.add(f"{where}.branch", settings.branch, "git refuses a branch name with a part that ends in "
                     "'.lock'; give another name.")  # fmt: skip
    if settings.branch.startswith("refs/") or settings.branch == "HEAD":
        problems.add(f"{where}.branch", settings.branch, "give the branch's name, such as 'main' (not a ref, not "
                     "HEAD).")  # fmt: skip
    _regions_exist(problems, where, settings, parts)


def _regions_exist(problems: Problems, where: str, settings: PipelineSettings, arn: list[str]) -> None:
    """The pipeline's region, and its connection's, exist in the connection's partition (environments' regions are
    checked by the construct)."""
    problem = region_problem(settings.region) if settings.region else None
    if problem is not None:
        problems.add(f"{where}.region", settings.region, problem)
    if len(arn) > 4 and arn[3]:
        problem = region_problem(arn[3])
        if problem is None and settings.region and arn[1] != partition_of(settings.region):
            problem = f"the ARN's partition {arn[1]} is not that of the pipeline's region {settings.region}."
        if problem is not None:
            problems.add(f"{where}.connectionArn", settings.connection_arn, problem)


def _one_name_per_organization(problems: Problems, environments: list[EnvironmentSettings], api_key: str) -> None:
    """Cluster and node names are unique in a Trustgrid organization. Environments whose health checks use the same
    API key (and API URL) are in the same organization: none of their clusters or gateways may share a name."""
    seen: dict[tuple[str, str, str], str] = {}
    for environment in environments:
        organization = (environment.health_check_secret_name or api_key, environment.stack.api_url)
        for cluster in environment.stack.clusters:
            options = cluster.options
            nodes = options.get("gateway_names") or (f"{cluster.name}-a", f"{cluster.name}-b")
            for kind, name in (("cluster", cluster.name), *(("gateway", str(n)) for n in nodes)):
                first = seen.setdefault((*organization, name), environment.name)
                if first != environment.name:  # one problem per cluster: its name is the fix
                    problems.add(
                        f"{cluster.where}.name",
                        cluster.name,
                        f"the {kind} name {name!r} is also used in the environment {first!r}, which is in the same "
                        f"Trustgrid organization (the same API key, {organization[0]}): names are unique in an "
                        "organization. Give this cluster (or its gatewayNames) another name, or give this environment "
                        "the key of its own organization in healthCheckSecretName.",
                    )
                    break
