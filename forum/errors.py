"""Errors raised by forum rules. The API maps each error class to a status per router."""

from collections.abc import Sequence
from enum import StrEnum
from typing import Any


class ErrorClass(StrEnum):
    """What kind of refusal an error is (the status it answers). A command's type is
    its ``kind``; an error's is its class."""

    BAD_REQUEST = "bad-request"
    NOT_AUTHORISED = "not-authorised"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not-found"
    # Not forum rules: a job that kept killing its worker or raised (500), a database
    # that stayed unreachable (503).
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"


class ForumError(Exception):
    """A forum rule refused the write. ``key`` is NodeBB's error key (``content-too-short``)."""

    def __init__(
        self, key: str, error_class: ErrorClass = ErrorClass.BAD_REQUEST, *args: object
    ) -> None:
        super().__init__(key, *args)
        self.key = key
        self.error_class = error_class
        self.args_ = [str(a) for a in args]

    @property
    def message(self) -> str:
        if not self.args_:
            return f"[[error:{self.key}]]"
        return f"[[error:{self.key}, {', '.join(self.args_)}]]"

    def record(self) -> dict[str, Any]:
        return error_record(self.error_class, self.key, self.message, self.args_)


def error_record(
    error_class: ErrorClass, key: str, message: str | None = None, args: Sequence[str] = ()
) -> dict[str, Any]:
    """An error as a job or an imported item records it (the API renders it for each
    router); ``message`` is NodeBB's ``[[error:<key>]]`` unless given. The record keeps
    the class under ``"kind"``, the name records have been stored with from the start."""
    return {"kind": str(error_class), "key": key, "message": message or f"[[error:{key}]]",
            "args": list(args)}  # fmt: skip


def bad_request(key: str, *args: object) -> ForumError:
    return ForumError(key, ErrorClass.BAD_REQUEST, *args)


def forbidden(key: str = "no-privileges") -> ForumError:
    return ForumError(key, ErrorClass.FORBIDDEN)


def not_found(key: str) -> ForumError:
    return ForumError(key, ErrorClass.NOT_FOUND)


def not_authorised(key: str = "not-authorised") -> ForumError:
    return ForumError(key, ErrorClass.NOT_AUTHORISED)
