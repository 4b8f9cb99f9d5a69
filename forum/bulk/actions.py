"""Single writes on existing objects applied set-based: a batch of post edits, votes,
bookmarks, topic follows and tag changes with a fixed number of statements whatever
its size: one read per kind of row it checks, then one write per table (``_write``).

Each job is checked as its domain function checks it (``forum.topics.edit_post``, with
its ``forum.diffs`` history row,
``forum.votes.vote``, ``forum.bookmarks.bookmark``, ``forum.topics.follow_topic``,
``forum.topics.replace_tags`` ...): the same rules in the same order with the same
errors, privileges asked for the acting uid (``forum.privileges``, its answers read
for the whole batch by ``privileges.preload``). The checks run against rows read once
and kept up in memory as the jobs are walked in order, so a job sees what the jobs
before it did (a vote then an unvote, two edits, a vote that moves the reputation an
edit window depends on). Counters are folded per batch: a post's votes and bookmarks,
a topic's votes and followers, an author's reputation. The rows and counters left,
and every job's answer, are those the jobs applied one by one would leave
(tests/forum/test_batch_writes.py).

None of these writes creates a row another one refers to, so a batch never has to
guess (``forum.bulk.writes.Unsure``): an object missing when the batch reads it is
missing for every job of it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from forum import privileges
from forum.clock import now_ms
from forum.errors import ForumError, bad_request, forbidden, not_found
from forum.models import (
    Bookmark,
    Post,
    PostDiff,
    PostVote,
    Topic,
    TopicFollow,
    TopicIgnore,
    TopicTag,
    User,
)
from forum.posts import post_data
from forum.read.objects import tag_object
from forum.rules import NODEBB, Rules
from forum.text import check_length, slugify
from forum.topics import _check_content, _checked_tags
from forum.users import is_banned
from forum.votes import DOWN, NONE, UP

Payload = dict[str, object]
View = SimpleNamespace
# Every privilege these jobs may ask about (``privileges.preload``).
ASKED = ("posts:upvote", "posts:downvote", "topics:read", "topics:tag", "posts:edit")


@dataclass(slots=True)
class Vote:
    """``votes.vote`` (``value`` UP or DOWN) and ``votes.unvote`` (NONE)."""

    actor: int
    pid: int
    value: int


@dataclass(slots=True)
class Mark:
    """``bookmarks.bookmark`` / ``unbookmark``."""

    actor: int
    pid: int
    wanted: bool


@dataclass(slots=True)
class Follow:
    """``topics.follow_topic`` / ``unfollow_topic``."""

    actor: int
    tid: int
    follow: bool


@dataclass(slots=True)
class Retag:
    """``topics.replace_tags`` / ``clear_tags`` (``add`` False), ``add_tags`` (True)."""

    actor: int
    tid: int
    tags: Sequence[str]
    add: bool = False


@dataclass(slots=True)
class Edit:
    """``topics.edit_post`` (``tid`` given by ``PUT /topics/:tid``)."""

    actor: int
    pid: int
    content: str
    title: str | None = None
    tags: Sequence[str] | None = None
    tid: int | None = None


Action = Vote | Mark | Follow | Retag | Edit


class _Pairs:
    """Rows keyed by (object, uid) as the batch leaves them: the value of each, and
    which rows the batch removed or (re)created (a row removed and made again is a new
    row, with its own ``created_at``, as one by one)."""

    def __init__(self, found: dict[tuple[int, int], Any]) -> None:
        self.found = found
        self.now = dict(found)
        self.created: dict[tuple[int, int], int] = {}  # key -> created_at

    def get(self, key: tuple[int, int]) -> Any:
        return self.now.get(key)

    def set(self, key: tuple[int, int], value: Any, at: int) -> None:
        if key not in self.now:
            self.created[key] = at
        self.now[key] = value

    def remove(self, key: tuple[int, int]) -> None:
        self.now.pop(key, None)
        self.created.pop(key, None)

    def removed(self) -> list[tuple[int, int]]:
        """Rows that existed and are gone or made anew."""
        return [k for k in self.found if k not in self.now or k in self.created]

    def changed(self) -> list[tuple[tuple[int, int], Any]]:
        """Rows that stayed, with a new value."""
        return [(k, v) for k, v in self.now.items()
                if k in self.found and k not in self.created and self.found[k] != v]  # fmt: skip


class _Batch:
    def __init__(self, session: Session, actions: Sequence[Action], rules: Rules) -> None:
        self.session, self.rules, self.now = session, rules, now_ms()
        on_posts = [a for a in actions if isinstance(a, Vote | Mark | Edit)]
        pids = sorted({a.pid for a in on_posts})
        post_tids = {
            pid: tid
            for pid, tid in session.execute(select(Post.pid, Post.tid).where(Post.pid.in_(pids)))
        }
        named = {a.tid for a in actions if isinstance(a, Follow | Retag | Edit) and a.tid}
        tids = sorted({*post_tids.values(), *named})
        # Locked topic before post, in key order: the order single writes lock them.
        self.topics = {
            row.tid: View(**row._mapping)
            for row in session.execute(
                select(Topic.__table__).where(Topic.tid.in_(tids)).order_by(Topic.tid)
                .with_for_update()
            )
        }  # fmt: skip
        mains = {t.main_pid for t in self.topics.values() if t.main_pid}
        self.posts = {
            row.pid: View(**row._mapping)
            for row in session.execute(
                select(Post.__table__).where(Post.pid.in_(sorted({*post_tids, *mains})))
                .order_by(Post.pid).with_for_update()
            )
        }  # fmt: skip
        actors = {a.actor for a in actions}
        uids = actors | {p.uid for p in self.posts.values()}
        self.users = {
            row.uid: View(**row._mapping)
            for row in session.execute(
                select(User.uid, User.username, User.userslug, User.banned, User.banned_until,
                       User.reputation).where(User.uid.in_(sorted(uids)))
            )
        }  # fmt: skip
        self.reputation_found = {uid: u.reputation for uid, u in self.users.items()}
        privileges.preload(session, actors, {t.cid for t in self.topics.values()}, ASKED)

        def pairs(model: Any, key: Any, wanted: list[Any], value: Any) -> _Pairs:
            if not wanted:
                return _Pairs({})
            keys = sorted({k for k, _ in wanted})
            rows = session.execute(
                select(key, model.uid, value).where(key.in_(keys), model.uid.in_(sorted(actors)))
            )
            return _Pairs({(k, uid): v for k, uid, v in rows})

        self.votes = pairs(PostVote, PostVote.pid,
                           [(a.pid, a.actor) for a in actions if isinstance(a, Vote)],
                           PostVote.value)  # fmt: skip
        self.marks = pairs(Bookmark, Bookmark.pid,
                           [(a.pid, a.actor) for a in actions if isinstance(a, Mark)],
                           Bookmark.created_at)  # fmt: skip
        watching = [(a.tid, a.actor) for a in actions if isinstance(a, Follow)]
        self.follows = pairs(TopicFollow, TopicFollow.tid, watching, TopicFollow.created_at)
        self.ignores = pairs(TopicIgnore, TopicIgnore.tid, watching, TopicIgnore.created_at)
        # Each edited post's latest kept version (``forum.diffs.record``), kept up.
        edited = sorted({a.pid for a in actions if isinstance(a, Edit)})
        self.last_diff: dict[int, int] = {}
        if edited:
            for pid, last in session.execute(
                select(PostDiff.pid, func.max(PostDiff.timestamp))
                .where(PostDiff.pid.in_(edited)).group_by(PostDiff.pid)
            ):  # fmt: skip
                self.last_diff[pid] = last
        self.diffs: list[dict[str, object]] = []
        # Tags of the topics retagged, and of the edited posts' topics (an edit answers them).
        tagged = sorted({a.tid for a in actions if isinstance(a, Retag)}
                        | {self.posts[a.pid].tid for a in actions
                           if isinstance(a, Edit) and a.pid in self.posts})  # fmt: skip
        self.tags: dict[int, list[str]] = {tid: [] for tid in tagged}
        if tagged:
            for tid, tag in session.execute(
                select(TopicTag.tid, TopicTag.tag).where(TopicTag.tid.in_(tagged))
                .order_by(TopicTag.tid, TopicTag.tag)
            ):  # fmt: skip
                self.tags[tid].append(tag)
        self.retagged: set[int] = set()
        self.refollowed: set[int] = set()
        self.edited: set[int] = set()
        self.retitled: set[int] = set()

    # -- the domain's lookups, on the batch's rows -------------------------------

    def poster(self, uid: int) -> View:
        """``forum.users.get_poster``."""
        user = self.users.get(uid)
        if user is None:
            raise not_found("no-user")
        if is_banned(user, self.now):  # type: ignore[arg-type]
            raise bad_request("user-banned")
        return user

    def topic(self, tid: int) -> View:
        topic = self.topics.get(tid)
        if topic is None:
            raise not_found("no-topic")
        return topic

    def post_with_topic(self, pid: int) -> tuple[View, View]:
        post = self.posts.get(pid)
        if post is None:
            raise not_found("no-post")
        return post, self.topics[post.tid]

    def reputation(self, uid: int) -> int | None:
        user = self.users.get(uid)
        return None if user is None else user.reputation

    def admin(self, uid: int) -> bool:
        return privileges.is_admin(self.session, uid)

    def may(self, uid: int, privilege: str, cid: int) -> bool:
        return privileges.has(self.session, uid, privilege, cid)

    def require_edit(self, actor: int, post: View, topic: View) -> None:
        privileges.require_edit(self.session, actor, post, topic, self.rules,  # type: ignore[arg-type]
                                reputation=self.reputation(actor) or 0)  # fmt: skip

    # -- the jobs ---------------------------------------------------------------

    def vote(self, a: Vote) -> Payload:
        """``forum.votes._set_vote``."""
        self.poster(a.actor)
        post, topic = self.post_with_topic(a.pid)
        if post.deleted:
            raise bad_request("post-deleted")
        if post.uid == a.actor:
            raise bad_request("self-vote")
        if a.value != NONE:
            needed = "posts:upvote" if a.value == UP else "posts:downvote"
            if not (self.admin(a.actor) or self.may(a.actor, needed, topic.cid)):
                raise bad_request("no-privileges")
        key = (a.pid, a.actor)
        previous = self.votes.get(key) or NONE
        if a.value != previous:
            if a.value == NONE:
                self.votes.remove(key)
            else:
                self.votes.set(key, a.value, self.now)
            ups = int(a.value == UP) - int(previous == UP)
            downs = int(a.value == DOWN) - int(previous == DOWN)
            post.upvotes += ups
            post.downvotes += downs
            if topic.main_pid == a.pid:
                topic.upvotes += ups
                topic.downvotes += downs
            author = self.users.get(post.uid)
            if author is not None:
                author.reputation += a.value - previous
        return {
            "user": {"reputation": self.reputation(post.uid)},
            "fromuid": a.actor,
            "post": {"pid": post.pid, "uid": post.uid, "tid": post.tid,
                     "upvotes": post.upvotes, "downvotes": post.downvotes,
                     "votes": post.upvotes - post.downvotes},
            "upvote": a.value == UP,
            "downvote": a.value == DOWN,
        }  # fmt: skip

    def mark(self, a: Mark) -> Payload:
        """``forum.bookmarks._set_bookmark``."""
        self.poster(a.actor)
        post, topic = self.post_with_topic(a.pid)
        if not (self.admin(a.actor) or self.may(a.actor, "topics:read", topic.cid)):
            raise bad_request("no-privileges")
        key = (a.pid, a.actor)
        has_it = self.marks.get(key) is not None
        if a.wanted and has_it:
            raise bad_request("already-bookmarked")
        if not a.wanted and not has_it:
            raise bad_request("already-unbookmarked")
        if a.wanted:
            self.marks.set(key, self.now, self.now)
        else:
            self.marks.remove(key)
        post.bookmarks += 1 if a.wanted else -1
        return {
            "post": {"pid": post.pid, "uid": post.uid, "bookmarks": post.bookmarks},
            "isBookmarked": a.wanted,
        }

    def follow(self, a: Follow) -> Payload:
        """``forum.topics._set_watching`` (follow, or neither): following un-ignores,
        unfollowing does both. The follower count is recounted at write."""
        self.poster(a.actor)
        self.topic(a.tid)
        key = (a.tid, a.actor)
        follows = self.follows.get(key) is not None
        if a.follow and not follows:
            self.follows.set(key, self.now, self.now)
        elif not a.follow and follows:
            self.follows.remove(key)
        self.ignores.remove(key)
        self.refollowed.add(a.tid)
        return {}

    def may_tag(self, actor: int, cid: int) -> bool:
        return self.admin(actor) or self.may(actor, "topics:tag", cid)

    def retag(self, a: Retag) -> Payload:
        """``forum.topics._retag``."""
        self.poster(a.actor)
        topic = self.topic(a.tid)
        main = self.posts.get(topic.main_pid)
        if main is None:
            raise not_found("no-post")
        self.require_edit(a.actor, main, topic)
        if not self.may_tag(a.actor, topic.cid):
            raise forbidden("no-privileges")
        wanted = [*self.tags[a.tid], *a.tags] if a.add else list(a.tags)
        checked = _checked_tags(wanted, self.rules)
        self.set_tags(a.tid, checked)
        return {"tags": [tag_object(tag) for tag in checked]}

    def set_tags(self, tid: int, tags: list[str]) -> None:
        self.tags[tid] = sorted(tags)  # as ``topic_tags`` reads them back
        self.retagged.add(tid)

    def edit(self, a: Edit) -> Payload:
        """``forum.topics.edit_post``."""
        rules = self.rules
        editor = self.poster(a.actor)
        if a.tid is not None:
            self.topic(a.tid)
        post = self.posts.get(a.pid)
        if post is None and a.tid is None:
            raise not_found("no-post")
        if post is None or (a.tid is not None and post.tid != a.tid):
            raise bad_request("invalid-pid")
        post, topic = self.post_with_topic(a.pid)
        _check_content(a.content, rules)
        if a.title:
            check_length(a.title, rules.minimum_title_length, rules.maximum_title_length,
                         "title")  # fmt: skip
        self.require_edit(a.actor, post, topic)
        is_main = topic.main_pid == post.pid
        old_title = topic.title
        new_tags = current = self.tags.get(topic.tid, [])
        if is_main and a.tags is not None:
            checked = _checked_tags(list(a.tags), rules)
            if set(checked) != set(current):
                if not self.may_tag(a.actor, topic.cid):
                    raise forbidden("no-privileges")
                self.set_tags(topic.tid, checked)
                new_tags = checked
        if is_main and a.title and a.title.strip():
            topic.title = a.title.strip()
            topic.slug = f"{topic.tid}/{slugify(topic.title) or 'topic'}"
            self.retitled.add(topic.tid)
        old_content = post.content
        post.content = a.content.rstrip()
        post.edited = self.now
        post.editor = a.actor
        self.edited.add(post.pid)
        renamed, retagged = topic.title != old_title, new_tags is not current
        if post.content != old_content or renamed or retagged:
            # ``forum.diffs.record``: the version replaced, a millisecond after the last.
            last = self.last_diff.get(post.pid)
            stamp = max(self.now, (last or 0) + 1, post.timestamp + 1)
            self.last_diff[post.pid] = stamp
            self.diffs.append({
                "pid": post.pid, "timestamp": stamp, "uid": a.actor, "content": old_content,
                "title": old_title if renamed else None,
                "tags": ",".join(current) if retagged else None,
            })  # fmt: skip
        return {
            "topic": {"tid": topic.tid, "cid": topic.cid, "uid": topic.uid, "title": topic.title,
                      "oldTitle": old_title, "slug": topic.slug, "isMainPost": is_main,
                      "renamed": topic.title != old_title,
                      "tags": [{"value": t} for t in new_tags]},
            "editor": {"uid": editor.uid, "username": editor.username,
                       "userslug": editor.userslug},
            "post": {**post_data(post), "cid": topic.cid, "isMain": is_main,  # type: ignore[arg-type]
                     "editor": a.actor},
        }  # fmt: skip

    def apply(self, action: Action) -> Payload:
        if isinstance(action, Vote):
            return self.vote(action)
        if isinstance(action, Mark):
            return self.mark(action)
        if isinstance(action, Follow):
            return self.follow(action)
        if isinstance(action, Retag):
            return self.retag(action)
        return self.edit(action)


def apply_actions(
    session: Session, actions: Sequence[Action], rules: Rules = NODEBB
) -> list[Payload | ForumError]:
    """Apply ``actions`` in order, set-based: per action, its answer or the
    ``ForumError`` it failed with (its writes left out). Never commits.

    A job that fails changes nothing: every check comes before the first change to the
    batch's rows, as in the domain functions."""
    batch = _Batch(session, actions, rules)
    # What the counters were before, to write differences (never lose a concurrent
    # increment, as the single writes' ``SET n = n + 1``).
    before = {pid: (p.upvotes, p.downvotes, p.bookmarks) for pid, p in batch.posts.items()}
    topic_votes = {tid: (t.upvotes, t.downvotes) for tid, t in batch.topics.items()}
    outcomes: list[Payload | ForumError] = []
    for action in actions:
        try:
            outcomes.append(batch.apply(action))
        except ForumError as error:
            outcomes.append(error)
    _write(batch, before, topic_votes)
    # Forum rows the ORM holds are stale now (changed in SQL); the caller's own
    # objects (its jobs) are not.
    for held in list(session.identity_map.values()):
        if isinstance(held, Topic | Post | User | PostVote | Bookmark | TopicFollow | TopicTag
                      | TopicIgnore | PostDiff):  # fmt: skip
            session.expire(held)
    return outcomes


