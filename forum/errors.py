"""Errors raised by forum rules. The API maps each kind to a status per router."""

from enum import StrEnum


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


def bad_request(key: str, *args: object) -> ForumError:
    return ForumError(key, Kind.BAD_REQUEST, *args)


def forbidden(key: str = "no-privileges") -> ForumError:
    return ForumError(key, Kind.FORBIDDEN)


def not_found(key: str) -> ForumError:
    return ForumError(key, Kind.NOT_FOUND)


def not_authorised(key: str = "not-authorised") -> ForumError:
    return ForumError(key, Kind.NOT_AUTHORISED)
