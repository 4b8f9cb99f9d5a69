"""The shape most write routes share: a command applied to the object the path names.
The command is the route's body: ``command_route`` names it once."""

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.inputs import path_id
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from schemas.commands import Command

Endpoint = Callable[[Request], Awaitable[Response]]
PATH_PARAMS = re.compile(r"{(\w+)}")


def command_on(model: type[Command], *params: str, **fixed: Any) -> Endpoint:
    """An endpoint validating the body into ``model``, with ``params`` taken from the
    path (a non-numeric id names nothing: 404), and submitting it. ``fixed`` values
    win over the body's (core's v3 forces ``timestamp`` to now, for one)."""

    async def endpoint(request: Request) -> Response:
        ids = {param: path_id(request, param) for param in params}
        write = await authenticated(request)
        return await submit(write, write.command(model, **fixed, **ids))

    endpoint.__name__ = endpoint.__qualname__ = f"{model.__name__}_on_{'_'.join(params)}"
    return endpoint


def command_route(
    method: str,
    path: str,
    model: type[Command],
    summary: str,
    *,
    auth: str = "any",
    errors: tuple[int, ...] = (),
) -> DocumentedRoute:
    """A route whose body is the command ``model``; each id in the path (``{tid}``)
    fills the command's field of that name."""
    params = tuple(PATH_PARAMS.findall(path))
    endpoint = command_on(model, *params)
    return route(method, path, endpoint, summary, auth=auth, body=model, server_fields=params,
                 errors=errors)  # fmt: skip
