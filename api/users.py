"""User routes: create (admin), profile, deletion, password, follows, chats, bans and
the user's own tokens (plugin-write-api.md §5.1, §6.1)."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.auth import client_address
from api.endpoints import Endpoint, command_route
from api.errors import ApiError, bad_request, not_authorised, params_missing
from api.inputs import Body, build_command, path_id
from api.routing import DocumentedRoute, route
from api.writes import WriteRequest, authenticated, submit
from forum import tokens
from forum.db import session_factory
from forum.errors import ForumError
from forum.passwords import hash_like, hash_password, same_hash
from forum.users import EDITABLE_FIELDS, check_password, password_hash_of
from schemas.chats import SendChat
from schemas.tokens import CreateToken, RevokeToken
from schemas.users import (
    BanUser,
    ChangePassword,
    CorePasswordChange,
    CreateUser,
    DeleteUser,
    DeleteUsers,
    FollowUser,
    MuteUser,
    NewUser,
    PasswordChange,
    UnbanUser,
    UnfollowUser,
    UnmuteUser,
    UpdateProfile,
)

# Keys a write body may carry besides the route's own: the master token's acting uid.
CREDENTIAL_KEYS = {"_uid"}


async def create_user(request: Request) -> Response:
    write = await authenticated(request)
    params = build_command(NewUser, write.body)
    password_hash = None
    if params.password:  # a blank password is no password, as in NodeBB
        try:
            check_password(params.password, request.app.state.settings.rules)
        except ForumError as exc:
            raise ApiError(400, "bad-request", params=["password"], key=exc.key) from None
        password_hash = await run_in_threadpool(hash_password, params.password)
    command = CreateUser(username=params.username, email=params.email, password_hash=password_hash)
    return await submit(write, command)


async def update_user(request: Request) -> Response:
    uid = path_id(request, "uid")
    write = await authenticated(request)
    # No mass assignment: a key outside the whitelist is refused, not ignored. A body
    # ``uid`` naming the path uid is harmless (the plugin overwrote it with the path's).
    unknown = sorted(
        key
        for key in write.body
        if key not in EDITABLE_FIELDS
        and key not in CREDENTIAL_KEYS
        and not (key == "uid" and str(write.body[key]).strip() == str(uid))
    )
    if unknown:
        raise bad_request(f"Unknown parameters: {', '.join(unknown)}", unknown)
    return await submit(write, write.command(UpdateProfile, uid=uid))


def password_route(new: str, current: str) -> Endpoint:
    """The password route with its body's names: ``new`` / ``current`` (plugin),
    ``newPassword`` / ``currentPassword`` (core)."""

    async def endpoint(request: Request) -> Response:
        write = await authenticated(request)
        names = {new: "new", current: "current"}
        body = {names.get(key, key): value for key, value in write.body.items()}
        try:
            return await change_password(request, write, body)
        except ApiError as exc:
            if isinstance(exc.params, list):  # name the fields as the client sent them
                exc.params = [{"new": new, "current": current}.get(p, p) for p in exc.params]
            raise

    endpoint.__name__ = endpoint.__qualname__ = f"change_password_{new}"
    return endpoint


async def change_password(request: Request, write: WriteRequest, body: Body) -> Response:
    """The secrets stop here: ``new`` is checked and hashed, and ``current`` hashed with
    the stored password's salt; the worker decides whether it was right, and who may."""
    uid = path_id(request, "uid")
    params = build_command(PasswordChange, body)  # type: ignore[arg-type]
    assert isinstance(params, PasswordChange)
    try:
        check_password(params.new, request.app.state.settings.rules)
    except ForumError as exc:
        raise ApiError(400, "bad-request", params=exc.args_, key=exc.key) from None

    def hashed() -> tuple[str | None, str | None, str]:
        with session_factory(request.app.state.settings.database_url)() as session:
            stored = password_hash_of(session, uid)
        current = params.current
        current_hash = hash_like(current, stored) if current is not None else None
        return stored, current_hash, hash_password(params.new)

    # Only the owner's ``current`` is checked (admins need none): it is a password guess,
    # counted with the token route's before it is hashed (429 once the uid is locked).
    own = write.principal.uid == uid and not write.principal.is_admin
    throttle, address = request.app.state.auth.throttle, client_address(request)
    guess = own and params.current is not None
    if guess:
        await throttle.attempt(uid, address)
    stored, current_hash, password_hash = await run_in_threadpool(hashed)
    if own and stored and params.current is None:
        raise params_missing(["current"])
    if guess and (stored is None or same_hash(current_hash, stored)):
        await throttle.succeeded(uid, address)  # right (or nothing to guess): taken back
    command = ChangePassword(uid=uid, password_hash=password_hash, current_hash=current_hash)
    return await submit(write, command)


