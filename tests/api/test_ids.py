"""Ids are never given twice, on every database: clients keep uids, tids and pids
(NodeBB's counters only grow), so a purged object's id never names a new one."""

from sqlalchemy import select

from forum.models import Category, Post, Topic, User
from tests.support import Forum, Stack


def test_purge_then_create_never_reuses_an_id(any_stack: Stack) -> None:
    forum = Forum(any_stack)
    uid = forum.user()
    tid, main = forum.topic(uid)
    reply = forum.reply(uid, tid)
    with forum.master(any_stack.admin_uid) as client:
        purged_reply = client.delete(f"/api/v2/posts/{reply}")
        purged_topic = client.delete(f"/api/v2/topics/{tid}")
        category = client.post("/api/v2/categories", json={"name": "Doomed"}).json()["payload"]
        purged_category = client.delete(f"/api/v2/categories/{category['cid']}")
        deleted_user = client.delete(f"/api/v2/users/{uid}")
    assert [a.status_code for a in (purged_reply, purged_topic, purged_category, deleted_user)] \
        == [200] * 4  # fmt: skip
    assert forum.row(Topic, tid) is None and forum.row(Post, main) is None
    assert forum.row(User, uid) is None

    new_uid = forum.user()
    new_tid, new_main = forum.topic(new_uid)
    new_reply = forum.reply(new_uid, new_tid)
    with forum.master(any_stack.admin_uid) as client:
        new_cid = client.post("/api/v2/categories", json={"name": "Next"}).json()["payload"]["cid"]
    assert new_uid > uid
    assert new_tid > tid
    assert min(new_main, new_reply) > max(main, reply)
    assert new_cid > category["cid"]


def test_bulk_import_after_a_purge_never_reuses_an_id(any_stack: Stack) -> None:
    forum = Forum(any_stack)
    uid = forum.user()
    tid, main = forum.topic(uid)
    with forum.master(any_stack.admin_uid) as client:
        assert client.delete(f"/api/v2/topics/{tid}").status_code == 200
        item = {"type": "topic", "external_id": f"ids-{tid}", "cid": any_stack.cid, "uid": uid}
        items = [{**item, "title": "Imported after a purge", "content": "Long enough text"}]
        answer = client.post("/api/v2/bulk", json=items, headers={"Prefer": "wait=30"})
    assert answer.status_code == 200, answer.text
    with any_stack.session() as session:
        imported = session.scalars(select(Topic).where(Topic.external_id == f"ids-{tid}")).one()
        assert imported.tid > tid
        assert imported.main_pid > main
        assert session.get(Category, any_stack.cid) is not None
