"""Core's flags over /api/v3: members report posts and users; admins, global moderators
and the moderators of a flagged post's category see, assign, resolve, annotate and
delete flags. Every answer is checked against ``write.yaml``; refusals leave no row."""

import pytest

from forum.models import Flag, FlagEvent, FlagNote, FlagReport
from tests.core_v3 import Core
from tests.support import unique, user_with_token


def _post(core: Core, token: str, cid: int | None = None) -> int:
    return int(core.topic(token, **({"cid": cid} if cid else {}))["mainPid"])


def test_a_report_makes_a_flag_moderators_see(core: Core) -> None:
    admin = core.stack.admin_token
    (author, a), (reporter, r), (second, s) = (
        user_with_token(core.stack.database_url) for _ in "abc"
    )
    pid = _post(core, a)
    # A member gets an empty answer; the flag is stored with its report and history.
    assert core.ok(r, "POST", "/flags", json={"type": "post", "id": pid, "reason": "Spam"}) == {}
    flag = core.row_where(Flag, Flag.type == "post", Flag.target_id == pid)
    assert (flag.state, flag.target_uid) == ("open", author)
    said = core.refused(r, "POST", "/flags", 400, json={"type": "post", "id": pid, "reason": "x"})
    assert said == "[[error:post-already-flagged]]"
    # A second reporter adds a report to the same flag.
    core.ok(s, "POST", "/flags", json={"type": "post", "id": pid, "reason": "Rude"})
    assert core.count(FlagReport.flag_id == flag.flag_id) == 2
    assert core.count(Flag.type == "post", Flag.target_id == pid) == 1
    # Members cannot see it (as if it did not exist); admins can.
    assert core.refused(r, "GET", f"/flags/{flag.flag_id}", 404) == "[[error:no-flag]]"
    seen = core.ok(admin, "GET", f"/flags/{flag.flag_id}")
    assert (seen["flagId"], seen["targetId"], seen["state"]) == (flag.flag_id, pid, "open")
    assert sorted(report["value"] for report in seen["reports"]) == ["Rude", "Spam"]
    assert seen["target"]["pid"] == pid
    # An admin's report answers the flag.
    other = _post(core, a)
    made = core.ok(admin, "POST", "/flags", json={"type": "post", "id": other, "reason": "Check"})
    assert made["targetId"] == other and made["reports"][0]["value"] == "Check"
    assert reporter != second


def test_category_moderators_handle_their_posts_flags(core: Core) -> None:
    admin = core.stack.admin_token
    (author, a), (_, r), (mod, m) = (user_with_token(core.stack.database_url) for _ in "abc")
    cid = core.ok(admin, "POST", "/categories", json={"name": unique("Flagged ")})["cid"]
    core.ok(admin, "PUT", f"/categories/{cid}/moderator/{mod}")
    pid = _post(core, a, cid)
    core.ok(r, "POST", "/flags", json={"type": "post", "id": pid, "reason": "Off topic"})
    flag_id = core.row_where(Flag, Flag.type == "post", Flag.target_id == pid).flag_id
    # A flag on a user is for admins and global moderators only.
    core.ok(r, "POST", "/flags", json={"type": "user", "id": author, "reason": "Rude"})
    user_flag = core.row_where(Flag, Flag.type == "user", Flag.target_id == author).flag_id
    core.refused(m, "GET", f"/flags/{user_flag}", 404)
    assert core.ok(admin, "GET", f"/flags/{user_flag}")["target"]["uid"] == author
    updated = core.ok(m, "PUT", f"/flags/{flag_id}", json={"state": "wip", "assignee": mod})
    assert updated["history"][0]["fields"] == {"state": "[[flags:state-wip]]",
                                               "assignee": core.username(mod)}  # fmt: skip
    assert core.row(Flag, flag_id).state == "wip" and core.row(Flag, flag_id).assignee == mod
    # A state core does not know is left out, as core does.
    core.ok(m, "PUT", f"/flags/{flag_id}", json={"state": "dunno"})
    assert core.row(Flag, flag_id).state == "wip"
    core.refused(r, "PUT", f"/flags/{flag_id}", 404, json={"state": "resolved"})
    # Notes: added, replaced by their author, deleted by their author only.
    noted = core.ok(m, "POST", f"/flags/{flag_id}/notes", json={"note": "Looking"})
    at = noted["notes"][0]["datetime"]
    core.ok(m, "POST", f"/flags/{flag_id}/notes", json={"note": "Still looking", "datetime": at})
    assert [n.content for n in core.rows(FlagNote, FlagNote.flag_id == flag_id)] == [
        "Still looking"
    ]
    said = core.refused(admin, "DELETE", f"/flags/{flag_id}/notes/{at}", 403)
    assert said == "[[error:no-privileges]]"
    core.refused(m, "DELETE", f"/flags/{flag_id}/notes/12345", 400)
    core.refused(m, "DELETE", f"/flags/{flag_id}/notes/soon", 400)
    left = core.ok(m, "DELETE", f"/flags/{flag_id}/notes/{at}")
    assert left["notes"] == []
    assert left["history"][0]["fields"] == {"notes": "[[flags:note-deleted]]"}
    # Deleting the flag takes its reports, notes and history.
    assert core.ok(m, "DELETE", f"/flags/{flag_id}") == {}
    assert core.row(Flag, flag_id) is None
    assert core.count(FlagReport.flag_id == flag_id) == 0
    assert core.count(FlagEvent.flag_id == flag_id) == 0


def test_a_withdrawn_last_report_resolves_the_flag(core: Core) -> None:
    (_, a), (_, r) = (user_with_token(core.stack.database_url) for _ in "ab")
    pid = _post(core, a)
    core.ok(r, "POST", "/flags", json={"type": "post", "id": pid, "reason": "Oops"})
    flag_id = core.row_where(Flag, Flag.type == "post", Flag.target_id == pid).flag_id
    assert core.ok(r, "DELETE", f"/flags/{flag_id}/report") == {}
    assert core.count(FlagReport.flag_id == flag_id) == 0
    assert core.row(Flag, flag_id).state == "resolved"
    assert core.refused(r, "DELETE", f"/flags/{flag_id}/report", 400) == "[[error:no-flag]]"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "post", "id": 987654321, "reason": "x"}, "[[error:invalid-data]]"),
        ({"type": "topic", "id": 1, "reason": "x"}, "[[error:invalid-data]]"),
        ({"type": "user", "id": "self", "reason": "x"}, "[[error:cant-flag-self]]"),
        ({"type": "user", "id": "admin", "reason": "x"}, "[[error:cant-flag-privileged]]"),
        ({"type": "post", "id": 1}, "[[error:required-parameters-missing, reason]]"),
        ({"type": "post", "id": 1, "reason": " "}, None),
        ({"type": "post", "id": "x", "reason": "y"}, None),
    ],
)
def test_bad_reports_leave_no_flag(core: Core, body: dict, message: str | None) -> None:
    uid, token = user_with_token(core.stack.database_url)
    body = {**body, "id": {"self": uid, "admin": core.stack.admin_uid}.get(body["id"], body["id"])}
    flags = core.count(Flag.flag_id > 0)
    said = core.refused(token, "POST", "/flags", 400, json=body)
    if message:
        assert said == message
    assert core.count(Flag.flag_id > 0) == flags
    assert core.count(FlagReport.uid == uid) == 0
