"""Group routes: create (admin), delete (owner or admin), join / request, leave, and the
v2 admin add / remove (plugin-write-api.md §5.2, §6.2)."""

from sqlalchemy import exists, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import Endpoint, command_route
from api.errors import missing
from api.inputs import MISSING, path_id
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from forum.db import session_factory
from forum.models import Group
from schemas.commands import Command
from schemas.groups import (
    AcceptGroupInvite,
    AcceptGroupRequest,
    AddGroupMember,
    CreateGroup,
    DeleteGroup,
    GrantGroupOwnership,
    InviteToGroup,
    JoinGroup,
    LeaveGroup,
    RejectGroupInvite,
    RejectGroupRequest,
    RemoveGroupMember,
    RescindGroupOwnership,
    UpdateGroup,
)


async def known_slug(request: Request) -> str:
    """The plugin's V404: an unknown slug answers 404 before the write is queued
    (the worker checks again, so a group deleted meanwhile is still a 404)."""
    slug = request.path_params["slug"]

    def found() -> bool:
        with session_factory(request.app.state.settings.database_url)() as session:
            return bool(session.scalar(select(exists().where(Group.slug == slug))))

    if len(slug) > 255 or not await run_in_threadpool(found):
        raise missing(MISSING["slug"])
    return slug


async def delete_group(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, DeleteGroup(slug=await known_slug(request)))


async def join_group(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, JoinGroup(slug=await known_slug(request)))


async def leave_group(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, LeaveGroup(slug=await known_slug(request)))


def on_member(model: type[Command]) -> Endpoint:
    """A write on one user of the group: ``/groups/{slug}/.../{uid}``."""

    async def endpoint(request: Request) -> Response:
        slug = await known_slug(request)  # V404 first: even an anonymous caller gets the 404
        uid = path_id(request, "uid")
        write = await authenticated(request)
        return await submit(write, model(slug=slug, uid=uid))

    endpoint.__name__ = endpoint.__qualname__ = f"{model.__name__}_on_member"
    return endpoint


add_member = on_member(AddGroupMember)
remove_member = on_member(RemoveGroupMember)


async def update_group(request: Request) -> Response:
    slug = await known_slug(request)
    write = await authenticated(request)
    return await submit(write, write.command(UpdateGroup, slug=slug))


def core_member_routes() -> list[DocumentedRoute]:
    """Core's ownership, pending requests and invitations: the group's owners, admins
    and (groups other than system groups) global moderators manage them."""
    found = (403, 404)
    return [
        route("PUT", "/groups/{slug}", update_group,
              "Update the group's name, description, `hidden` or `private` (its managers)",
              body=UpdateGroup, server_fields=("slug",), errors=found),
        route("PUT", "/groups/{slug}/ownership/{uid}", on_member(GrantGroupOwnership),
              "Make a member an owner of the group", errors=found),
        route("DELETE", "/groups/{slug}/ownership/{uid}", on_member(RescindGroupOwnership),
              "Rescind a member's ownership (a group keeps one owner)", errors=found),
        route("PUT", "/groups/{slug}/pending/{uid}", on_member(AcceptGroupRequest),
              "Accept the user's request to join", errors=found),
        route("DELETE", "/groups/{slug}/pending/{uid}", on_member(RejectGroupRequest),
              "Reject the user's request to join", errors=found),
        route("POST", "/groups/{slug}/invites/{uid}", on_member(InviteToGroup),
              "Invite the user to join", errors=found),
        route("PUT", "/groups/{slug}/invites/{uid}", on_member(AcceptGroupInvite),
              "Accept an invitation (the invited user)", errors=found),
        route("DELETE", "/groups/{slug}/invites/{uid}", on_member(RejectGroupInvite),
              "Decline an invitation (the invited user), or withdraw it (the group's managers)",
              errors=found),
    ]  # fmt: skip


def routes(version: str) -> list[DocumentedRoute]:
    join_verb = "POST" if version == "v1" else "PUT"  # v2 moved join to PUT (§7.3 †)
    found = (404,)
    listed = [
        command_route("POST", "/groups", CreateGroup, "Create a group", auth="admin",
                      errors=(403,)),
        route("DELETE", "/groups/{slug}", delete_group, "Delete a group", auth="owner-or-admin",
              errors=(403, 404)),
    ]  # fmt: skip
    if version == "v3":  # core: one membership route per user, the caller's or another's
        return [
            *listed,
            route("PUT", "/groups/{slug}/membership/{uid}", join_or_add,
                  "Join the group (or request to), or add another user (admin)",
                  errors=(403, 404)),
            route("DELETE", "/groups/{slug}/membership/{uid}", leave_or_remove,
                  "Leave the group, or remove another user (admin)", errors=(403, 404)),
            *core_member_routes(),
        ]  # fmt: skip
    listed += [
        route(join_verb, "/groups/{slug}/membership", join_group,
              "Join the group, or request membership of a private group", errors=found),
        route("DELETE", "/groups/{slug}/membership", leave_group, "Leave the group",
              errors=found),
    ]  # fmt: skip
    if version != "v1":
        listed += [
            route("PUT", "/groups/{slug}/membership/{uid}", add_member,
                  "Add the user to the group (admin)", auth="admin", errors=(403, 404)),
            route("DELETE", "/groups/{slug}/membership/{uid}", remove_member,
                  "Remove the user from the group (admin)", auth="admin", errors=(403, 404)),
        ]  # fmt: skip
    return listed


async def member_write(request: Request, own: type[Command], others: type[Command]) -> Response:
    """Core's ``/groups/{slug}/membership/{uid}``: ``own`` (join or leave) when the uid is
    the caller's, else ``others`` (an admin adds or removes that user)."""
    slug = await known_slug(request)
    uid = path_id(request, "uid")
    write = await authenticated(request)
    if uid == write.principal.uid:
        return await submit(write, own(slug=slug))
    return await submit(write, others(slug=slug, uid=uid))


async def join_or_add(request: Request) -> Response:
    return await member_write(request, JoinGroup, AddGroupMember)


async def leave_or_remove(request: Request) -> Response:
    return await member_write(request, LeaveGroup, RemoveGroupMember)
