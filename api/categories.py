"""Category routes (admin only; a non-admin is refused before an unknown cid is)."""

from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import Endpoint, command_route
from api.errors import bad_request
from api.inputs import Body, path_id
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from schemas.categories import (
    CreateCategory,
    DisableCategory,
    EnableCategory,
    GrantPrivileges,
    PurgeCategory,
    RevokePrivileges,
    UpdateCategory,
)

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
            update(version),
            "Update a category's fields (unknown fields are refused)",
            auth="admin",
            body=UpdateCategory,
            errors=admin_404,
            server_fields=cid if version == "v2" else ("cid", "backgroundImage"),
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
