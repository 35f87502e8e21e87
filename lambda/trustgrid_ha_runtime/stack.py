"""What CloudFormation is doing with the stack the custom resources belong to (``cloudformation:DescribeStacks``
on that stack alone)."""

from __future__ import annotations

import time
from collections.abc import Callable
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


#: The cleanup after a failed update was rolled back: what is deleted now, the failed update made; what stays is as
#: the rolled-back template says.
ROLLBACK_CLEANUP = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
#: The cleanup after an update succeeded: what is deleted now, the update replaced or removed.
UPDATE_CLEANUP = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"


def stack_status(
    cloudformation: Any,
    stack_id: str | None,
    log: JsonLogger,
    *,
    attempts: int = 1,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """The stack's status, or None when there is no answer after ``attempts`` tries (DescribeStacks is throttled
    under load: callers that decide something on it ask several times, with backoff)."""
    if not stack_id:
        return None
    for attempt in range(1, attempts + 1):
        try:
            return str(cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])
        except Exception as exc:  # botocore errors: throttled, no permission, gone
            log.warning("stack.status_unknown", error=type(exc).__name__, attempt=attempt, attempts=attempts)
            if attempt < attempts:
                sleep(min(2.0**attempt, 20.0))
    return None


def is_rolling_back(cloudformation: Any, stack_id: str | None, log: JsonLogger) -> bool:
    """Whether the stack is undoing a failed deployment; no answer counts as no (keep records, keep guards)."""
    return stack_status(cloudformation, stack_id, log) in ROLLBACK_STATUSES
