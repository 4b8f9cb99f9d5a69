"""API tokens: stored as SHA-256 digests, compared in constant time, shown once."""

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forum.clock import iso, now_ms
from forum.errors import bad_request, not_authorised, not_found
from forum.models import ApiToken, User
from forum.privileges import require_admin

PREFIX_LENGTH = 8


def new_secret() -> str:
    """A v4 UUID, the format the write-api plugin's tokens have."""
    return str(uuid.uuid4())


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenOwner:
    token_id: int
    uid: int | None  # None: a master token

    @property
    def is_master(self) -> bool:
        return self.uid is None


def lookup(session: Session, secret: str) -> TokenOwner | None:
    """The token's owner, or None. The digest is the index key; the final equality
    check is constant-time so a near-match leaks nothing through timing."""
    wanted = digest(secret)
    row = session.execute(
        select(ApiToken.id, ApiToken.uid, ApiToken.token_hash).where(ApiToken.token_hash == wanted)
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return TokenOwner(token_id=row.id, uid=row.uid)


def store(
    session: Session, token_hash: str, prefix: str, uid: int | None, description: str = ""
) -> ApiToken:
    token = ApiToken(token_hash=token_hash, prefix=prefix, uid=uid, created_at=now_ms(),
                     description=description)  # fmt: skip
    session.add(token)
    session.flush()
    return token


def create_user_token(
    session: Session, actor: int, uid: int, token_hash: str, prefix: str
) -> dict[str, object]:
    """A user mints a token for themselves only (admins are not exempt)."""
    if actor != uid:
        raise not_authorised()
    if session.get(User, uid) is None:
        raise not_found("no-user")
    token = store(session, token_hash, prefix, uid)
    return token_data(token)


def create_master_token(session: Session) -> str:
    """Operator only (CLI): returns the secret, the one time it exists in clear."""
    secret = new_secret()
    store(session, digest(secret), secret[:PREFIX_LENGTH], None)
    return secret


def issue_user_token(session: Session, uid: int) -> str:
    """Operator only (CLI): a token for ``uid``; returns the secret."""
    if session.get(User, uid) is None:
        raise not_found("no-user")
    secret = new_secret()
    store(session, digest(secret), secret[:PREFIX_LENGTH], uid)
    return secret


def revoke(session: Session, actor: int, uid: int, token_hash: str) -> dict[str, object]:
    """Revoke ``uid``'s token by its digest (the secret never travels through the queue)."""
    if actor != uid:
        raise not_authorised()
    result = session.execute(
        delete(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.uid == uid)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise not_found("no-token")
    return {}


def admin_create(
    session: Session, actor: int, uid: int, token_hash: str, prefix: str, description: str = ""
) -> dict[str, object]:
    """An admin mints a token for ``uid`` (core's ``POST /admin/tokens``)."""
    require_admin(session, actor)
    if session.get(User, uid) is None:
        raise not_found("no-user")
    return core_token(store(session, token_hash, prefix, uid, description))


def admin_revoke(session: Session, actor: int, token_hash: str) -> dict[str, object]:
    require_admin(session, actor)
    result = session.execute(delete(ApiToken).where(ApiToken.token_hash == token_hash))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise not_found("no-token")
    return {}


def roll(
    session: Session, actor: int, token_hash: str, new_hash: str, prefix: str
) -> dict[str, object]:
    """The token gets a new secret (the old one stops working); owner and creation
    time stay."""
    require_admin(session, actor)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
    if token is None:
        raise not_found("no-token")
    token.token_hash, token.prefix = new_hash, prefix
    session.flush()
    return core_token(token)


def update(
    session: Session, actor: int, token_hash: str, uid: int, description: str = ""
) -> dict[str, object]:
    """Core's ``PUT /admin/tokens/{token}``: the token acts as ``uid`` from now on (an
    API's cache: within ``FORUMQ_TOKEN_CACHE_SECONDS``), with ``description``."""
    require_admin(session, actor)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
    if token is None:
        raise not_found("no-token")
    if token.uid is None:
        raise bad_request("invalid-data")  # a master token stays the operator's
    if session.get(User, uid) is None:
        raise not_found("no-user")
    token.uid, token.description = uid, description
    session.flush()
    return core_token(token)


def core_token(token: ApiToken) -> dict[str, object]:
    """Core's TokenObject, without the secret (the API adds it, the one time)."""
    return {
        "uid": token.uid or 0,
        "description": token.description or "",
        "timestamp": token.created_at,
        "timestampISO": iso(token.created_at),
        "lastSeen": token.last_used_at,
        "lastSeenISO": iso(token.last_used_at) if token.last_used_at else None,
    }


def list_for(session: Session, uid: int) -> list[dict[str, object]]:
    tokens = session.scalars(select(ApiToken).where(ApiToken.uid == uid).order_by(ApiToken.id))
    return [token_data(t) for t in tokens]


def token_data(token: ApiToken) -> dict[str, object]:
    return {
        "id": token.id,
        "prefix": token.prefix,
        "uid": token.uid,
        "createdAt": token.created_at,
        "createdAtISO": iso(token.created_at),
        "lastUsedAt": token.last_used_at,
    }
