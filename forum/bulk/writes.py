"""Single writes applied set-based: a batch of topic creates and replies (the writes
that come by the thousand) as a bulk chunk is applied, with a fixed number of
statements whatever its size: one read per kind of row it checks, one id block per
table, one insert per table, one UPDATE per table for the counters (``write_rows``).

Each write is checked exactly as ``forum.topics.create_topic`` / ``reply`` check it
(the same rules, in the same order, with the same errors), against rows read once for
the batch and kept up as its writes are walked in order; the rows and counters it leaves
are those the writes applied one by one would leave (tests/forum/test_batch_writes.py).

A batch this path cannot decide exactly raises ``Unsure`` before writing anything: a
reply to a topic or post that does not exist yet, which an earlier write of the same
batch might create. The caller then applies the batch one write at a time.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum import payloads, privileges
from forum.bulk.apply import Rows, count_reply, count_topic, write_rows
from forum.bulk.sql import allocate_ids, lookup
from forum.clock import now_ms
from forum.errors import ForumError, bad_request, not_found
from forum.models import Category, Post, Topic, TopicTag, User
from forum.rules import NODEBB, Rules
from forum.text import check_length, slugify
from forum.topics import _check_content, _checked_tags
from forum.users import check_muted, is_banned

Payload = dict[str, object]
# What ``post_data`` / ``topic_data`` read of a new post or topic: the attributes of a
# row being written, without building ORM objects (they cost more than the rest).
View = SimpleNamespace
# Batches up to this size keep PostgreSQL's per-row foreign key checks (see _Batch).
FEW_WRITES = 4


@dataclass(slots=True)
class NewTopic:
    actor: int
    cid: int
    title: str
    content: str
    tags: Sequence[str] = ()
    timestamp: int | None = None


@dataclass(slots=True)
class NewReply:
    actor: int
    tid: int
    content: str
    to_pid: int | None = None
    timestamp: int | None = None


Write = NewTopic | NewReply


class Unsure(Exception):
    """The batch refers to a topic or post that an earlier write of it may create."""


class _Batch(Rows):
    def __init__(self, session: Session, writes: Sequence[Write], rules: Rules) -> None:
        super().__init__(session, rules)
        # A few rows: PostgreSQL's own per-row key checks cost less than the two
        # statements that turn them off (``forum.bulk.sql.row_triggers_off``).
        self.skip_row_triggers = self.skip_row_triggers and len(writes) > FEW_WRITES
        self.now = now_ms()
        actors = {w.actor for w in writes}
        self.user_rows = {
            user.uid: user for user in session.scalars(select(User).where(User.uid.in_(actors)))
        }
        # Authors' topic and post counts as the answers show them, kept up write by write.
        self.counts = {uid: [u.topiccount, u.postcount] for uid, u in self.user_rows.items()}
        self.admin = {uid: privileges.is_admin(session, uid) for uid in actors}
        replies = [w for w in writes if isinstance(w, NewReply)]
        # Locked in key order, as concurrent batches and single writes lock them.
        tids = sorted({w.tid for w in replies})
        # The replies' topics as the answers show them, kept up reply by reply.
        self.topic_rows = {
            row.tid: View(**row._mapping)
            for row in session.execute(
                select(Topic.__table__)
                .where(Topic.tid.in_(tids))
                .order_by(Topic.tid)
                .with_for_update()
            )
        }
        self.topic_cid.update((tid, row.cid) for tid, row in self.topic_rows.items())
        self.posted = {
            (row.tid, row.uid)
            for row in session.execute(
                select(Post.tid, Post.uid)
                .where(Post.tid.in_(tids), Post.uid.in_(actors))
                .distinct()
            )
        }
        # The replies' topics' tags, for the answers: one read for the batch.
        self._tags: dict[int, list[str]] = {tid: [] for tid in self.topic_rows}
        if self._tags:
            for tid, tag in session.execute(
                select(TopicTag.tid, TopicTag.tag)
                .where(TopicTag.tid.in_(self._tags))
                .order_by(TopicTag.tid, TopicTag.tag)  # as ``topic_tags`` orders them
            ):
                self._tags[tid].append(tag)
        cids = {w.cid for w in writes if isinstance(w, NewTopic)}
        self.categories_found = {
            row.cid: row.disabled
            for row in session.execute(
                select(Category.cid, Category.disabled).where(Category.cid.in_(cids))
            )
        } if cids else {}  # fmt: skip
        # The session's identity map holds objects weakly: without this, each answer
        # would read its category again.
        self._categories: dict[int, Category] = {}
        # An author's columns, read once per batch (their counts change write by write).
        self._user_fields: dict[int, dict[str, object]] = {}
        self.known_pids = set(lookup(session, Post.pid, Post.pid, [w.to_pid for w in replies]))
        self._granted: dict[tuple[int, str, int], bool] = {}

    def may(self, actor: int, privilege: str, cid: int) -> bool:
        """``privileges.has``, asked once per actor, privilege and category."""
        key = (actor, privilege, cid)
        if key not in self._granted:
            self._granted[key] = privileges.has(self.session, actor, privilege, cid)
        return self._granted[key]

    def poster(self, uid: int) -> None:
        """``forum.users.get_poster``."""
        row = self.user_rows.get(uid)
        if row is None:
            raise not_found("no-user")
        if is_banned(row, self.now):  # type: ignore[arg-type]
            raise bad_request("user-banned")

    def check_muted(self, actor: int, cid: int) -> None:
        """``forum.topics``' mute check (admins and the category's moderators skip it)."""
        row = self.user_rows[actor]
        if row.muted and not privileges.is_admin_or_mod(self.session, actor, cid):
            check_muted(row, self.now)  # type: ignore[arg-type]

    def check_topic(self, write: NewTopic) -> list[str]:
        """``forum.topics.create_topic``'s checks; the cleaned tags."""
        rules, actor = self.rules, write.actor
        self.poster(actor)
        admin = self.admin[actor]
        title = write.title.strip()
        if not admin:
            check_length(title, max(rules.minimum_title_length, 1), rules.maximum_title_length,
                         "title")  # fmt: skip
        tags = _checked_tags(list(write.tags), rules)
        if not admin:
            _check_content(write.content, rules)
        disabled = self.categories_found.get(write.cid)
        if disabled is None:
            raise bad_request("no-category")
        if disabled or not self.may(actor, "topics:create", write.cid):
            raise bad_request("no-privileges")
        if tags and not self.may(actor, "topics:tag", write.cid):
            raise bad_request("no-privileges")
        self.check_muted(actor, write.cid)
        return tags

    def check_reply(self, write: NewReply, creates_before: bool) -> None:
        """``forum.topics.reply``'s checks."""
        actor = write.actor
        self.poster(actor)
        topic = self.topic_rows.get(write.tid)
        if topic is None:
            if creates_before:
                raise Unsure(f"topic {write.tid}")
            raise not_found("no-topic")
        admin = self.admin[actor]
        if topic.locked and not admin:
            raise bad_request("topic-locked")
        if topic.deleted and not admin:
            raise bad_request("topic-deleted")
        if not self.may(actor, "topics:reply", topic.cid):
            raise bad_request("no-privileges")
        self.check_muted(actor, topic.cid)
        if not admin:
            _check_content(write.content, self.rules)

    def add_topic(self, write: NewTopic, tags: list[str], tid: int, pid: int) -> Payload:
        created = write.timestamp or self.now
        title = write.title.strip()
        content = write.content.rstrip()
        slug = f"{tid}/{slugify(title) or 'topic'}"
        topic = View(
            tid=tid, cid=write.cid, uid=write.actor, title=title, slug=slug, main_pid=pid,
            timestamp=created, lastposttime=created, postcount=1, viewcount=0, postercount=1,
            teaser_pid=None, locked=False, pinned=False, pin_expiry=0, deleted=False, upvotes=0,
            downvotes=0, followercount=0, deleter_uid=0,
        )  # fmt: skip
        self.topics.append([
            tid, write.cid, write.actor, title, slug, pid, created, 0, 0, 0, 0, None,
            False, False, False, 0, 0, 0, 0, 0, None,
        ])  # fmt: skip
        post = self._post(pid, tid, write.actor, content, created, None)
        self.tags.extend((tid, tag) for tag in tags)
        self.topic_cid[tid] = write.cid
        count_topic(self.topic_agg, self.user_agg, tid, write.actor, created)
        author = self._author(write.actor, topic=True)
        category = self._category(write.cid)
        return payloads.topic_answer(topic, post, category, author, tags, self.now)  # type: ignore[arg-type]

    def add_reply(self, write: NewReply, pid: int) -> Payload:
        created = write.timestamp or self.now
        # NodeBB ignores a reply-to target that does not exist.
        to_pid = write.to_pid if write.to_pid in self.known_pids else None
        post = self._post(pid, write.tid, write.actor, write.content.rstrip(), created, to_pid)
        self.known_pids.add(pid)
        count_reply(self.topic_agg, self.user_agg, self.replies_to, write.tid, write.actor, pid,
                    created, to_pid)  # fmt: skip
        # The topic as ``forum.posts.add_post`` leaves it.
        topic = self.topic_rows[write.tid]
        if topic.lastposttime <= created:
            topic.teaser_pid = pid
        topic.lastposttime = max(topic.lastposttime, created)
        topic.postcount += 1
        if (write.tid, write.actor) not in self.posted:
            self.posted.add((write.tid, write.actor))
            topic.postercount += 1
        author, category = self._author(write.actor), self._category(topic.cid)
        tags = self._tags[write.tid]
        return payloads.post_summary(post, topic, category, author, tags, self.now)  # type: ignore[arg-type]

    def _category(self, cid: int) -> Category:
        category = self._categories.get(cid)
        if category is None:
            category = self.session.get(Category, cid)
            assert category is not None  # checked, and locked by write_rows
            self._categories[cid] = category
        return category

    def _author(self, uid: int, *, topic: bool = False) -> View:
        """The author as the answer shows them: their topics and posts counted up to this
        write."""
        counts = self.counts[uid]
        counts[0] += topic
        counts[1] += 1
        fields = self._user_fields.get(uid)
        if fields is None:
            user = self.user_rows[uid]
            fields = {c.key: getattr(user, c.key) for c in User.__mapper__.column_attrs}
            self._user_fields[uid] = fields
        return View(**{**fields, "topiccount": counts[0], "postcount": counts[1]})

    def _post(
        self, pid: int, tid: int, uid: int, content: str, created: int, to_pid: int | None
    ) -> View:
        self.posts.append([pid, tid, uid, content, created, to_pid, 0, None, False, 0, 0, 0, 0,
                           0, None])  # fmt: skip
        return View(pid=pid, tid=tid, uid=uid, content=content, timestamp=created, to_pid=to_pid,
                    edited=0, editor=None, deleted=False, upvotes=0, downvotes=0, replies=0,
                    bookmarks=0, deleter_uid=0)  # fmt: skip


