"""Who is calling: bearer tokens (user or master + ``_uid``), JWT, or a password on
the token route, in the plugin's order of precedence (plugin-write-api.md §2.2)."""

import re
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api import inputs
from api.errors import bad_request, not_authorised, params_missing
from api.inputs import Body
from api.lookups import Lookups
from api.throttle import LoginThrottle
from forum import privileges, tokens
from forum.db import session_factory
from forum.models import User
from forum.passwords import verify_password
from forumq.settings import Settings

PASSWORD_ROUTE = re.compile(r"^/api/v[12]/users/(\d+)/tokens$")
# Only shared-secret algorithms: "none" and public-key ones are never accepted.
SAFE_JWT_ALGORITHMS = {"HS256", "HS384", "HS512"}
# A JWT secret anyone can guess signs a token for any uid, admins included.
MIN_JWT_SECRET_BYTES = 32
WELL_KNOWN_SECRETS = frozenset({
    "secret", "changeme", "change-me", "change_me", "changethis", "password", "jwtsecret",
    "jwt-secret", "jwt_secret", "mysecret", "my-secret", "supersecret", "your-secret",
    "yoursecret", "secretkey", "secret-key", "default", "test", "nodebb",
})  # fmt: skip


def jwt_secret_weakness(secret: str) -> str | None:
    """Why ``secret`` must not sign JWTs (a well-known value, or too short), or None."""
    if secret.strip().lower() in WELL_KNOWN_SECRETS:
        return "is a well-known value"
    size = len(secret.encode())
    if size < MIN_JWT_SECRET_BYTES:
        return f"is {size} bytes long, under the {MIN_JWT_SECRET_BYTES} required"
    return None


def client_address(request: Request) -> str:
    """The address a password guess is counted against (api.throttle)."""
    return request.client.host if request.client else ""


@dataclass(frozen=True)
class Principal:
    uid: int
    is_admin: bool
    via: str  # "token", "master", "jwt" or "password"


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sessions = session_factory(settings.database_url)
        self._algorithms = [a for a in settings.jwt_algorithms if a in SAFE_JWT_ALGORITHMS]
        # Password guesses: the token route's and the password change's ``current``.
        self.throttle = LoginThrottle(settings)
        seconds = settings.token_cache_seconds
        # token digest -> its owner (None: no such token)
        self._tokens: Lookups[tokens.TokenOwner | None] = Lookups(seconds)
        # uid -> (exists, is admin); an unknown uid is not remembered, so a user
        # created a moment ago is found at once.
        self._users: Lookups[tuple[bool, bool]] = Lookups(seconds, keep=lambda user: user[0])

    async def close(self) -> None:
        await self.throttle.close()

    async def authenticate(self, request: Request, body: Body) -> tuple[Principal, Body]:
        """The caller, and the parameters to use (a JWT's claims may supply them)."""
        header = inputs.header(request, "authorization")
        if header is not None:
            return await self._bearer(request, header, body), body
        if self._settings.jwt_secret and self._jwt_token(request, body):
            return await self._jwt(request, body)
        match = PASSWORD_ROUTE.match(request.url.path)
        if match and request.method == "POST":
            return await self._password(int(match.group(1)), request, body), body
        raise not_authorised()

    def presented(self, request: Request) -> bool:
        """Did the request bring credentials? (The read API serves guests without.)"""
        header = inputs.header(request, "authorization")
        return header is not None or bool(
            self._settings.jwt_secret and self._jwt_token(request, {})
        )

    async def _bearer(self, request: Request, header: str, body: Body) -> Principal:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise not_authorised()
        secret = secret.strip()
        key = tokens.digest(secret)
        # A remembered token is answered on the event loop: a thread hop costs about as
        # much as a whole bare request.
        found, owner = self._tokens.cached(key)
        if not found:
            owner = await self._tokens.get(key, lambda: self._lookup(secret))
        if owner is None:
            raise not_authorised()
        if owner.uid is not None:
            return await self._principal(owner.uid, "token")
        raw_uid = body.get("_uid") or request.query_params.get("_uid")
        if raw_uid in (None, ""):
            raise params_missing(["_uid"])
        return await self._principal(self._parse_uid(raw_uid), "master")

    def _lookup(self, secret: str) -> tokens.TokenOwner | None:
        with self._sessions() as session:
            return tokens.lookup(session, secret)

    def _jwt_token(self, request: Request, body: Body) -> str | None:
        for key in filter(None, (self._settings.jwt_payload_key, "token")):
            value = request.query_params.get(key) or body.get(key)
            if isinstance(value, str) and value:
                return value
        return None

    async def _jwt(self, request: Request, body: Body) -> tuple[Principal, Body]:
        token = self._jwt_token(request, body)
        try:
            claims: dict[str, Any] = jwt.decode(
                token or "", self._settings.jwt_secret, algorithms=self._algorithms
            )
        except jwt.PyJWTError:
            raise not_authorised() from None
        if "_uid" not in claims:
            raise params_missing(["_uid"])
        principal = await self._principal(self._parse_uid(claims["_uid"]), "jwt")
        params = {
            k: v for k, v in body.items() if k not in ("token", self._settings.jwt_payload_key)
        }
        if not params:  # the claims are the request's parameters when the body has none
            params = {k: v for k, v in claims.items() if k not in ("_uid", "exp", "iat", "nbf")}
        return principal, params

    async def _password(self, uid: int, request: Request, body: Body) -> Principal:
        password = body.get("password")
        if not isinstance(password, str):
            if request.url.path.startswith("/api/v2/"):
                raise params_missing(["password"])
            raise not_authorised()

        def check() -> bool:
            with self._sessions() as session:
                stored = session.scalar(select(User.password_hash).where(User.uid == uid))
            # A missing uid is checked against a dummy hash: same time, same answer.
            return verify_password(password, stored)

        address = client_address(request)
        await self.throttle.attempt(uid, address)
        if not await run_in_threadpool(check):
            raise not_authorised()
        await self.throttle.succeeded(uid, address)
        return await self._principal(uid, "password")

    def _load_user(self, uid: int) -> tuple[bool, bool]:
        with self._sessions() as session:
            exists = session.get(User, uid) is not None
            return exists, exists and privileges.is_admin(session, uid)

    @staticmethod
    def _parse_uid(raw: object) -> int:
        text = str(raw).strip()
        # isascii(): "²" and "٣" are digits to str.isdigit() but not to a uid.
        if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
            raise bad_request("_uid must name an existing user", ["_uid"])
        return int(text)

    async def _principal(self, uid: int, via: str) -> Principal:
        found, user = self._users.cached(uid)
        if not found:
            user = await self._users.get(uid, lambda: self._load_user(uid))
        exists, admin = user  # type: ignore[misc]
        if not exists:
            if via in ("master", "jwt"):
                raise bad_request("_uid must name an existing user", ["_uid"])
            raise not_authorised()
        return Principal(uid=uid, is_admin=admin, via=via)
