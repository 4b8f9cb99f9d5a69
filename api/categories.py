"""Category routes (admin only; a non-admin is refused before an unknown cid is)."""

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import Endpoint, command_route
from api.errors import ApiError, bad_request, params_missing
from api.inputs import Body, build_command, path_id
from api.read.answers import v3
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from forum.category_watch import STATES
from forum.read.categories import privilege_table
from schemas.categories import (
    CreateCategory,
    DisableCategory,
    EnableCategory,
    GrantPrivileges,
    PurgeCategory,
    ResetCategoryWatch,
    RevokePrivileges,
    SetCategoryWatch,
    UpdateCategory,
)


class MemberParams(BaseModel):
    member: str = Field(min_length=1, description="A uid, or a group's name.")


# The only fields an update may name (wire names); anything else is refused, so an
# update can never set counters, ids or slugs. backgroundImage arrived with v2.
UPDATE_FIELDS = {"name", "description", "bgColor", "color", "parentCid", "order", "icon", "class"}
UPDATE_FIELDS_V2 = UPDATE_FIELDS | {"backgroundImage"}
# Authentication parameters that may travel in the body beside the fields.
CREDENTIALS = {"_uid"}


def _refuse_unknown(body: Body, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed - CREDENTIALS)
    if unknown:
        raise bad_request(f"Unknown fields: {', '.join(unknown)}", unknown)


def update(version: str) -> Endpoint:
    allowed = UPDATE_FIELDS_V2 if version == "v2" else UPDATE_FIELDS

    async def update_category(request: Request) -> Response:
        cid = path_id(request, "cid")
        write = await authenticated(request)
        _refuse_unknown(write.body, allowed)
        return await submit(write, write.command(UpdateCategory, cid=cid))

    return update_category


def privileges_write(model: type[GrantPrivileges] | type[RevokePrivileges]) -> Endpoint:
    """cid 0 names the global privileges, so it is a valid id here."""

    async def endpoint(request: Request) -> Response:
        cid = 0 if request.path_params["cid"] == "0" else path_id(request, "cid")
        write = await authenticated(request)
        return await submit(write, write.command(model, cid=cid))

    endpoint.__name__ = endpoint.__qualname__ = f"category_{model.__name__}"
    return endpoint


def core_privilege(grant: bool, *, moderator: bool = False) -> Endpoint:
    """Core's one-privilege routes: ``/privileges/{privilege}`` with ``member`` (a uid, or
    a group's name, from the path or the body), and ``/moderator/{uid}`` (``moderate``
    for that user), as the plugin's v2 grant of a privilege list to members."""
    model = GrantPrivileges if grant else RevokePrivileges

    async def endpoint(request: Request) -> Response:
        cid = 0 if request.path_params["cid"] == "0" else path_id(request, "cid")
        write = await authenticated(request)
        if moderator:
            privilege, member = "moderate", str(path_id(request, "uid"))
        else:
            privilege = request.path_params["privilege"]
            member = request.path_params.get("member", write.body.get("member"))
            if member in (None, ""):
                raise params_missing(["member"])
            member = str(member)
            if not member.isdigit():  # a group's name: the plugin's ``groups:`` form
                privilege = f"groups:{privilege.removeprefix('groups:')}"
        command = build_command(model, {"privileges": privilege, "groups": member}, cid=cid)
        response = await submit(write, command)
        if response.status_code != 200:
            return response
        # Core answers the category's privilege table as it now is.
        return await v3(request, lambda session, viewer: _table(session, viewer.uid, cid))

    def _table(session: Session, actor: int, cid: int) -> dict[str, Any]:
        table = privilege_table(session, actor, cid)
        if moderator:  # core documents ``banned`` a boolean here, a number elsewhere
            for user in table["users"]:
                user["banned"] = bool(user["banned"])
        return table

    endpoint.__name__ = endpoint.__qualname__ = f"core_{model.__name__}" + (
        "_moderator" if moderator else ""
    )
    return endpoint


class WatchParams(BaseModel):
    uid: int | None = Field(
        None, ge=0, lt=2**63, description="Another user's (admins, global moderators)."
    )


