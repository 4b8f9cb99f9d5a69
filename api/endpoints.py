"""The shape most write routes share: a command applied to the object the path names."""

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.inputs import path_id
from api.writes import authenticated, submit
from schemas.commands import Command

Endpoint = Callable[[Request], Awaitable[Response]]


def command_on(model: type[Command], param: str, **fixed: Any) -> Endpoint:
    """An endpoint validating the body into ``model``, with ``param`` taken from the
    path (a non-numeric id names nothing: 404), and submitting it. ``fixed`` values
    win over the body's (core's v3 forces ``timestamp`` to now, for one)."""

    async def endpoint(request: Request) -> Response:
        object_id = path_id(request, param)
        write = await authenticated(request)
        return await submit(write, write.command(model, **fixed, **{param: object_id}))

    endpoint.__name__ = endpoint.__qualname__ = f"{model.__name__}_on_{param}"
    return endpoint