def _write(
    batch: _Batch,
    before: dict[int, tuple[int, int, int]],
    topic_votes: dict[int, tuple[int, int]],
) -> None:
    """The batch's changes: per table one statement for what is removed, one for what
    is added, one for what is updated, each with every row of the batch."""
    session = batch.session
    conn = session.connection()

    def replace(table: Any, key: str, pairs: _Pairs, row: Any) -> None:
        gone = pairs.removed()
        if gone:
            conn.execute(delete(table).where(tuple_(table.c[key], table.c.uid).in_(sorted(gone))))
        made = sorted(pairs.created)
        if made:
            conn.execute(insert(table), [row(k, pairs.now[k], pairs.created[k]) for k in made])

    # Rows the posts and users point at are locked (read FOR UPDATE) or checked above.
    replace(PostVote.__table__, "pid", batch.votes,
            lambda k, v, at: {"pid": k[0], "uid": k[1], "value": v, "created_at": at})  # fmt: skip
    changed = batch.votes.changed()
    if changed:
        table = PostVote.__table__
        conn.execute(
            update(table)
            .where(table.c.pid == bindparam("b_pid"), table.c.uid == bindparam("b_uid"))
            .values(value=bindparam("b_value")),
            [{"b_pid": k[0], "b_uid": k[1], "b_value": v} for k, v in sorted(changed)],
        )
    replace(Bookmark.__table__, "pid", batch.marks,
            lambda k, _, at: {"pid": k[0], "uid": k[1], "created_at": at})  # fmt: skip
    replace(TopicFollow.__table__, "tid", batch.follows,
            lambda k, _, at: {"tid": k[0], "uid": k[1], "created_at": at})  # fmt: skip
    replace(TopicIgnore.__table__, "tid", batch.ignores, lambda k, _, at: {})  # (only removed)
    if batch.diffs:
        conn.execute(insert(PostDiff.__table__), batch.diffs)
    if batch.retagged:
        retagged = sorted(batch.retagged)
        conn.execute(delete(TopicTag.__table__).where(TopicTag.tid.in_(retagged)))
        rows = [{"tid": tid, "tag": tag} for tid in retagged for tag in batch.tags[tid]]
        if rows:
            conn.execute(insert(TopicTag.__table__), rows)

    # Topics, then posts, then users: the order single writes update them in.
    topics = Topic.__table__
    topic_rows = []
    for tid, topic in sorted(batch.topics.items()):
        ups, downs = topic.upvotes - topic_votes[tid][0], topic.downvotes - topic_votes[tid][1]
        retitled, recount = tid in batch.retitled, tid in batch.refollowed
        if ups or downs or retitled or recount:
            topic_rows.append({
                "b_tid": tid, "b_ups": ups, "b_downs": downs, "b_recount": int(recount),
                "b_title": topic.title if retitled else None,
                "b_slug": topic.slug if retitled else None,
            })  # fmt: skip
    if topic_rows:
        # NodeBB sets followercount to the size of tid:<tid>:followers after each change.
        followers = (select(func.count()).where(TopicFollow.tid == topics.c.tid)
                     .scalar_subquery())  # fmt: skip
        conn.execute(
            update(topics).where(topics.c.tid == bindparam("b_tid")).values(
                upvotes=topics.c.upvotes + bindparam("b_ups"),
                downvotes=topics.c.downvotes + bindparam("b_downs"),
                title=func.coalesce(cast(bindparam("b_title"), String), topics.c.title),
                slug=func.coalesce(cast(bindparam("b_slug"), String), topics.c.slug),
                followercount=case((bindparam("b_recount") == 1, followers),
                                   else_=topics.c.followercount),
            ),
            topic_rows,
        )  # fmt: skip
    posts = Post.__table__
    post_rows = []
    for pid, post in sorted(batch.posts.items()):
        ups, downs, marks = (post.upvotes - before[pid][0], post.downvotes - before[pid][1],
                             post.bookmarks - before[pid][2])  # fmt: skip
        edited = pid in batch.edited
        if ups or downs or marks or edited:
            post_rows.append({
                "b_pid": pid, "b_ups": ups, "b_downs": downs, "b_marks": marks,
                "b_content": post.content if edited else None,
                "b_edited": post.edited if edited else None,
                "b_editor": post.editor if edited else None,
            })  # fmt: skip
    if post_rows:
        edited_at = cast(bindparam("b_edited"), BigInteger)
        conn.execute(
            update(posts).where(posts.c.pid == bindparam("b_pid")).values(
                upvotes=posts.c.upvotes + bindparam("b_ups"),
                downvotes=posts.c.downvotes + bindparam("b_downs"),
                bookmarks=posts.c.bookmarks + bindparam("b_marks"),
                content=func.coalesce(cast(bindparam("b_content"), Text), posts.c.content),
                edited=func.coalesce(edited_at, posts.c.edited),
                editor=case((edited_at.is_(None), posts.c.editor),
                            else_=cast(bindparam("b_editor"), BigInteger)),
            ),
            post_rows,
        )  # fmt: skip
    users = User.__table__
    user_rows = [
        {"b_uid": uid, "b_delta": user.reputation - batch.reputation_found[uid]}
        for uid, user in sorted(batch.users.items())
        if user.reputation != batch.reputation_found[uid]
    ]
    if user_rows:
        conn.execute(
            update(users).where(users.c.uid == bindparam("b_uid"))
            .values(reputation=users.c.reputation + bindparam("b_delta")),
            user_rows,
        )  # fmt: skip
