"""User routes: create (admin) and the user's own tokens."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.errors import not_authorised
from api.inputs import path_id
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from forum import tokens
from forum.db import session_factory
from schemas.tokens import CreateToken, RevokeToken
from schemas.users import CreateUser


async def create_user(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, write.command(CreateUser))


async def list_tokens(request: Request) -> Response:
    uid = path_id(request, "uid")
    write = await authenticated(request)
    if write.principal.uid != uid:
        raise not_authorised()

    def load() -> list[dict[str, object]]:
        with session_factory(request.app.state.settings.database_url)() as session:
            return tokens.list_for(session, uid)

    return envelopes.success(write.router, {"tokens": await run_in_threadpool(load)})


async def create_token(request: Request) -> Response:
    uid = path_id(request, "uid")
    write = await authenticated(request)
    # The secret is minted here and shown once; only its digest is queued and stored.
    secret = tokens.new_secret()
    command = CreateToken(uid=uid, token_hash=tokens.digest(secret),
                          prefix=secret[: tokens.PREFIX_LENGTH])  # fmt: skip
    return await submit(write, command, extra={"token": secret})


async def revoke_token(request: Request) -> Response:
    uid = path_id(request, "uid")
    write = await authenticated(request)
    secret = request.path_params["token"]
    return await submit(write, RevokeToken(uid=uid, token_hash=tokens.digest(secret)))


def routes(version: str) -> list[DocumentedRoute]:
    return [
        route("POST", "/users", create_user, "Create a user", auth="admin", body=CreateUser,
              errors=(403,)),
        route("GET", "/users/{uid}/tokens", list_tokens, "List the user's tokens", auth="self",
              queued=False),
        route("POST", "/users/{uid}/tokens", create_token,
              "Create a token (with a token, or `password` in lieu of one)", auth="self"),
        route("DELETE", "/users/{uid}/tokens/{token}", revoke_token, "Revoke a token",
              auth="self", errors=(404,)),
    ]  # fmt: skip
