"""``GET /ping`` (no auth) and ``POST /ping`` (authenticated), not enveloped."""

from starlette.requests import Request
from starlette.responses import Response

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
