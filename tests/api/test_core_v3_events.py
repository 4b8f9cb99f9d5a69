"""Core's v3 topic events (``GET /topics/{tid}/events``, ``DELETE
/topics/{tid}/events/{eventId}``): the pins, locks, deletes, restores and moves that
applied are in the topic's history, refused ones are not. Each answer is checked
against core's ``write.yaml``, the rows after each write."""

import time
from typing import Any

from sqlalchemy import delete

from forum.db import transaction
from forum.models import CategoryPrivilege, TopicEvent
from tests.core_v3 import Core
from tests.support import new_category, user_with_token


def events_of(core: Core, tid: int) -> list[tuple[str, int, int | None]]:
    rows = sorted(core.rows(TopicEvent, TopicEvent.tid == tid), key=lambda row: row.id)
    return [(row.type, row.uid, row.from_cid) for row in rows]


def test_moderation_writes_are_in_the_topics_history(core: Core, member: Any) -> None:
    _, token = member
    admin, admin_uid = core.stack.admin_token, core.stack.admin_uid
    tid = core.topic(token)["tid"]
    assert core.ok(token, "GET", f"/topics/{tid}/events") == {"events": []}
    origin = core.stack.cid
    target = new_category(core.stack.database_url, "Moved here")
    for method, path in (("PUT", "lock"), ("DELETE", "lock"), ("PUT", "pin"),
                         ("DELETE", "pin"), ("DELETE", "state"), ("PUT", "state")):  # fmt: skip
        core.ok(admin, method, f"/topics/{tid}/{path}")
    core.ok(admin, "PUT", f"/topics/{tid}/move", json={"cid": target})
    core.ok(admin, "PUT", f"/topics/{tid}/move", json={"cid": target})  # no move: no event
    kinds = ["lock", "unlock", "pin", "unpin", "delete", "restore", "move"]
    assert events_of(core, tid) == [(kind, admin_uid, None) for kind in kinds[:-1]] + [
        ("move", admin_uid, origin)
    ]
    listed = core.ok(token, "GET", f"/topics/{tid}/events")["events"]
    assert [event["type"] for event in listed] == kinds
    assert [e["timestamp"] for e in listed] == sorted(e["timestamp"] for e in listed)
    lock, move = listed[0], listed[-1]
    assert lock["uid"] == admin_uid and lock["user"]["username"] == core.username(admin_uid)
    assert lock["icon"] == "fa-lock"
    assert lock["text"].startswith('[[topic:user-locked-topic-ago, <a href="/user/')
    assert move["fromCid"] == origin and move["fromCategory"]["cid"] == origin
    assert move["text"].startswith("[[topic:user-moved-topic-from-ago, ")
    assert listed[1]["icon"] == "fa-unlock" and listed[2]["icon"] == "fa-thumb-tack"


def test_refused_writes_record_nothing(core: Core, member: Any) -> None:
    _, token = member
    _, other = user_with_token(core.stack.database_url)
    tid = core.topic(token)["tid"]
    for method, path in (("PUT", "lock"), ("PUT", "pin")):
        core.refused(other, method, f"/topics/{tid}/{path}", 403)
    core.refused(other, "DELETE", f"/topics/{tid}/state", 403)
    core.refused(core.stack.admin_token, "PUT", f"/topics/{tid}/pin", 400, json={"expiry": 1})
    core.ok(token, "DELETE", f"/topics/{tid}/state")  # the owner may delete their own
    core.refused(token, "DELETE", f"/topics/{tid}/state", 400)  # already deleted
    assert [kind for kind, _, _ in events_of(core, tid)] == ["delete"]


