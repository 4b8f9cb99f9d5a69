"""``forum.tokens``: digests at rest, lookup, and revocation of one's own tokens only."""

import pytest
from sqlalchemy import select

from forum import tokens
from forum.db import transaction
from forum.errors import ErrorClass, ForumError
from forum.models import ApiToken
from tests.support import new_user


def _mint(url: str, uid: int) -> tuple[str, int]:
    secret = tokens.new_secret()
    with transaction(url) as session:
        data = tokens.create_user_token(
            session, uid, uid, tokens.digest(secret), secret[: tokens.PREFIX_LENGTH]
        )
    return secret, int(data["id"])  # type: ignore[call-overload]


def test_only_the_digest_is_stored(db_url: str) -> None:
    uid = new_user(db_url)
    secret, token_id = _mint(db_url, uid)
    assert len(secret) == 36 and secret.count("-") == 4
    with transaction(db_url) as session:
        row = session.get(ApiToken, token_id)
        assert row is not None and row.uid == uid
        assert row.token_hash == tokens.digest(secret) != secret
        assert row.prefix == secret[:8]
        stored = session.execute(select(ApiToken.__table__)).all()
        assert all(secret not in str(tuple(r)) for r in stored)


def test_lookup_user_and_master_tokens(db_url: str) -> None:
    uid = new_user(db_url)
    secret, token_id = _mint(db_url, uid)
    with transaction(db_url) as session:
        master = tokens.create_master_token(session)
        issued = tokens.issue_user_token(session, uid)
    with transaction(db_url) as session:
        owner = tokens.lookup(session, secret)
        assert owner == tokens.TokenOwner(token_id=token_id, uid=uid)
        assert not owner.is_master
        master_owner = tokens.lookup(session, master)
        assert master_owner is not None and master_owner.is_master
        assert tokens.lookup(session, issued).uid == uid  # type: ignore[union-attr]
        assert tokens.lookup(session, tokens.new_secret()) is None
        assert tokens.lookup(session, tokens.digest(secret)) is None  # the digest is no key
        listed = tokens.list_for(session, uid)
    assert {t["id"] for t in listed} >= {token_id}
    assert all(set(t) >= {"id", "prefix", "createdAt"} and "token" not in t for t in listed)


def test_users_mint_tokens_for_themselves_only(db_url: str) -> None:
    uid, admin = new_user(db_url), new_user(db_url, admin=True)
    secret = tokens.new_secret()
    with pytest.raises(ForumError) as caught, transaction(db_url) as session:
        tokens.create_user_token(session, admin, uid, tokens.digest(secret), secret[:8])
    assert caught.value.error_class == ErrorClass.NOT_AUTHORISED
    with pytest.raises(ForumError) as caught, transaction(db_url) as session:
        tokens.issue_user_token(session, 987654321)
    assert caught.value.key == "no-user"


def test_revoke_only_own_token(db_url: str) -> None:
    alice, bob = new_user(db_url), new_user(db_url)
    alices, _ = _mint(db_url, alice)
    bobs, _ = _mint(db_url, bob)
    # The worker receives the digest (the secret never travels through the queue).
    with pytest.raises(ForumError) as caught, transaction(db_url) as session:
        tokens.revoke(session, alice, alice, tokens.digest(bobs))
    assert (caught.value.key, caught.value.error_class) == ("no-token", ErrorClass.NOT_FOUND)
    with pytest.raises(ForumError) as caught, transaction(db_url) as session:
        tokens.revoke(session, alice, bob, tokens.digest(bobs))
    assert caught.value.error_class == ErrorClass.NOT_AUTHORISED
    with transaction(db_url) as session:
        assert tokens.revoke(session, alice, alice, tokens.digest(alices)) == {}
    with transaction(db_url) as session:
        assert tokens.lookup(session, alices) is None
        assert tokens.lookup(session, bobs) is not None
