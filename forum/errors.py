"""Errors raised by forum rules. The API maps each kind to a status per router."""

from collections.abc import Sequence
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    BAD_REQUEST = "bad-request"
    NOT_AUTHORISED = "not-authorised"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not-found"


class ForumError(Exception):
    """A forum rule refused the write. ``key`` is NodeBB's error key (``content-too-short``)."""

    def __init__(self, key: str, kind: Kind = Kind.BAD_REQUEST, *args: object) -> None:
        super().__init__(key, *args)
        self.key = key
        self.kind = kind
        self.args_ = [str(a) for a in args]

    @property
    def message(self) -> str:
        if not self.args_:
            return f"[[error:{self.key}]]"
        return f"[[error:{self.key}, {', '.join(self.args_)}]]"

    def record(self) -> dict[str, Any]:
        return error_record(self.kind, self.key, self.message, self.args_)


def error_record(
    kind: str, key: str, message: str | None = None, args: Sequence[str] = ()
) -> dict[str, Any]:
    """An error as a job or an imported item records it (the API renders it for each
    router); ``message`` is NodeBB's ``[[error:<key>]]`` unless given. ``kind`` is a
    ``Kind``, or ``internal`` / ``unavailable`` for what is not a forum rule."""
    return {"kind": str(kind), "key": key, "message": message or f"[[error:{key}]]",
            "args": list(args)}  # fmt: skip


def bad_request(key: str, *args: object) -> ForumError:
    return ForumError(key, Kind.BAD_REQUEST, *args)


def forbidden(key: str = "no-privileges") -> ForumError:
    return ForumError(key, Kind.FORBIDDEN)


def not_found(key: str) -> ForumError:
    return ForumError(key, Kind.NOT_FOUND)


def not_authorised(key: str = "not-authorised") -> ForumError:
    return ForumError(key, Kind.NOT_AUTHORISED)
