"""Structured logging: one JSON object a line, never a secret.

Every line carries ``event`` (what the handler is doing) plus the fields the
call site passes. Values that look like credentials are never passed here: the
API client logs the method, the path without its query string and the status.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


class JsonLogger:
    """Writes one JSON object a line to a stream (stdout in Lambda, which CloudWatch captures)."""

    def __init__(self, stream: TextIO | None = None, **context: Any) -> None:
        self._stream = stream
        self._context = context

    def bind(self, **context: Any) -> JsonLogger:
        """A logger that adds ``context`` to every line."""
        return JsonLogger(self._stream, **{**self._context, **context})

    def _write(self, level: str, event: str, fields: dict[str, Any]) -> None:
        record = {"ts": round(time.time(), 3), "level": level, "event": event, **self._context, **fields}
        stream = self._stream or sys.stdout
        stream.write(json.dumps(record, default=str, sort_keys=False) + "\n")
        stream.flush()

    def info(self, event: str, **fields: Any) -> None:
        self._write("INFO", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._write("WARNING", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._write("ERROR", event, fields)