def apply_writes(
    session: Session, writes: Sequence[Write], rules: Rules = NODEBB
) -> list[Payload | ForumError]:
    """Apply ``writes`` in order, set-based: per write, its answer or the ``ForumError``
    it failed with (its writes left out). Raises ``Unsure`` (nothing written) when the
    batch must be applied one write at a time; never commits."""
    batch = _Batch(session, writes, rules)
    outcomes: list[Payload | ForumError] = []
    checked: list[tuple[int, Write, list[str]]] = []
    creates_before = False
    for index, write in enumerate(writes):
        try:
            if isinstance(write, NewTopic):
                checked.append((index, write, batch.check_topic(write)))
                creates_before = True
            else:
                batch.check_reply(write, creates_before)
                if write.to_pid is not None and write.to_pid not in batch.known_pids and checked:
                    raise Unsure(f"post {write.to_pid}")  # an earlier write may create it
                checked.append((index, write, []))
        except ForumError as error:
            outcomes.append(error)
            continue
        outcomes.append({})
    topics = sum(1 for _, write, _ in checked if isinstance(write, NewTopic))
    tids = iter(allocate_ids(session, Topic.__table__, "tid", topics))
    pids = iter(allocate_ids(session, Post.__table__, "pid", len(checked)))
    for index, write, tags in checked:
        if isinstance(write, NewTopic):
            outcomes[index] = batch.add_topic(write, tags, next(tids), next(pids))
        else:
            outcomes[index] = batch.add_reply(write, next(pids))
    if checked:
        write_rows(batch, lambda: None)
        # Forum rows the session holds are stale now (counters moved in SQL); the
        # caller's own objects (its jobs) are not.
        for held in list(session.identity_map.values()):
            if isinstance(held, Topic | Post | User | Category):
                session.expire(held)
    return outcomes
