"""Synth-time errors: every problem names the setting, the value and the fix.

The rules themselves live in :mod:`trustgrid_ha_runtime.contract`, shared with the
custom-resource handler, which applies them again at deploy time to values that
were tokens at synth time; :mod:`trustgrid_ha.config` applies them at synth time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aws_cdk import Token


@dataclass(frozen=True)
class Problem:
    """One invalid setting: its name as the user spelled it, the value given, and how to fix it."""

    setting: str
    value: object
    fix: str

    def __str__(self) -> str:
        return f"{self.setting}={shown(self.value)}: {self.fix}"


def shown(value: object) -> str:
    """A value as a message shows it: a deploy-time value (a token) as what it is, never as CDK's token text."""
    if is_unresolved(value) or (isinstance(value, str) and _TOKEN_MARKER in value):
        return "(a deploy-time value)"
    if isinstance(value, (list, tuple)) and any(isinstance(v, str) and _TOKEN_MARKER in v for v in value):
        return "[" + ", ".join(shown(v) if isinstance(v, str) and _TOKEN_MARKER in v else repr(v) for v in value) + "]"
    return repr(value)


class TrustgridConfigError(ValueError):
    """One or more settings are invalid. Raised at synth time; ``problems`` lists every one."""

    def __init__(self, setting: str, value: object, fix: str, *, more: Sequence[Problem] = ()) -> None:
        self.problems = [Problem(setting, value, fix), *more]
        self.setting, self.value, self.fix = setting, value, fix
        if more:
            text = f"{len(self.problems)} invalid settings:\n" + "\n".join(f"  - {p}" for p in self.problems)
        else:
            text = f"Invalid setting {self.problems[0]}"
        super().__init__(text)

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> TrustgridConfigError:
        first, *more = problems
        return cls(first.setting, first.value, first.fix, more=more)

    def renamed(self, rename: Callable[[str], str]) -> TrustgridConfigError:
        """The same problems under other names (an app's spelling of the settings)."""
        return TrustgridConfigError.of([Problem(rename(p.setting), p.value, p.fix) for p in self.problems])


#: CDK encodes a string token as ``${Token[…]}`` and a list token as a one-item list of ``#{Token[…]}``.
_TOKEN_MARKER = "{Token["
#: A number token is a double far outside the range of exact integers (about -1.9e289).
_PLAIN_NUMBERS = 2.0**53


def is_unresolved(value: object) -> bool:
    """Whether ``value`` is (or holds) a token that CloudFormation resolves at deploy time.

    A plain value that cannot hold one of CDK's encoded tokens is answered here; only a candidate is
    asked of CDK (``Token.is_unresolved``), which keeps the construct's many checks off the jsii bridge.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):  # infinity and NaN are no token, and JSON (jsii's wire) cannot carry them
        return math.isfinite(value) and abs(value) >= _PLAIN_NUMBERS and Token.is_unresolved(value)
    if isinstance(value, str):
        return _TOKEN_MARKER in value and Token.is_unresolved(value)
    if isinstance(value, (list, tuple)):
        candidate = len(value) == 1 and isinstance(value[0], str) and _TOKEN_MARKER in value[0]
        return candidate and Token.is_unresolved(list(value))
    return False
