from typing import Annotated, Literal

from pydantic import Field

from schemas.commands import Command, Id, NonEmpty

Slug = Annotated[str, Field(min_length=1, max_length=255)]


class CreateGroup(Command):
    kind: Literal["groups.create"] = "groups.create"
    # The forum applies NodeBB's name rules (255 characters, no "/" or ":") with its keys.
    name: Annotated[NonEmpty, Field(max_length=1024)]
    description: Annotated[str, Field(max_length=10000)] = ""
    hidden: bool = False
    private: bool = True
    owner_uid: Annotated[Id | None, Field(alias="ownerUid")] = None


class DeleteGroup(Command):
    kind: Literal["groups.delete"] = "groups.delete"
    slug: Slug


class JoinGroup(Command):
    kind: Literal["groups.join"] = "groups.join"
    slug: Slug


class LeaveGroup(Command):
    kind: Literal["groups.leave"] = "groups.leave"
    slug: Slug


class AddGroupMember(Command):
    kind: Literal["groups.add_member"] = "groups.add_member"
    slug: Slug
    uid: Id


class RemoveGroupMember(Command):
    kind: Literal["groups.remove_member"] = "groups.remove_member"
    slug: Slug
    uid: Id


class _MemberOfGroup(Command):
    slug: Slug
    uid: Id


class GrantGroupOwnership(_MemberOfGroup):
    kind: Literal["groups.ownership.grant"] = "groups.ownership.grant"


class RescindGroupOwnership(_MemberOfGroup):
    kind: Literal["groups.ownership.rescind"] = "groups.ownership.rescind"


class AcceptGroupRequest(_MemberOfGroup):
    kind: Literal["groups.pending.accept"] = "groups.pending.accept"


class RejectGroupRequest(_MemberOfGroup):
    kind: Literal["groups.pending.reject"] = "groups.pending.reject"


class InviteToGroup(_MemberOfGroup):
    kind: Literal["groups.invites.issue"] = "groups.invites.issue"


class AcceptGroupInvite(_MemberOfGroup):
    kind: Literal["groups.invites.accept"] = "groups.invites.accept"


class RejectGroupInvite(_MemberOfGroup):
    kind: Literal["groups.invites.reject"] = "groups.invites.reject"


class UpdateGroup(Command):
    """Core's ``PUT /groups/{slug}``: the fields forumq keeps; others are ignored."""

    kind: Literal["groups.update"] = "groups.update"
    slug: Slug
    name: Annotated[str | None, Field(max_length=1024)] = None
    description: Annotated[str | None, Field(max_length=10000)] = None
    hidden: bool | None = None
    private: bool | None = None
