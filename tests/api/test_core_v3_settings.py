"""Core's ``PUT /admin/settings/{setting}`` over /api/v3: the forum rules an admin sets
are stored and the writes queued after them obey them. The stack is shared: each test
puts the rules back."""

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from forum.db import transaction
from forum.models import ForumSetting, Topic
from forum.settings_store import RULE_SETTINGS
from tests.core_v3 import CONTENT, Core
from tests.support import user_with_token


@pytest.fixture
def restored(core: Core) -> Iterator[None]:
    yield
    # The operator's path: the rules go back to the stack's own configuration.
    with transaction(core.stack.database_url) as session:
        session.execute(delete(ForumSetting).where(ForumSetting.key.in_(RULE_SETTINGS)))


def test_a_stored_rule_is_the_rule_writes_obey(core: Core, restored: None) -> None:
    admin = core.stack.admin_token
    _, token = user_with_token(core.stack.database_url)
    tid = core.topic(token)["tid"]
    short = "Ten chars!"
    core.ok(token, "POST", f"/topics/{tid}", json={"content": short})
    assert core.ok(admin, "PUT", "/admin/settings/minimumPostLength", json={"value": "20"}) == {}
    assert core.row(ForumSetting, "minimumPostLength").value == "20"
    said = core.refused(token, "POST", f"/topics/{tid}", 400, json={"content": short})
    assert said == "[[error:content-too-short, 20]]"
    core.ok(token, "POST", f"/topics/{tid}", json={"content": CONTENT})
    assert core.row(Topic, tid).postcount == 3
    core.ok(admin, "PUT", "/admin/settings/maximumTitleLength", json={"value": 10})
    said = core.refused(
        token,
        "POST",
        "/topics",
        400,
        json={"cid": core.stack.cid, "title": "Eleven long", "content": CONTENT},
    )
    assert said == "[[error:title-too-long, 10]]"  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "value", "status"),
    [
        ("minimumPostLength", "-1", 400),
        ("minimumPostLength", "ten", 400),
        ("minimumPostLength", 2**40, 400),
        ("minimumPostLength", None, 400),
        ("somePluginSetting", "1", 400),
        ("postQueue", "1", 400),
        ("maintenanceMode", "2", 400),
    ],
)
def test_bad_settings_are_refused_and_not_stored(
    core: Core, setting: str, value: object, status: int
) -> None:
    before = core.row(ForumSetting, setting)
    core.refused(core.stack.admin_token, "PUT", f"/admin/settings/{setting}", status,
                 json={} if value is None else {"value": value})  # fmt: skip
    after = core.row(ForumSetting, setting)
    assert (before and before.value) == (after and after.value)


def test_settings_are_for_admins_and_queues_stay_off(core: Core) -> None:
    _, token = user_with_token(core.stack.database_url)
    said = core.refused(token, "PUT", "/admin/settings/minimumPostLength", 403, json={"value": 1})
    assert said == "[[error:no-privileges]]"
    assert core.row(ForumSetting, "minimumPostLength") is None or (
        core.row(ForumSetting, "minimumPostLength").value != "1"
    )
    # forumq queues no post and delays none: saying so is accepted.
    assert core.ok(core.stack.admin_token, "PUT", "/admin/settings/postQueue",
                   json={"value": "0"}) == {}  # fmt: skip
