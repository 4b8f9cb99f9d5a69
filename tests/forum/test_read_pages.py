"""``forum.read`` pages straight from the domain: a fixed number of statements per page,
however many posts, authors and votes it shows (no query per row)."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from forum.chats import send_message
from forum.db import engine_for, transaction
from forum.read import categories, chats, topics
from forum.read.access import load_viewer
from forum.topics import create_topic, reply
from forum.votes import vote
from tests.support import new_category, new_user

NOW = 1_900_000_000_000


@contextmanager
def counted(url: str) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = engine_for(url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _topic(url: str, authors: list[int], cid: int, replies: int) -> int:
    with transaction(url) as session:
        created = create_topic(session, authors[0], cid, "A counted topic", "Content long enough")
        tid = int(created["topicData"]["tid"])  # type: ignore[index]
        for n in range(replies):
            author = authors[n % len(authors)]
            pid = int(reply(session, author, tid, f"Reply {n} long enough")["pid"])  # type: ignore[call-overload]
            voter = authors[(n + 1) % len(authors)]
            if voter != author:
                vote(session, voter, pid, 1)
    return tid


def _statements(url: str, uid: int, tid: int, page: int) -> int:
    with transaction(url) as session, counted(url) as statements:
        shown = topics.topic_page(session, load_viewer(session, uid), tid, post_index=None,
                                  page=page, per_page=20, now=NOW)  # fmt: skip
        assert shown["posts"]
    return len(statements)


def test_a_topic_page_is_a_fixed_number_of_statements(db_url: str) -> None:
    cid = new_category(db_url)
    authors = [new_user(db_url) for _ in range(6)]
    small = _topic(db_url, authors[:1], cid, replies=2)
    large = _topic(db_url, authors, cid, replies=45)
    for uid in (0, authors[0]):
        counts = {_statements(db_url, uid, tid, page) for tid, page in
                  ((small, 1), (large, 1), (large, 2), (large, 3))}  # fmt: skip
        assert len(counts) == 1, counts
        # The viewer (2 statements for a user, 1 for a guest), the topic, its posts: the
        # trail of a top-level category is itself, not every category.
        assert counts.pop() <= (5 if uid else 4)  # BEGIN included on SQLite
    # What the joined statements bring: each post's author, the viewer's own votes.
    with transaction(db_url) as session:
        shown = topics.topic_page(session, load_viewer(session, authors[1]), large,
                                  post_index=None, page=None, per_page=20, now=NOW)  # fmt: skip
    posts = shown["posts"]
    assert [p["user"]["uid"] for p in posts[1:4]] == authors[:3]
    assert [p["upvoted"] for p in posts[1:4]] == [True, False, False]  # authors[1] voted on 0
    assert posts[1]["votes"] == 1 and posts[0]["user"]["uid"] == shown["author"]["uid"]


def test_a_category_page_is_a_fixed_number_of_statements(db_url: str) -> None:
    cid, other_cid = new_category(db_url), new_category(db_url)
    authors = [new_user(db_url) for _ in range(5)]
    for n in range(3):
        _topic(db_url, authors[n : n + 1], cid, replies=1)
    for n in range(25):
        _topic(db_url, authors[n % 5 :], other_cid, replies=n % 3)
    seen = set()
    for where in (cid, other_cid):
        with transaction(db_url) as session, counted(db_url) as statements:
            page = categories.category_page(session, load_viewer(session, 0), where,
                                            topic_index=None, page=1, query={}, per_page=20,
                                            now=NOW)  # fmt: skip
            assert page["topics"]
        seen.add(len(statements))
    assert len(seen) == 1 and seen.pop() <= 10


def _chat_statements(url: str, uid: int, room: int) -> tuple[int, int]:
    """(statements of the room's load, of the caller's rooms list)."""
    counts = []
    for read in (
        lambda s, v: chats.load_room(s, v, room, NOW),
        lambda s, v: chats.recent_rooms(s, v, uid, 0, 19, NOW),
    ):
        with transaction(url) as session, counted(url) as statements:
            assert read(session, load_viewer(session, uid))
        counts.append(len(statements))
    return counts[0], counts[1]


def test_chat_reads_are_a_fixed_number_of_statements(db_url: str) -> None:
    me, small_peer = new_user(db_url), new_user(db_url)
    peers = [new_user(db_url) for _ in range(4)]
    with transaction(db_url) as session:
        small = int(send_message(session, me, small_peer, "Hello there")["roomId"])  # type: ignore[call-overload]
    first = _chat_statements(db_url, me, small)
    with transaction(db_url) as session:
        big = int(send_message(session, me, peers[0], "Hi")["roomId"])  # type: ignore[call-overload]
        for n in range(60):
            send_message(session, peers[0] if n % 2 else me, peers[0] if n % 2 == 0 else me,
                         f"Message {n}", room_id=big)  # fmt: skip
        for peer in peers[1:]:
            send_message(session, peer, me, "Another room")
    assert _chat_statements(db_url, me, big) == first, first
    assert first[0] <= 9 and first[1] <= 8  # BEGIN included on SQLite
