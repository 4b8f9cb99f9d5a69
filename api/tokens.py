"""Core's admin token routes (``/api/v3/admin/tokens``). As everywhere in forumq the API
mints the secret and queues only its SHA-256 digest; the secret is shown once, in the
answer. ``{token}`` in a path is the secret or that digest (core's "token id")."""

import re

from starlette.requests import Request
from starlette.responses import Response

from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from forum import tokens
from schemas.tokens import AdminCreateToken, AdminRevokeToken, RollToken, UpdateToken

DIGEST = re.compile(r"[0-9a-f]{64}")


def _token_hash(request: Request) -> str:
    raw = request.path_params["token"]
    return raw if DIGEST.fullmatch(raw) else tokens.digest(raw)


async def create(request: Request) -> Response:
    write = await authenticated(request)
    secret = tokens.new_secret()
    command = write.command(AdminCreateToken, token_hash=tokens.digest(secret),
                            prefix=secret[: tokens.PREFIX_LENGTH])  # fmt: skip
    return await submit(write, command, extra={"token": secret})


async def revoke(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, AdminRevokeToken(token_hash=_token_hash(request)))


async def update(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, write.command(UpdateToken, token_hash=_token_hash(request)))


async def roll(request: Request) -> Response:
    write = await authenticated(request)
    secret = tokens.new_secret()
    command = RollToken(token_hash=_token_hash(request), new_hash=tokens.digest(secret),
                        prefix=secret[: tokens.PREFIX_LENGTH])  # fmt: skip
    return await submit(write, command, extra={"token": secret})


def core_routes() -> list[DocumentedRoute]:
    return [
        route("POST", "/admin/tokens", create,
              "Create a token for user `uid` (shown once; master tokens: the CLI)",
              auth="admin", body=AdminCreateToken, server_fields=("token_hash", "prefix"),
              errors=(403, 404)),
        route("DELETE", "/admin/tokens/{token}", revoke,
              "Revoke a token (the secret, or its SHA-256)", auth="admin", errors=(403, 404)),
        route("PUT", "/admin/tokens/{token}", update,
              "Make the token act as user `uid`, with `description`", auth="admin",
              body=UpdateToken, server_fields=("token_hash",), errors=(403, 404)),
        route("POST", "/admin/tokens/{token}/roll", roll,
              "Give the token a new secret (shown once); the old one stops working",
              auth="admin", errors=(403, 404)),
    ]  # fmt: skip