def test_an_event_is_removed_by_moderators_and_admins(core: Core, member: Any) -> None:
    _, token = member
    admin = core.stack.admin_token
    tid, other_tid = core.topic(token)["tid"], core.topic(token)["tid"]
    core.ok(admin, "PUT", f"/topics/{tid}/lock")
    core.ok(admin, "PUT", f"/topics/{other_tid}/lock")
    event = core.row_where(TopicEvent, TopicEvent.tid == tid)
    elsewhere = core.row_where(TopicEvent, TopicEvent.tid == other_tid)
    message = core.refused(token, "DELETE", f"/topics/{tid}/events/{event.id}", 403)
    assert message == "[[error:no-privileges]]"
    # An event of another topic is not this one's: nothing is removed.
    assert core.ok(admin, "DELETE", f"/topics/{tid}/events/{elsewhere.id}") == {}
    assert core.count(TopicEvent.tid == other_tid) == 1
    core.refused(admin, "DELETE", f"/topics/{tid}/events/first", 400)
    core.refused(admin, "DELETE", f"/topics/{tid + 10_000}/events/{event.id}", 404)
    assert core.count(TopicEvent.tid == tid) == 1
    assert core.ok(admin, "DELETE", f"/topics/{tid}/events/{event.id}") == {}
    assert core.count(TopicEvent.tid == tid) == 0
    assert core.ok(token, "GET", f"/topics/{tid}/events") == {"events": []}
    core.ok(admin, "DELETE", f"/topics/{other_tid}")  # a purge takes the history along
    assert core.count(TopicEvent.tid == other_tid) == 0


def test_the_history_is_for_those_who_may_read_the_topic(core: Core, member: Any) -> None:
    _, token = member
    admin = core.stack.admin_token
    hidden = new_category(core.stack.database_url, "Hidden")
    body = {"cid": hidden, "title": "Hidden topic", "content": "Some content long enough"}
    tid = core.ok(admin, "POST", "/topics", json=body)["tid"]
    with transaction(core.stack.database_url) as session:
        session.execute(delete(CategoryPrivilege).where(CategoryPrivilege.cid == hidden))
    core.ok(admin, "PUT", f"/topics/{tid}/lock")
    assert core.refused(token, "GET", f"/topics/{tid}/events", 403) == "[[error:no-privileges]]"
    assert len(core.ok(admin, "GET", f"/topics/{tid}/events")["events"]) == 1
    core.refused(token, "GET", f"/topics/{tid + 10_000}/events", 404)
    core.refused(token, "GET", "/topics/none/events", 404)


def test_a_pin_that_expires_records_an_unpin_by_the_system(core: Core, member: Any) -> None:
    """Core's ``checkPinExpiry`` unpins an expired pin as the ``system`` user, which
    logs an ``unpin``; a pin ended earlier by hand records no second one."""
    _, token = member
    admin, admin_uid = core.stack.admin_token, core.stack.admin_uid
    expiring, ended = core.topic(token)["tid"], core.topic(token)["tid"]
    expiry = int(time.time() * 1000) + 2000
    for tid in (expiring, ended):
        core.ok(admin, "PUT", f"/topics/{tid}/pin", json={"expiry": expiry})
    core.ok(admin, "DELETE", f"/topics/{ended}/pin")
    assert [e["type"] for e in core.ok(token, "GET", f"/topics/{expiring}/events")["events"]] \
        == ["pin"]  # fmt: skip
    time.sleep(max(0, expiry / 1000 - time.time()) + 0.2)
    listed = core.ok(token, "GET", f"/topics/{expiring}/events")["events"]
    assert [(e["type"], e["uid"]) for e in listed] == [("pin", admin_uid), ("unpin", 0)]
    unpin = listed[1]
    assert unpin["timestamp"] == expiry and unpin["icon"] == "fa-thumb-tack fa-rotate-90"
    assert unpin["text"].startswith("[[topic:user-unpinned-topic-ago, [[global:system-user]], ")
    assert events_of(core, ended) == [("pin", admin_uid, None), ("unpin", admin_uid, None)]
    assert core.ok(token, "GET", f"/topics/{expiring}")["pinned"] == 0
