"""Synth-time validation: every message names the setting, the value and the fix.

The rules themselves live in :mod:`trustgrid_ha_runtime.contract`, shared with the
custom-resource handler, which applies them again at deploy time to values that
were tokens at synth time. A token is never refused here for being a token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Token

from trustgrid_ha_runtime import contract


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


def check(setting: str, value: Any, problem: str | None) -> Any:
    """Raise for a literal that breaks a rule of the contract; tokens pass (the handler checks them)."""
    if problem is not None and not is_unresolved(value):
        raise TrustgridConfigError(setting, value, problem)
    return value


def check_name(setting: str, value: str) -> str:
    return check(setting, value, contract.name_problem(value))


def check_cidr(
    setting: str, value: str, *, whole_internet: bool = True
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network of ``value``, or None for an unresolved token."""
    if is_unresolved(value):
        return None
    check(setting, value, contract.cidr_problem(value, whole_internet=whole_internet))
    return ipaddress.ip_network(value, strict=True)


def check_cidrs(
    setting: str, values: Sequence[str], *, allow_empty: bool = False, whole_internet: bool = True
) -> list[str]:
    if is_unresolved(values):
        return values  # type: ignore[return-value]
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TrustgridConfigError(setting, values, "give a list of CIDRs, for example ['172.16.0.0/16'].")
    if not values and not allow_empty:
        raise TrustgridConfigError(setting, list(values), "give at least one CIDR, for example ['172.16.0.0/16'].")
    for index, value in enumerate(values):
        check_cidr(f"{setting}[{index}]", value, whole_internet=whole_internet)
    return list(values)


def check_port(setting: str, value: int, *, reserved: dict[int, str] | None = None) -> int:
    return check(setting, value, contract.port_problem(value, reserved))


def check_route_table_id(setting: str, value: str) -> str:
    return check(setting, value, contract.route_table_problem(value))
