"""Log lines as text (the default) or JSON (``FORUMQ_LOG_FORMAT=json``): one object per
line with the time, level, logger and message, plus the record's context: the request id
in the API (``X-Request-ID``), the job id, kind, error and actor in workers."""

import logging
from contextvars import ContextVar
from typing import Any

# The request being served; set by the API's RequestIds middleware.
REQUEST_ID: ContextVar[str | None] = ContextVar("forumq_request_id", default=None)
FIELDS = "{asctime}{levelname}{name}{message}"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


class RequestId(logging.Filter):
    """Stamps each record with the id of the request being served (None elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(FIELDS, style="{", rename_fields=RENAMED)


def use_format(log_format: str, handlers: list[logging.Handler] | None = None) -> None:
    """JSON on ``handlers`` (the root logger's by default) when ``log_format`` is json."""
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        handler.addFilter(RequestId())
        if log_format == "json":
            handler.setFormatter(json_formatter())


def uvicorn_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's logging configuration for ``log_format``; None keeps uvicorn's own. The
    root logger (forumq's own lines) writes through the same handler."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestId}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {
            "default": {**handler, "stream": "ext://sys.stderr"},
            "access": {**handler, "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }
