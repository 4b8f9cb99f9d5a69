"""Routes that describe themselves: every route declares its auth rule, the command
(pydantic model) it validates with and its errors, so the OpenAPI document is
generated from the same models the routes use."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.routing import Route

# A query parameter a route reads: its name and JSON schema (the rule it is held to).
QueryParameter = tuple[str, dict[str, Any]]
AUTH_RULES = ("none", "optional", "any", "admin", "self", "self-or-admin", "owner-or-admin")


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    auth: str = "any"
    # The body model the route validates (a Command, or another pydantic model).
    body: type[BaseModel] | None = None
    # Body fields the route fills from the path or the server, not from the client.
    server_fields: tuple[str, ...] = ()
    # Extra documented error statuses beyond the ones every write route has.
    errors: tuple[int, ...] = ()
    # True for routes that go through the job queue (202, Prefer, Idempotency-Key).
    queued: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)
    response: type[BaseModel] | None = None
    # False for answers sent bare, not in {code, payload} (ping, upload: plugin §3.5).
    enveloped: bool = True
    # True for routes that refuse body keys their model does not name (most ignore them).
    closed: bool = False
    # Query parameters the route reads (all optional).
    query: tuple[QueryParameter, ...] = ()
    # True for NodeBB's read pages (``/api/...``): bare data, or its 404/403 page bodies.
    page: bool = False
    # Path parameters whose values a rule of this route limits: name and JSON schema.
    path_params: tuple[QueryParameter, ...] = ()
    # Values of the path's parameter under another rule (the body of one setting):
    # each is documented as its own concrete path, with its own body model.
    variants: tuple[tuple[str, type[BaseModel]], ...] = ()


class DocumentedRoute(Route):
    def __init__(self, path: str, endpoint: Callable[..., Any], method: str, doc: RouteDoc) -> None:
        super().__init__(path, endpoint, methods=[method])
        self.method = method
        self.doc = doc


def route(
    method: str,
    path: str,
    endpoint: Callable[..., Any],
    summary: str,
    *,
    auth: str = "any",
    body: type[BaseModel] | None = None,
    server_fields: tuple[str, ...] = (),
    errors: tuple[int, ...] = (),
    queued: bool = True,
    response: type[BaseModel] | None = None,
    enveloped: bool = True,
    closed: bool = False,
    query: tuple[QueryParameter, ...] = (),
    page: bool = False,
    path_params: tuple[QueryParameter, ...] = (),
    variants: tuple[tuple[str, type[BaseModel]], ...] = (),
) -> DocumentedRoute:
    if auth not in AUTH_RULES:
        raise ValueError(f"unknown auth rule {auth!r}")
    doc = RouteDoc(summary, auth, body, server_fields, errors, queued, response=response,
                   enveloped=enveloped, closed=closed, query=query, page=page,
                   path_params=path_params, variants=variants)  # fmt: skip
    return DocumentedRoute(path, endpoint, method, doc)
