"""Core's v3 ``DELETE /users`` (several users at once) and ``PUT /admin/tokens/{token}``
(a token's user and description): answers checked against core's ``write.yaml``, rows
after each write, and a refused write changes nothing."""

import hashlib
import time
from typing import Any

from forum.models import ApiToken, Post, Topic, User
from tests.core_v3 import Core
from tests.support import new_user, user_with_token


def test_several_users_are_deleted_at_once(core: Core, member: Any) -> None:
    uid, token = member
    admin = core.stack.admin_token
    other, others = user_with_token(core.stack.database_url)
    tid = core.topic(others)["tid"]
    assert core.refused(token, "DELETE", "/users", 403, json={"uids": [other]}) == (
        "[[error:no-privileges]]"
    )
    admin_uid = new_user(core.stack.database_url, admin=True)
    message = core.refused(admin, "DELETE", "/users", 400, json={"uids": [other, admin_uid]})
    assert message == "[[error:cant-delete-other-admins]]"
    assert core.refused(admin, "DELETE", "/users", 404, json={"uids": [other, 2**40]}) == (
        "[[error:no-user]]"
    )
    assert "uids" in core.refused(admin, "DELETE", "/users", 400, json={})
    core.refused(admin, "DELETE", "/users", 400, json={"uids": ["someone"]})
    assert core.count(User.uid.in_([uid, other])) == 2 and core.row(Topic, tid) is not None
    assert core.ok(admin, "DELETE", "/users", json={"uids": [uid, other]}) == {}
    assert core.count(User.uid.in_([uid, other])) == 0
    assert core.row(Topic, tid) is None and core.count(Post.uid == other) == 0
    # A form's one value is a list of one.
    third = new_user(core.stack.database_url)
    assert core.ok(admin, "DELETE", "/users/", data={"uids": str(third)}) == {}
    assert core.row(User, third) is None


def test_a_token_is_given_another_user_and_a_description(core: Core, member: Any) -> None:
    uid, token = member
    admin = core.stack.admin_token
    other = new_user(core.stack.database_url)
    created = core.ok(admin, "POST", "/admin/tokens", json={"uid": uid, "description": "ci"})
    secret = created["token"]
    assert created["description"] == "ci"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    body = {"uid": other, "description": "the deploy bot"}
    assert core.refused(token, "PUT", f"/admin/tokens/{secret}", 403, json=body) == (
        "[[error:no-privileges]]"
    )
    wrong = (({"uid": 2**40}, 404, "no-user"), ({"description": "x"}, 400, "required-parameters"))
    for refused, status, key in wrong:
        assert key in core.refused(admin, "PUT", f"/admin/tokens/{digest}", status, json=refused)
    assert core.refused(admin, "PUT", f"/admin/tokens/{'0' * 64}", 404, json=body) == (
        "[[error:no-token]]"
    )
    row = core.row_where(ApiToken, ApiToken.token_hash == digest)
    assert (row.uid, row.description) == (uid, "ci")
    updated = core.ok(admin, "PUT", f"/admin/tokens/{secret}", json=body)
    assert (updated["uid"], updated["description"]) == (other, "the deploy bot")
    assert "token" not in updated  # the secret is shown at creation and roll only
    row = core.row_where(ApiToken, ApiToken.token_hash == digest)
    assert (row.uid, row.description) == (other, "the deploy bot")
    # The token acts as its new user once the API's token cache forgets it (2 s).
    deadline = time.monotonic() + 10
    while core.ok(secret, "POST", "/ping")["uid"] != other:
        assert time.monotonic() < deadline, "the token still acts as its old user"
        time.sleep(0.5)
