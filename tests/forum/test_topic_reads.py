"""The unread rule (``forum.topic_reads``): its SQL and its Python forms agree, on
both databases, for each case NodeBB distinguishes."""

from sqlalchemy import select

from forum import topic_reads
from forum.db import transaction
from forum.models import Post, Topic
from forum.topics import create_topic, reply
from tests.support import new_category, new_user

DAY = topic_reads.DAY_MS


def _unread_both_ways(url: str, uid: int, tid: int, now: int) -> bool:
    with transaction(url) as session:
        in_sql = session.scalar(
            select(Topic.tid).where(Topic.tid == tid, topic_reads.unread_clause(uid, now))
        )
        topic = session.get(Topic, tid)
        latest = session.get(Post, topic.teaser_pid or topic.main_pid)
        marker = topic_reads.markers(session, uid, [tid]).get(tid)
        in_python = topic_reads.is_unread(topic, latest.uid if latest else None, marker, uid, now)
    assert (in_sql is not None) == in_python
    return in_python


def test_the_unread_rule_in_sql_and_python(db_url: str) -> None:
    author, reader = new_user(db_url), new_user(db_url)
    cid = new_category(db_url)
    with transaction(db_url) as session:
        created = create_topic(session, author, cid, "Rule topic", "Content long enough")
        tid = int(created["topicData"]["tid"])  # type: ignore[index]
        when = session.get(Topic, tid).lastposttime
    now = when + 1000
    assert _unread_both_ways(db_url, reader, tid, now)
    assert not _unread_both_ways(db_url, author, tid, now)  # the latest post is theirs
    assert not _unread_both_ways(db_url, reader, tid, when + 3 * DAY)  # past the cutoff
    assert not _unread_both_ways(db_url, 0, tid, now)  # a guest has no news
    with transaction(db_url) as session:
        topic_reads.record_view(session, reader, tid, when)
    assert not _unread_both_ways(db_url, reader, tid, now)
    with transaction(db_url) as session:
        topic_reads.record_view(session, reader, tid, when - 5)  # an older view: ignored
        reply(session, author, tid, "A later reply, long enough", timestamp=when + 500)
    assert _unread_both_ways(db_url, reader, tid, now)
    with transaction(db_url) as session:
        topic_reads.mark_read(session, reader, tid)
    assert not _unread_both_ways(db_url, reader, tid, now)
    with transaction(db_url) as session:
        topic_reads.mark_unread(session, author, tid)
    assert _unread_both_ways(db_url, author, tid, now)  # marked unread, though theirs