def watch(model: type[SetCategoryWatch] | type[ResetCategoryWatch]) -> Endpoint:
    """Core's watch routes: ``state`` one of NodeBB's four (else ``invalid-data``), for
    ``uid`` (the path's ``member``, or the body's; none, 0 or empty: the caller)."""

    async def endpoint(request: Request) -> Response:
        cid = path_id(request, "cid")
        write = await authenticated(request)
        fields: Body = {}
        if model is SetCategoryWatch:
            state = write.body.get("state")
            if not isinstance(state, str) or state not in STATES:
                raise ApiError(400, "bad-request", key="invalid-data")
            fields["state"] = state
        uid = path_id(request, "uid") if "uid" in request.path_params else write.body.get("uid")
        if uid not in (None, 0, "", "0"):
            fields["uid"] = uid
        return await submit(write, build_command(model, fields, cid=cid))

    endpoint.__name__ = endpoint.__qualname__ = f"category_{model.__name__}"
    return endpoint


def watch_routes() -> list[DocumentedRoute]:
    both = "the category and its descendants"
    return [
        route("PUT", "/categories/{cid}/watch", watch(SetCategoryWatch),
              f"Set the caller's (or `uid`'s) watch `state` of {both}: `watching`, "
              "`tracking`, `notwatching` or `ignoring`", body=SetCategoryWatch,
              server_fields=("cid",), errors=(403, 404)),
        route("DELETE", "/categories/{cid}/watch", watch(ResetCategoryWatch),
              f"Reset the caller's (or `uid`'s) watch state of {both} to the default "
              "(`tracking`)", body=WatchParams, errors=(403, 404)),
        route("DELETE", "/categories/{cid}/watch/{uid}", watch(ResetCategoryWatch),
              f"Reset the user's watch state of {both} to the default (`tracking`)",
              errors=(403, 404)),
    ]  # fmt: skip


def core_privilege_routes() -> list[DocumentedRoute]:
    member = "Grant `privilege` on the category to `member` (a uid or a group's name)"
    return [
        route("PUT", "/categories/{cid}/privileges/{privilege}", core_privilege(True), member,
              auth="admin", body=MemberParams, errors=(403, 404)),
        route("DELETE", "/categories/{cid}/privileges/{privilege}", core_privilege(False),
              "Rescind `privilege` from `member`", auth="admin", body=MemberParams,
              errors=(403, 404)),
        route("DELETE", "/categories/{cid}/privileges/{privilege}/{member}",
              core_privilege(False), "Rescind `privilege` from the member in the path",
              auth="admin", errors=(403, 404)),
        route("PUT", "/categories/{cid}/moderator/{uid}", core_privilege(True, moderator=True),
              "Make the user a moderator of the category", auth="admin", errors=(403, 404)),
        route("DELETE", "/categories/{cid}/moderator/{uid}",
              core_privilege(False, moderator=True), "Remove the user as a moderator",
              auth="admin", errors=(403, 404)),
    ]  # fmt: skip


def routes(version: str) -> list[DocumentedRoute]:
    cid = ("cid",)
    admin_404 = (403, 404)
    found = [
        command_route(
            "POST", "/categories", CreateCategory, "Create a category", auth="admin", errors=(403,)
        ),
        route(
            "PUT",
            "/categories/{cid}",
            update("v1" if version == "v1" else "v2"),
            "Update a category's fields (unknown fields are refused)",
            auth="admin",
            body=UpdateCategory,
            errors=admin_404,
            server_fields=cid if version != "v1" else ("cid", "backgroundImage"),
            closed=True,
        ),
        command_route(
            "DELETE",
            "/categories/{cid}",
            PurgeCategory,
            "Purge the category with all its topics and posts",
            auth="admin",
            errors=admin_404,
        ),
    ]
    if version == "v3":  # core: one privilege per route, no category state route
        return found + core_privilege_routes() + watch_routes()
    found += [
        command_route(
            "PUT",
            "/categories/{cid}/state",
            EnableCategory,
            "Enable the category",
            auth="admin",
            errors=admin_404,
        ),
        command_route(
            "DELETE",
            "/categories/{cid}/state",
            DisableCategory,
            "Disable the category",
            auth="admin",
            errors=admin_404,
        ),
    ]
    if version == "v2":
        found += [
            route(
                "PUT",
                "/categories/{cid}/privileges",
                privileges_write(GrantPrivileges),
                "Grant `privileges` to `groups` (`groups:`-prefixed privileges name groups, "
                "others uids); cid 0 holds the global privileges",
                auth="admin",
                body=GrantPrivileges,
                server_fields=cid,
                errors=admin_404,
            ),
            route(
                "DELETE",
                "/categories/{cid}/privileges",
                privileges_write(RevokePrivileges),
                "Revoke `privileges` from `groups`",
                auth="admin",
                body=RevokePrivileges,
                server_fields=cid,
                errors=admin_404,
            ),
        ]
    return found  # fmt: skip
