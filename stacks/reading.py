"""How the app reads its JSON settings, in one idiom for every section.

A section is a frozen dataclass; each field read from JSON is declared with :func:`key` (its JSON key, the check
its value passes and its default), and :func:`read_keys` reads them all, adding a problem, under the user's own
spelling (``trustgrid.pipeline.account``), for each value that fails. Sections that hold other sections (the
clusters of a stack, the environments of a pipeline) read those with the sections' own ``parse``. Every problem
is collected in :class:`Problems` and raised at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from trustgrid_ha import Problem, TrustgridConfigError

CONTEXT_KEY = "trustgrid"
REQUIRED: Any = MISSING


class Problems:
    """Collects problems; raises them all at once."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, where: str, value: object, fix: str) -> None:
        self.found.append(Problem(where, value, fix))

    def extend(self, error: TrustgridConfigError) -> None:
        self.found += error.problems

    def raise_any(self) -> None:
        if self.found:
            raise TrustgridConfigError.of(self.found)


@dataclass(frozen=True)
class Check:
    """What a JSON value must be: words for the fix, the test, and what stands in for a value that fails."""

    hint: str
    accepts: Callable[[Any], bool]
    empty: Any = ""


def pattern(regex: re.Pattern[str], hint: str) -> Check:
    return Check(hint, lambda value: isinstance(value, str) and regex.match(value) is not None)


def ids(regex: re.Pattern[str], hint: str) -> Check:
    """A non-empty list of strings that each match ``regex``."""

    def accepts(value: Any) -> bool:
        return isinstance(value, list) and bool(value) and all(isinstance(v, str) and regex.match(v) for v in value)

    return Check(f"a list of {hint}", accepts, ())


FLAG = Check("true or false", lambda value: isinstance(value, bool), False)
ACCOUNT = pattern(re.compile(r"^\d{12}\Z"), "a 12-digit AWS account ID")
TEXT = Check("a string", lambda value: isinstance(value, str) and bool(value))


def key(json_key: str, check: Check, default: Any = REQUIRED) -> Any:
    """A field read from JSON: its key, its check, and its default when the key is left out (or null; none:
    required)."""
    return field(default=default, metadata={"json": json_key, "check": check})


def read_keys(section: type, where: str, entry: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """The :func:`key` fields of ``section`` from ``entry``: each valid value, its default when left out, and for a
    value that fails its check a problem (and the empty value of its kind, so that reading goes on)."""
    values: dict[str, Any] = {}
    for spec in fields(section):
        meta = spec.metadata
        if "json" not in meta:
            continue
        value = entry.get(meta["json"])
        if value is None and spec.default is not REQUIRED:
            values[spec.name] = spec.default
        elif meta["check"].accepts(value):
            values[spec.name] = tuple(value) if isinstance(value, list) else value
        else:
            problems.add(f"{where}.{meta['json']}", value, f"give {meta['check'].hint}.")
            values[spec.name] = meta["check"].empty
    return values


def json_keys(section: type) -> set[str]:
    """The JSON keys a section declares."""
    return {spec.metadata["json"] for spec in fields(section) if "json" in spec.metadata}


def context(raw: Any) -> Any:
    """The ``trustgrid`` context as given: an object from cdk.json, or a JSON string from ``-c``."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TrustgridConfigError(
                CONTEXT_KEY, raw[:60], f"-c trustgrid=... must be a JSON object ({exc.msg} at {exc.pos})."
            ) from None
    return raw


def as_object(problems: Problems, where: str, raw: Any, hint: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.add(where, raw, f"give an object ({hint}).")
        return {}
    return raw


def unknown(problems: Problems, where: str, given: Mapping[str, Any], known: set[str]) -> None:
    for name in sorted(set(given) - known):
        problems.add(f"{where}.{name}", given[name], f"unknown setting; known settings are {', '.join(sorted(known))}.")
