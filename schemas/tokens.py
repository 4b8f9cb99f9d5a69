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
