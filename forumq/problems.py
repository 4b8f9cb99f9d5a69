"""What the ``forumq`` command says when the environment, not forumq, is at fault.

A misconfiguration (a malformed URL, a database or broker that cannot be reached, a
directory that cannot be written, a port in use) is one line saying what is wrong and
what to set, and exit status 2; the traceback is for ``forumq --debug``."""

import errno
import socket

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

MISCONFIGURED = 2


class Problem(Exception):
    """One line for the operator: what is wrong and what to set."""


def explain(exc: BaseException) -> str | None:
    """The one line for a misconfiguration, or None for anything else (a bug)."""
    if isinstance(exc, Problem):
        return str(exc)
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return "; ".join(_setting_error(error) for error in exc.errors())
    if isinstance(exc, OperationalError) and exc.statement is None:
        return database_unreachable(exc)  # connecting failed, before any statement
    if isinstance(exc, PermissionError):
        return (
            f"cannot write {exc.filename or 'a file'}: {exc.strerror}. Run forumq in a "
            "writable directory, or set FORUMQ_DATABASE_URL and FORUMQ_UPLOAD_DIR to one"
        )
    return None


def _setting_error(error: ErrorDetails) -> str:
    variable = "FORUMQ_" + "_".join(map(str, error["loc"])).upper()
    return f"{variable}: {error['msg'].removeprefix('Value error, ')}"


def one_line(exc: BaseException) -> str:
    """An error's message on one line (a DBAPIError's: the driver's, without the SQL)."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def database_unreachable(exc: DBAPIError) -> str:
    from forumq.settings import get_settings

    url = get_settings().database_url
    reason = one_line(exc)
    if url.startswith("sqlite"):
        return (
            f"cannot open the SQLite database {make_url(url).database!r} ({reason}): run forumq "
            "in a writable directory, or set FORUMQ_DATABASE_URL to a writable path"
        )
    shown = make_url(url).render_as_string(hide_password=True)
    return (
        f"cannot reach the database {shown} ({reason}): start it, "
        "or set FORUMQ_DATABASE_URL to one that is reachable"
    )


def check_database_url(value: str) -> str:
    """``value`` if SQLAlchemy can use it; else a ValueError saying what to set."""
    example = "e.g. postgresql+psycopg://user:password@host/db or sqlite:///forumq.sqlite3"
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"{value!r} is not a database URL ({example})") from None
    if url.drivername in ("postgres", "postgresql"):
        raise ValueError(f"{value!r} names no driver forumq ships: use postgresql+psycopg://")
    try:
        url.get_dialect()
    except Exception:
        raise ValueError(f"{value!r}: unknown database {url.drivername!r} ({example})") from None
    if url.drivername.startswith("postgresql") and not url.database:
        raise ValueError(f"{value!r} names no database ({example})")
    return value


def check_broker_url(value: str) -> str:
    """``value`` if kombu has a transport for it; else a ValueError saying what to set."""
    from kombu.transport import resolve_transport

    example = "e.g. redis://host:6379/0 or sqla+sqlite:///forumq-broker.sqlite3"
    scheme, separator, _ = value.partition("://")
    if not separator or not scheme:
        raise ValueError(f"{value!r} is not a broker URL ({example})")
    try:
        resolve_transport(scheme.partition("+")[0])
    except KeyError as exc:
        raise ValueError(f"{value!r}: {exc.args[0]} ({example})") from None
    return value


def check_redis_url(value: str | None) -> str | None:
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"{value!r} is not a Redis URL (e.g. redis://host:6379/0, or empty)")
    return value


def ensure_port_free(host: str, port: int) -> None:
    """Fail before starting anything when ``host:port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise Problem(
                f"cannot listen on {host}:{port}: {reason}. Stop what uses it, or pass --port"
            ) from None
