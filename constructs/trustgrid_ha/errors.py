"""Synth-time errors: every problem names the setting, the value and the fix.

The rules themselves live in :mod:`trustgrid_ha_runtime.contract`, shared with the
custom-resource handler, which applies them again at deploy time to values that
were tokens at synth time; :mod:`trustgrid_ha.config` applies them at synth time.
"""

from __future__ import annotations

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
        return f"{self.setting}={self.value!r}: {self.fix}"


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


def is_unresolved(value: object) -> bool:
    """Whether ``value`` is (or holds) a token that CloudFormation resolves at deploy time."""
    if isinstance(value, tuple):
        value = list(value)
    return Token.is_unresolved(value) if isinstance(value, (str, int, float, list, dict)) else False
