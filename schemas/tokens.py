from typing import Annotated, Literal

from pydantic import Field

from schemas.commands import Command, Id

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class CreateToken(Command):
    """The API mints the secret; only its digest travels and is stored."""

    kind: Literal["tokens.create"] = "tokens.create"
    uid: Id
    token_hash: Sha256
    prefix: Annotated[str, Field(max_length=16)]


class RevokeToken(Command):
    kind: Literal["tokens.revoke"] = "tokens.revoke"
    uid: Id
    token_hash: Sha256


class AdminCreateToken(Command):
    """Core's ``POST /admin/tokens``: an admin mints a token for user ``uid`` (master
    tokens come from the operator's CLI only)."""

    kind: Literal["tokens.admin.create"] = "tokens.admin.create"
    uid: Id
    token_hash: Sha256
    prefix: Annotated[str, Field(max_length=16)]
    description: Annotated[str, Field(max_length=1000)] = ""


class AdminRevokeToken(Command):
    kind: Literal["tokens.admin.revoke"] = "tokens.admin.revoke"
    token_hash: Sha256


class RollToken(Command):
    """Core's ``POST /admin/tokens/{token}/roll``: a new secret, the same token."""

    kind: Literal["tokens.roll"] = "tokens.roll"
    token_hash: Sha256
    new_hash: Sha256
    prefix: Annotated[str, Field(max_length=16)]


class UpdateToken(Command):
    """Core's ``PUT /admin/tokens/{token}``: the user it acts as, and its description."""

    kind: Literal["tokens.update"] = "tokens.update"
    token_hash: Sha256
    uid: Id
    description: Annotated[str, Field(max_length=1000)] = ""
