"""Synth-time validation helpers: every message names the setting, the value and the fix."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from aws_cdk import Token

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
ROUTE_TABLE_PATTERN = re.compile(r"^rtb-[0-9a-f]{8}([0-9a-f]{9})?$")


class TrustgridConfigError(ValueError):
    """A construct setting is invalid. Raised at synth time."""

    def __init__(self, setting: str, value: object, fix: str) -> None:
        self.setting = setting
        self.value = value
        self.fix = fix
        super().__init__(f"Invalid setting {setting}={value!r}: {fix}")


def is_unresolved(value: object) -> bool:
    return isinstance(value, str) and Token.is_unresolved(value)


def check_name(setting: str, value: str) -> str:
    if not is_unresolved(value) and not NAME_PATTERN.match(value):
        raise TrustgridConfigError(
            setting,
            value,
            "use 1 to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit "
            "(for example 'prod-gw-cluster').",
        )
    return value


def check_cidr(setting: str, value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network of ``value``, or None for an unresolved token."""
    if is_unresolved(value):
        return None
    try:
        if "/" not in value:
            raise ValueError(value)
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise TrustgridConfigError(
            setting, value, "give a network in CIDR notation with no host bits set, for example '172.16.0.0/16'."
        ) from None


def check_cidrs(setting: str, values: Sequence[str], *, allow_empty: bool = False) -> list[str]:
    if isinstance(values, str):
        raise TrustgridConfigError(setting, values, "give a list of CIDRs, for example ['172.16.0.0/16'].")
    if not values and not allow_empty:
        raise TrustgridConfigError(setting, list(values), "give at least one CIDR, for example ['172.16.0.0/16'].")
    for index, value in enumerate(values):
        check_cidr(f"{setting}[{index}]", value)
    return list(values)


def check_port(setting: str, value: int, *, reserved: dict[int, str]) -> int:
    if Token.is_unresolved(value):
        return value
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise TrustgridConfigError(setting, value, "give a TCP port from 1 to 65535 (the default is 9000).")
    if value in reserved:
        raise TrustgridConfigError(setting, value, f"port {value} is the {reserved[value]}; choose another port.")
    return value


def check_route_table_id(setting: str, value: str) -> str:
    if not is_unresolved(value) and not ROUTE_TABLE_PATTERN.match(value):
        raise TrustgridConfigError(setting, value, "give a route table ID such as 'rtb-0123456789abcdef0'.")
    return value
