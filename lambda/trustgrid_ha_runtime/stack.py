"""What CloudFormation is doing with the stack the custom resources belong to (``cloudformation:DescribeStacks``
on that stack alone)."""

from __future__ import annotations

from typing import Any

from .log import JsonLogger

#: The stack is undoing a failed deployment: what it deletes now, that deployment made.
ROLLBACK_STATUSES = frozenset(
    {
        "ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "IMPORT_ROLLBACK_IN_PROGRESS",
    }
)


def stack_status(cloudformation: Any, stack_id: str | None, log: JsonLogger) -> str | None:
    """The stack's status, or None when there is no answer (callers take the safe side then)."""
    if not stack_id:
        return None
    try:
        return str(cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])
    except Exception as exc:  # botocore errors: no permission, throttled, gone
        log.warning("stack.status_unknown", error=type(exc).__name__)
        return None


def is_rolling_back(cloudformation: Any, stack_id: str | None, log: JsonLogger) -> bool:
    """Whether the stack is undoing a failed deployment; no answer counts as no (keep records, keep guards)."""
    return stack_status(cloudformation, stack_id, log) in ROLLBACK_STATUSES