async def chat_v1(request: Request) -> Response:
    """v1 always opens a new room: a ``roomId`` in the body is not its parameter."""
    uid = path_id(request, "uid")
    write = await authenticated(request)
    body = {k: v for k, v in write.body.items() if k not in ("roomId", "room_id")}
    return await submit(write, build_command(SendChat, body, uid=uid))


async def ban_v1(request: Request) -> Response:
    """v1 bans are permanent: ``until`` and ``reason`` are v2 parameters."""
    uid = path_id(request, "uid")
    write = await authenticated(request)
    return await submit(write, BanUser(uid=uid))


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
    v1, core = version == "v1", version == "v3"
    # v2 moved follow and ban from POST to PUT (§7.3) and added roomId, until, reason;
    # core (v3) names the password fields newPassword / currentPassword. Core's re-login
    # check (``reauth``) on password and token routes is a session's: a bearer token is
    # enough here, as on the plugin's routes.
    set_verb = "POST" if v1 else "PUT"
    new, current, body = ("newPassword", "currentPassword", CorePasswordChange) if core \
        else ("new", "current", PasswordChange)  # fmt: skip
    found = [
        route("POST", "/users", create_user, "Create a user", auth="admin", body=NewUser,
              errors=(403,)),
        route("PUT", "/users/{uid}", update_user,
              "Update a profile (username, email, fullname, website, location, birthday, "
              "signature, aboutme; any other key is refused)",
              auth="self-or-admin", body=UpdateProfile, server_fields=("uid",), errors=(404,),
              closed=True),
        command_route("DELETE", "/users/{uid}", DeleteUser,
                      "Delete the account and its content", auth="self-or-admin", errors=(404,)),
        route("PUT", "/users/{uid}/password", password_route(new, current),
              f"Change a password (`{current}` required unless an admin acts)",
              auth="self-or-admin", body=body, errors=(404,)),
        command_route(set_verb, "/users/{uid}/follow", FollowUser, "Follow the user",
                      errors=(404,)),
        command_route("DELETE", "/users/{uid}/follow", UnfollowUser, "Unfollow the user",
                      errors=(404,)),
        route(set_verb, "/users/{uid}/ban", ban_v1, "Ban the user permanently", auth="admin",
              server_fields=("uid",), errors=(403, 404)) if v1 else
        command_route(set_verb, "/users/{uid}/ban", BanUser,
                      "Ban the user (until a time, with a reason)", auth="admin",
                      errors=(403, 404)),
        command_route("DELETE", "/users/{uid}/ban", UnbanUser, "Unban the user", auth="admin",
                      errors=(403, 404)),
        route("POST", "/users/{uid}/tokens", create_token,
              "Create a token" + ("" if core else " (with a token, or `password` in lieu of "
              "one: NodeBB's lockout applies, per uid and per client address)"), auth="self",
              errors=() if core else (429,)),
        route("DELETE", "/users/{uid}/tokens/{token}", revoke_token, "Revoke a token",
              auth="self", errors=(404,)),
    ]  # fmt: skip
    if core:
        return [
            *found,
            command_route("PUT", "/users/{uid}/mute", MuteUser,
                          "Mute the user (until a time, with a reason): no posts or chats",
                          errors=(403, 404)),
            command_route("DELETE", "/users/{uid}/mute", UnmuteUser, "Unmute the user",
                          errors=(403, 404)),
            command_route("DELETE", "/users", DeleteUsers,
                          "Delete users `uids` with their content (admins; no admin among them)",
                          auth="admin", errors=(403, 404)),
        ]  # fmt: skip
    return [
        *found,
        route("POST", "/users/{uid}/chats", chat_v1,
              "Send a chat message to the user (a new room)", body=SendChat,
              server_fields=("uid", "room_id"), errors=(403, 404)) if v1 else
        command_route("POST", "/users/{uid}/chats", SendChat,
                      "Send a chat message to the user (a new room, or the room `roomId`)",
                      errors=(403, 404)),
        route("GET", "/users/{uid}/tokens", list_tokens, "List the user's tokens", auth="self",
              queued=False),
    ]  # fmt: skip
