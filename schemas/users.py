from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from schemas.commands import Command, Id, NonEmpty, Timestamp

ProfileText = Annotated[str, Field(max_length=4096)]


class NewUser(BaseModel):
    """What the client sends to create a user (validated in the API)."""

    model_config = ConfigDict(frozen=True)

    username: Annotated[NonEmpty, Field(max_length=255)]
    password: Annotated[str, Field(max_length=512)] | None = None
    email: Annotated[str, Field(max_length=255)] | None = None


class CreateUser(Command):
    """The queued form: the API checks and hashes the password, so no secret is
    stored in the job."""

    kind: Literal["users.create"] = "users.create"
    username: Annotated[NonEmpty, Field(max_length=255)]
    password_hash: Annotated[str, Field(max_length=255)] | None = None
    email: Annotated[str, Field(max_length=255)] | None = None


class UpdateProfile(Command):
    """Only these fields: the route refuses any other key (no mass assignment).

    An absent (or null) field is left as it is; an empty string clears it."""

    kind: Literal["users.update"] = "users.update"
    uid: Id
    username: Annotated[str, Field(max_length=255)] | None = None
    email: Annotated[str, Field(max_length=255)] | None = None
    fullname: ProfileText | None = None
    website: ProfileText | None = None
    location: ProfileText | None = None
    birthday: ProfileText | None = None
    signature: ProfileText | None = None
    aboutme: ProfileText | None = None

    def changes(self) -> dict[str, str]:
        return self.model_dump(exclude={"kind", "uid"}, exclude_none=True)


class DeleteUser(Command):
    kind: Literal["users.delete"] = "users.delete"
    uid: Id


def _one_or_many(value: object) -> object:
    """A list, or one value (a form's one field) as a list of one."""
    return value if isinstance(value, list | tuple) else [value]


class DeleteUsers(Command):
    """Core's ``DELETE /users``: delete each of ``uids`` with their content (admins)."""

    kind: Literal["users.delete_many"] = "users.delete_many"
    uids: Annotated[tuple[Id, ...], Field(min_length=1, max_length=1000),
                    BeforeValidator(_one_or_many)]  # fmt: skip


class PasswordChange(BaseModel):
    """What the client sends to the password route (validated in the API, never queued)."""

    model_config = ConfigDict(frozen=True)

    new: Annotated[str, Field(min_length=1, max_length=512)]
    current: Annotated[str, Field(max_length=512)] | None = None


class CorePasswordChange(BaseModel):
    """Core's names for the password route's body (v3)."""

    model_config = ConfigDict(frozen=True)

    new_password: Annotated[str, Field(alias="newPassword", min_length=1, max_length=512)]
    current_password: Annotated[str | None, Field(alias="currentPassword", max_length=512)] = None


class ChangePassword(Command):
    """The queued form: the API hashes ``new``, and ``current`` with the stored
    password's salt (``forum.passwords.hash_like``), so no secret is stored in the job;
    the worker decides whether ``current`` was right."""

    kind: Literal["users.password"] = "users.password"
    uid: Id
    password_hash: Annotated[str, Field(max_length=255)]
    current_hash: Annotated[str, Field(max_length=255)] | None = None


class FollowUser(Command):
    kind: Literal["users.follow"] = "users.follow"
    uid: Id


class UnfollowUser(Command):
    kind: Literal["users.unfollow"] = "users.unfollow"
    uid: Id


class BanUser(Command):
    kind: Literal["users.ban"] = "users.ban"
    uid: Id
    until: Timestamp | None = None  # ms; 0 or absent: permanent (v2 only)
    reason: Annotated[str, Field(max_length=1000)] = ""  # v2 only


class UnbanUser(Command):
    kind: Literal["users.unban"] = "users.unban"
    uid: Id


class MuteUser(Command):
    """Core's ``PUT /users/{uid}/mute``: until ``until`` (ms; 0 or absent: for good)."""

    kind: Literal["users.mute"] = "users.mute"
    uid: Id
    until: Timestamp | None = None
    reason: Annotated[str, Field(max_length=1000)] = ""


class UnmuteUser(Command):
    kind: Literal["users.unmute"] = "users.unmute"
    uid: Id
    reason: Annotated[str | None, Field(max_length=1000)] = None
