"""Structured logs: one JSON object per line, each carrying the request id of the request it belongs to."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging

# The id of the request this thread (or task) is serving; set by RequestLogMiddleware.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("fangzhou_request_id", default=None)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...}`` with ``extra={"fields": {...}}`` merged in."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            payload["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)
