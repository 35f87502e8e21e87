"""Each construct option is declared once: the config's fields are the constructor's keywords, each documented,
and the configuration reference is generated from them."""

from __future__ import annotations

import inspect
from dataclasses import fields
from enum import Enum
from pathlib import Path

from aws_cdk import Duration

from trustgrid_ha import ClusterConfig, TrustgridHaCluster
from trustgrid_ha.reference import configuration_reference, keyword_order, parameter_docs

ROOT = Path(__file__).resolve().parents[2]


def test_the_config_holds_every_keyword_of_the_construct_in_its_order() -> None:
    assert list(keyword_order()) == [f.name for f in fields(ClusterConfig)]


def test_every_keyword_is_documented_and_its_documented_default_is_the_configs() -> None:
    docs = parameter_docs(inspect.getdoc(TrustgridHaCluster.__init__) or "")
    assert set(docs) == {f.name for f in fields(ClusterConfig)}
    for spec in fields(ClusterConfig):
        default = spec.default
        if spec.metadata["required"] or default is None:
            continue
        text = docs[spec.name]
        assert "@default" in text, f"{spec.name}: no @default"
        said = text.split("@default", 1)[1]
        if isinstance(default, Enum):
            expected = [default.name, str(default.value)]
        elif isinstance(default, Duration):
            expected = [default.to_human_string().split(" ")[0]]
        elif isinstance(default, bool):
            expected = [str(default).lower()]
        elif isinstance(default, tuple):
            expected = [default[0]] if default else ["none"]
        else:
            expected = [str(default)]
        assert any(e in said for e in expected), f"{spec.name}: @default says {said!r}, the config {default!r}"


def test_the_configuration_reference_is_generated_from_the_config() -> None:
    """`make docs` writes it; this fails when the file is stale."""
    assert (ROOT / "docs" / "configuration.md").read_text() == configuration_reference()
