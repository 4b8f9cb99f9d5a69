"""``GET /ping`` (no auth) and ``POST /ping`` (authenticated), not enveloped."""

from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.envelopes import JSONResponse
from api.routing import DocumentedRoute, route
from api.writes import authenticated


async def ping(_request: Request) -> Response:
    return JSONResponse({"code": "ok", "message": "pong", "params": {}})


async def ping_authenticated(request: Request) -> Response:
    write = await authenticated(request)
    uid = write.principal.uid
    return JSONResponse(
        {"code": "ok", "message": f"pong, accepted test POST ping for uid {uid}",
         "params": {"uid": uid}}
    )  # fmt: skip


def routes() -> list[DocumentedRoute]:
    return [
        route("GET", "/ping", ping, "Health check", auth="none", queued=False, enveloped=False),
        route(
            "POST", "/ping", ping_authenticated, "Authenticated ping", queued=False, enveloped=False
        ),
    ]


async def core_ping(_request: Request) -> Response:
    return envelopes.success(envelopes.V3, {"pong": True})


async def core_ping_authenticated(request: Request) -> Response:
    """Core echoes the caller and the body it received."""
    write = await authenticated(request)
    received = {key: value for key, value in write.body.items() if key != "_uid"}
    return envelopes.success(envelopes.V3, {"uid": write.principal.uid, "received": received})


def core_routes() -> list[DocumentedRoute]:
    return [
        route("GET", "/ping", core_ping, "Health check", auth="none", queued=False),
        route("POST", "/ping", core_ping_authenticated, "Authenticated ping: echoes the body",
              queued=False),
    ]  # fmt: skip
