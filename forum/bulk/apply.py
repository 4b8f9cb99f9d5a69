"""Applying a chunk of import items with set-based SQL.

One chunk costs a fixed number of statements whatever its size: one lookup per
kind of reference, one id block per table, one COPY / multi-row insert per table,
and one batched UPDATE per table for the counters of rows that existed before.
Counters follow the imported timestamps exactly as single writes would leave them
(``forum.posts.add_post``): postcount, postercount, lastposttime and teaser per
topic, topic_count / post_count per category, topiccount / postcount /
lastposttime per user, replies per post. No notifications, no follower fan-out.

Items are mappings with the field names of ``schemas.bulk`` (``type``,
``external_id``, ``user``/``uid``, ...). A reference to an external id that is not
known yet *defers* the item when ``earlier_pending()`` says earlier work that may
create it is still running; otherwise the item fails with ``unknown-external-id``.
"""

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sqlalchemy import TextClause, bindparam, case, func, select, text, update
from sqlalchemy.orm import Session

from forum import privileges
from forum.bulk.sql import (
    allocate_ids,
    check_locked,
    copy_rows,
    insert_rows,
    int_array,
    is_postgres,
    lock_rows,
    lookup,
    row_triggers_off,
)
from forum.clock import now_ms
from forum.errors import ForumError, bad_request, forbidden, not_found
from forum.groups import ensure_system_groups
from forum.models import (
    Category,
    CategoryPrivilege,
    Group,
    GroupMember,
    Post,
    Topic,
    TopicTag,
    User,
)
from forum.passwords import hash_password
from forum.rules import NODEBB, Rules
from forum.text import clean_tags, slugify
from forum.users import (  # the one username, password and e-mail rules
    _USERNAME,
    check_email_form,
    check_password,
    email_keys,
)

CREATED, EXISTING, FAILED = "created", "existing", "failed"
Item = Mapping[str, Any]

# Topic and post rows are lists in these column orders, built once and handed to COPY
# as they are (no dict per row, no per-row key lookups to order its values).
TOPIC_COLUMNS = ("tid", "cid", "uid", "title", "slug", "main_pid", "timestamp", "lastposttime",
                 "postcount", "viewcount", "postercount", "teaser_pid", "locked", "pinned",
                 "deleted", "upvotes", "downvotes", "followercount", "deleter_uid",
                 "deleted_timestamp", "external_id")  # fmt: skip
T_TID, T_CID, T_TIMESTAMP, T_LAST, T_POSTCOUNT, T_POSTERS, T_TEASER = 0, 1, 6, 7, 8, 10, 11
POST_COLUMNS = ("pid", "tid", "uid", "content", "timestamp", "to_pid", "edited", "editor",
                "deleted", "upvotes", "downvotes", "replies", "bookmarks", "deleter_uid",
                "external_id")  # fmt: skip
P_PID, P_REPLIES = 0, 11
TAG_COLUMNS = ("tid", "tag")
# The counters of one topic's posts in this chunk: [posts, last timestamp, poster uids,
# teaser pid, teaser timestamp]; of one user's: [topics, posts, last timestamp]; of one
# category's: [topics, posts]. Lists: cheaper to build and bump than objects.
A_POSTS, A_LAST, A_UIDS, A_TEASER, A_TEASER_TS = 0, 1, 2, 3, 4
U_TOPICS, U_POSTS, U_LAST = 0, 1, 2
C_TOPICS, C_POSTS = 0, 1


@dataclass(slots=True)
class ItemResult:
    """One item's outcome; ``id`` is the forum id (uid, cid, tid or pid)."""

    index: int
    type: str
    external_id: str | None
    state: str
    id: int | None = None
    error: dict[str, Any] | None = None


@dataclass
class ChunkResult:
    results: list[ItemResult] = field(default_factory=list)
    # Items whose references may still be created by earlier, unfinished work.
    deferred: list[tuple[int, Item]] = field(default_factory=list)


def count_topic(
    topic_agg: dict[int, list[Any]], user_agg: dict[int, list[int]], tid: int, uid: int,
    created: int,
) -> None:  # fmt: skip
    """Count a new topic and its main post (never the teaser) in the counters of a batch."""
    topic_agg[tid] = [1, created, {uid}, None, -1]
    counts = user_agg.get(uid)
    if counts is None:
        user_agg[uid] = [1, 1, created]
    else:
        counts[U_TOPICS] += 1
        counts[U_POSTS] += 1
        if created > counts[U_LAST]:
            counts[U_LAST] = created


def count_reply(
    topic_agg: dict[int, list[Any]], user_agg: dict[int, list[int]], replies_to: dict[int, int],
    tid: int, uid: int, pid: int, created: int, to_pid: int | None,
) -> None:  # fmt: skip
    """Count a reply, in input order, in the counters of a batch: applied in one UPDATE
    per table (``write_rows``), they end where the replies applied one by one
    (``forum.posts.add_post``) would have left them."""
    agg = topic_agg.get(tid)
    if agg is None:  # a topic that existed before this batch
        agg = topic_agg[tid] = [0, 0, set(), None, -1]
    agg[A_POSTS] += 1
    if created > agg[A_LAST]:
        agg[A_LAST] = created
    agg[A_UIDS].add(uid)
    if created >= agg[A_TEASER_TS]:  # the latest reply (the later one of equals)
        agg[A_TEASER], agg[A_TEASER_TS] = pid, created
    counts = user_agg.get(uid)
    if counts is None:
        user_agg[uid] = [0, 1, created]
    else:
        counts[U_POSTS] += 1
        if created > counts[U_LAST]:
            counts[U_LAST] = created
    if to_pid is not None:
        replies_to[to_pid] = replies_to.get(to_pid, 0) + 1


class _Deferred(Exception):
    pass


class Rows:
    """What a batch writes (``write_rows``): its new rows, and the counters of its posts
    kept up as its items are walked in input order (``count_topic``, ``count_reply``)."""

    def __init__(self, session: Session, rules: Rules) -> None:
        self.session = session
        self.rules = rules
        self.users: list[dict[str, Any]] = []
        self.admins: list[int] = []
        self.categories: list[dict[str, Any]] = []
        self.topics: list[list[Any]] = []  # TOPIC_COLUMNS
        self.posts: list[list[Any]] = []  # POST_COLUMNS
        self.tags: list[tuple[int, str]] = []  # TAG_COLUMNS
        # Counters of this batch's posts (see A_, U_, C_), and the category of each topic.
        self.topic_agg: dict[int, list[Any]] = {}
        self.user_agg: dict[int, list[int]] = {}
        self.replies_to: dict[int, int] = {}
        self.topic_cid: dict[int, int] = {}
        self.skip_row_triggers = rules.bulk_skip_row_triggers


class _Chunk(Rows):
    """The state of one chunk while its items are walked in input order."""

    def __init__(
        self,
        session: Session,
        items: Sequence[tuple[int, Item]],
        earlier_pending: Callable[[], bool],
        optimistic: bool,
        rules: Rules,
    ) -> None:
        super().__init__(session, rules)
        self.items = items
        self.optimistic = optimistic
        # Asked before the references are looked up: once nothing earlier is pending,
        # everything earlier is committed and the lookups below see it (asking after
        # could miss a chunk that committed in between, and fail a good item).
        self.pending = earlier_pending()
        self.now = now_ms()
        by_type: dict[str, list[Item]] = defaultdict(list)
        for _, item in items:
            by_type[item["type"]].append(item)
        self.by_type = by_type
        self._load_references()
        self._allocate()
        self.tag_lengths = (rules.minimum_tag_length, rules.maximum_tag_length)

    # -- references -------------------------------------------------------------

    def _load_references(self) -> None:
        s, t = self.session, self.by_type
        users, cats, topics, replies = t["user"], t["category"], t["topic"], t["reply"]
        cat_refs = [i["external_id"] for i in cats] + [i.get("parent") for i in cats]
        cat_refs += [i.get("category") for i in topics]
        topic_refs = [i.get("topic") for i in replies]
        post_refs = [i.get("to") for i in replies]
        if self.optimistic:
            # Topics and replies of this chunk are taken to be new (the unique external_id
            # indexes, and ``unsure_existing``, check it), so references to them resolve
            # within the chunk, without looking them up.
            own_topics = {i["external_id"] for i in topics}
            own_posts = {i["external_id"] for i in replies}
            topic_refs = [ref for ref in topic_refs if ref not in own_topics]
            post_refs = [ref for ref in post_refs if ref not in own_posts]
        else:
            topic_refs += [i["external_id"] for i in topics]
            post_refs += [i["external_id"] for i in replies]
        authors = [i.get("user") for i in topics + replies]
        own_users = [i["external_id"] for i in users]
        self.uid_of = _user_ids(s, own_users, authors, cached=self.optimistic)
        self.cid_of = lookup(s, Category.external_id, Category.cid, cat_refs)
        self.pid_of = lookup(s, Post.external_id, Post.pid, post_refs)
        self.tid_of: dict[str, int] = lookup(s, Topic.external_id, Topic.tid, topic_refs)
        # Forum ids given directly must exist; a topic's category comes with it.
        wanted_tids = [i.get("tid") for i in replies] + list(self.tid_of.values())
        self.topic_cid.update(lookup(s, Topic.tid, Topic.cid, wanted_tids))
        self.known_uids = set(
            lookup(s, User.uid, User.uid, [i.get("uid") for i in topics + replies])
        )
        parent_cids = [i.get("parent_cid") for i in cats] + [i.get("cid") for i in topics]
        self.known_cids = set(lookup(s, Category.cid, Category.cid, parent_cids))
        self.known_pids = set(lookup(s, Post.pid, Post.pid, [i.get("to_pid") for i in replies]))
        emails = [i["email"].strip() for i in users if i.get("email")]
        # Keys (lower case) of the addresses users hold, then also this chunk's users.
        self.email_key, self.taken_emails = email_keys(s, emails)

    def _allocate(self) -> None:
        t, s = self.by_type, self.session
        self._uids = iter(allocate_ids(s, User.__table__, "uid", len(t["user"])))
        self._cids = iter(allocate_ids(s, Category.__table__, "cid", len(t["category"])))
        self._tids = iter(allocate_ids(s, Topic.__table__, "tid", len(t["topic"])))
        posts = len(t["topic"]) + len(t["reply"])
        self._pids = iter(allocate_ids(s, Post.__table__, "pid", posts))
        self._order = 0
        if t["category"]:
            self._order = s.scalar(select(func.coalesce(func.max(Category.order), 0))) or 0

    def resolve(self, mapping: dict[str, int], ext: str, what: str) -> int:
        # poster(), topic() and reply() inline this lookup (they run for every item, where
        # a method call per reference is a measurable share of a chunk); all of them
        # leave the rule for a miss to unknown().
        found = mapping.get(ext)
        if found is not None:
            return found
        self.unknown(ext, what)

    def unknown(self, ext: str, what: str) -> NoReturn:
        """A reference to an external id that is not known (yet)."""
        if self.pending:
            raise _Deferred
        raise bad_request("unknown-external-id", what, ext)

    def poster(self, item: Item) -> int:
        ref = item.get("user")
        if ref is not None:
            uid = self.uid_of.get(ref)
            if uid is None:
                self.unknown(ref, "user")
            return uid
        if item["uid"] not in self.known_uids:
            raise not_found("no-user")
        return int(item["uid"])

    # -- items ------------------------------------------------------------------

    def user(self, item: Item) -> tuple[str, int]:
        username = item["username"].strip()
        if not _USERNAME.match(username) or not slugify(username):
            raise bad_request("invalid-username")
        email = (item.get("email") or "").strip() or None
        if email is not None:
            check_email_form(email)
            if self.email_key[email] in self.taken_emails:
                raise bad_request("email-taken")
        # The API hashes a password before the job is stored; the direct import (no
        # job, no queue) hands it over here.
        password_hash = item.get("password_hash")
        if item.get("password") is not None:
            check_password(item["password"], self.rules)
            password_hash = hash_password(item["password"])
        uid = next(self._uids)
        joined = item.get("timestamp") or self.now
        if email:
            self.taken_emails.add(self.email_key[email])
        self.users.append({
            "uid": uid, "username": username, "userslug": "", "email": email,
            "password_hash": password_hash, "joindate": joined, "lastonline": joined,
            "lastposttime": 0, "postcount": 0, "topiccount": 0, "reputation": 0, "banned": False,
            "banned_until": 0, "ban_reason": "", "follower_count": 0, "following_count": 0,
            "profile": {}, "external_id": item["external_id"],
        })  # fmt: skip
        if item.get("admin"):
            self.admins.append(uid)
        self.uid_of[item["external_id"]] = uid
        return CREATED, uid

    def category(self, item: Item) -> tuple[str, int]:
        parent = 0
        if item.get("parent") is not None:
            parent = self.resolve(self.cid_of, item["parent"], "parent")
        elif item.get("parent_cid") is not None:
            if item["parent_cid"] not in self.known_cids:
                raise bad_request("no-category")
            parent = int(item["parent_cid"])
        cid = next(self._cids)
        order = item.get("order")
        if order is None:
            self._order += 1
            order = self._order
        name = item["name"].strip()
        self.categories.append({
            "cid": cid, "name": name, "slug": f"{cid}/{slugify(name)}",
            "description": item.get("description") or "", "parent_cid": parent, "order": order,
            "bg_color": "#86C1B9", "color": "#ffffff", "icon": "fa-comments",
            "css_class": "col-md-3 col-6", "topic_count": 0, "post_count": 0, "disabled": False,
            "background_image": None, "external_id": item["external_id"],
        })  # fmt: skip
        self.cid_of[item["external_id"]] = cid
        self.known_cids.add(cid)
        return CREATED, cid

    def topic(self, item: Item) -> tuple[str, int]:
        ref = item.get("category")
        if ref is not None:
            cid = self.cid_of.get(ref)
            if cid is None:
                self.unknown(ref, "category")
        else:
            cid = int(item["cid"])
            if cid not in self.known_cids:
                raise bad_request("no-category")
        uid = self.poster(item)
        raw_tags = item.get("tags")
        tags = clean_tags(list(raw_tags), *self.tag_lengths) if raw_tags else ()
        title = item["title"].strip()
        tid, pid = next(self._tids), next(self._pids)
        created = item.get("timestamp") or self.now
        self.topics.append([
            tid, cid, uid, title, f"{tid}/{_title_slug(title)}", pid, created, 0, 0,
            item.get("viewcount") or 0, 0, None, bool(item.get("locked")),
            bool(item.get("pinned")), bool(item.get("deleted")), 0, 0, 0, 0, 0,
            item["external_id"],
        ])  # fmt: skip
        self.posts.append([pid, tid, uid, item["content"].rstrip(), created, None, 0, None,
                           False, 0, 0, 0, 0, 0, None])  # fmt: skip
        count_topic(self.topic_agg, self.user_agg, tid, uid, created)
        if tags:
            self.tags.extend((tid, tag) for tag in tags)
        self.tid_of[item["external_id"]] = tid
        self.topic_cid[tid] = cid
        return CREATED, tid

    def reply(self, item: Item) -> tuple[str, int]:
        ref = item.get("topic")
        if ref is not None:
            tid = self.tid_of.get(ref)
            if tid is None:
                self.unknown(ref, "topic")
        else:
            tid = int(item["tid"])
            if tid not in self.topic_cid:
                raise not_found("no-topic")
        uid = self.poster(item)
        to_pid = None
        if item.get("to") is not None:
            to_pid = self.resolve(self.pid_of, item["to"], "to")
        elif item.get("to_pid") in self.known_pids:
            to_pid = int(item["to_pid"])  # NodeBB ignores a reply-to target that does not exist
        pid = next(self._pids)
        created = item.get("timestamp") or self.now
        votes = int(item.get("votes") or 0)
        self.posts.append([
            pid, tid, uid, item["content"].rstrip(), created, to_pid, 0, None,
            bool(item.get("deleted")), max(votes, 0), max(-votes, 0), 0, 0, 0,
            item["external_id"],
        ])  # fmt: skip
        count_reply(self.topic_agg, self.user_agg, self.replies_to, tid, uid, pid, created, to_pid)
        self.pid_of[item["external_id"]] = pid
        self.known_pids.add(pid)
        return CREATED, pid

    def unsure_existing(self, unsure: Mapping[str, list[str]]) -> bool:
        """Optimistic mode: does a topic or reply that was NOT inserted (failed or
        deferred) already exist? Then the full lookups must decide its result."""
        s = self.session
        return bool(
            lookup(s, Topic.external_id, Topic.tid, unsure["topic"])
            or lookup(s, Post.external_id, Post.pid, unsure["reply"])
        )

    def ids_by_type(self) -> dict[str, dict[str, int]]:
        """The forum ids known by external id, per item type."""
        return {"user": self.uid_of, "category": self.cid_of, "topic": self.tid_of,
                "reply": self.pid_of}  # fmt: skip


# The uids of users' external ids as read from each database (by URL): the authors of
# topics and replies, referenced over and over by an import's chunks, are looked up
# once per worker process instead of once per chunk. Only committed rows read by a
# lookup enter it, never a chunk's own new users. A user deleted since then: the
# foreign key on posts.uid / topics.uid refuses the insert (IntegrityError), and the
# chunk's second run (optimistic=False) bypasses and clears the database's entries.
# Uids are never reused (a sequence), so an entry is either right or refused.
# PostgreSQL only (SQLite may not enforce the foreign keys).
_UIDS_CACHED_MAX = 200_000  # per database; reaching it clears that database's entries
_cached_uids: dict[str, dict[str, int]] = {}


def _user_ids(
    session: Session, own: list[str], references: list[str | None], *, cached: bool
) -> dict[str, int]:
    """``{external id: uid}`` of the users known for a chunk's user items (``own``:
    always read from the database, their results say ``existing``) and for its
    topics' and replies' ``user`` references (from the cache when ``cached``)."""
    if not is_postgres(session):
        return lookup(session, User.external_id, User.uid, own + references)
    database = str(session.get_bind().url)
    if not cached:
        _cached_uids.pop(database, None)
        return lookup(session, User.external_id, User.uid, own + references)
    cache = _cached_uids.setdefault(database, {})
    own_set = set(own)
    hits: dict[str, int] = {}
    wanted = list(own_set)
    for ref in set(references):
        if ref is None or ref in own_set:
            continue
        uid = cache.get(ref)
        if uid is None:
            wanted.append(ref)
        else:
            hits[ref] = uid
    # (Read before the chunk writes anything: only committed rows.)
    found = lookup(session, User.external_id, User.uid, wanted)
    if len(cache) + len(found) > _UIDS_CACHED_MAX:
        cache.clear()
    cache.update(found)
    hits.update(found)
    return hits


def _title_slug(title: str) -> str:
    """``slugify(title) or "topic"``; a (stripped) title of ASCII letters, digits and
    spaces, the common case, without the regular expressions (same result)."""
    if title.isascii() and title.replace(" ", "").isalnum():
        return "-".join(title.lower().split())
    return slugify(title) or "topic"


def _later(column, value):  # type: ignore[no-untyped-def]
    return case((column < value, value), else_=column)


def _unique_slugs(session: Session, users: list[dict[str, Any]]) -> None:
    """A taken username gets " <n>" appended, as NodeBB's uniqueUsername does."""
    pending = list(users)
    claimed: set[str] = set()
    attempt: dict[int, int] = {id(u): 0 for u in users}
    base = {id(u): u["username"] for u in users}
    while pending:
        for user in pending:
            n = attempt[id(user)]
            user["username"] = base[id(user)] if n == 0 else f"{base[id(user)]} {n}"
            user["userslug"] = slugify(user["username"])
        taken = set(lookup(session, User.userslug, User.userslug, [u["userslug"] for u in pending]))
        retry = []
        for user in pending:
            if user["userslug"] in taken or user["userslug"] in claimed:
                attempt[id(user)] += 1
                retry.append(user)
            else:
                claimed.add(user["userslug"])
        pending = retry


def write_rows(chunk: Rows, before_write: Callable[[], None]) -> None:
    """Write a batch's new rows, and the counters of the rows that existed, set-based."""
    session = chunk.session
    before_write()
    topic_agg, user_agg, replies_to = chunk.topic_agg, chunk.user_agg, chunk.replies_to
    cat_agg: dict[int, list[int]] = {}
    topic_cid = chunk.topic_cid
    for tid, agg in topic_agg.items():
        cid = topic_cid[tid]
        counts = cat_agg.get(cid)
        if counts is None:
            cat_agg[cid] = [0, agg[A_POSTS]]
        else:
            counts[C_POSTS] += agg[A_POSTS]

    # New rows carry their final counters; rows that existed get one UPDATE each.
    for user in chunk.users:
        topics, posts, last = user_agg.pop(user["uid"], (0, 0, 0))
        user["topiccount"], user["postcount"], user["lastposttime"] = topics, posts, last
    for topic in chunk.topics:
        cat_agg[topic[T_CID]][C_TOPICS] += 1  # (its main post put the category in cat_agg)
        agg = topic_agg.pop(topic[T_TID])
        topic[T_POSTCOUNT], topic[T_POSTERS] = agg[A_POSTS], len(agg[A_UIDS])
        topic[T_LAST] = agg[A_LAST]
        if agg[A_TEASER] is not None and agg[A_TEASER_TS] >= topic[T_TIMESTAMP]:
            topic[T_TEASER] = agg[A_TEASER]
    for category in chunk.categories:
        category["topic_count"], category["post_count"] = cat_agg.pop(category["cid"], (0, 0))
    if replies_to:
        new_posts = {post[P_PID]: post for post in chunk.posts}
        for pid in [p for p in replies_to if p in new_posts]:
            new_posts[pid][P_REPLIES] = replies_to.pop(pid)

    if chunk.users:
        _unique_slugs(session, chunk.users)
        insert_rows(session, User.__table__, chunk.users)
    if chunk.admins:
        ensure_system_groups(session)
        insert_rows(session, GroupMember.__table__, [
            {"group_name": privileges.ADMINISTRATORS, "uid": uid, "joined_at": chunk.now,
             "is_owner": False} for uid in chunk.admins
        ])  # fmt: skip
        session.execute(
            update(Group).where(Group.name == privileges.ADMINISTRATORS)
            .values(member_count=Group.member_count + len(chunk.admins))
        )  # fmt: skip
    if chunk.categories:
        insert_rows(session, Category.__table__, chunk.categories)
        grants = [g for c in chunk.categories for g in privileges.default_grants(c["cid"])]
        insert_rows(session, CategoryPrivilege.__table__, [
            {"cid": g["cid"], "privilege": g["privilege"], "group_name": g["group_name"],
             "uid": g["uid"]} for g in grants
        ])  # fmt: skip
    # Every row COPY writes points at a row written above or locked by _update_existing:
    # the users, categories and topics left in user_agg, cat_agg and topic_agg are
    # exactly the existing parents, so foreign keys need no per-row check
    # (forum.bulk.sql); the counter updates change no key, which their triggers check.
    with row_triggers_off(session, chunk.skip_row_triggers):
        copy_rows(session, Topic.__table__, TOPIC_COLUMNS, chunk.topics)
        copy_rows(session, Post.__table__, POST_COLUMNS, chunk.posts)
        copy_rows(session, TopicTag.__table__, TAG_COLUMNS, chunk.tags)
        # Counters of existing rows last: their row locks (users and categories shared
        # by concurrent chunks) are then held for as short a time as possible.
        _update_existing(session, topic_agg, cat_agg, user_agg, replies_to)


def _update_existing(
    session: Session,
    topic_agg: dict[int, list[Any]],
    cat_agg: dict[int, list[int]],
    user_agg: dict[int, list[int]],
    replies_to: dict[int, int],
) -> None:
    """Counters of rows that existed before this chunk: one batched UPDATE per table,
    in the table order single writes take (topic, category, user, post), each table's
    rows in key order."""
    topics = sorted(topic_agg.items())
    cats = sorted(cat_agg.items())
    users = sorted(user_agg.items())
    replies = sorted(replies_to.items())
    if is_postgres(session):
        _update_existing_pg(session, topics, cats, users, replies)
        return
    conn = session.connection()
    if topics:
        posters = (
            select(func.count(func.distinct(Post.uid)))
            .where(Post.tid == Topic.tid)
            .scalar_subquery()
        )
        conn.execute(
            update(Topic.__table__).where(Topic.tid == bindparam("b_tid")).values(
                postcount=Topic.postcount + bindparam("b_n"),
                lastposttime=_later(Topic.lastposttime, bindparam("b_last")),
                postercount=posters,
                teaser_pid=case(
                    (bindparam("b_teaser_ts") >= Topic.lastposttime, bindparam("b_teaser")),
                    else_=Topic.teaser_pid,
                ),
            ),
            [{"b_tid": tid, "b_n": a[A_POSTS], "b_last": a[A_LAST], "b_teaser": a[A_TEASER],
              "b_teaser_ts": a[A_TEASER_TS] if a[A_TEASER] is not None else -1}
             for tid, a in topics],
        )  # fmt: skip
    if cats:
        conn.execute(
            update(Category.__table__).where(Category.cid == bindparam("b_cid")).values(
                topic_count=Category.topic_count + bindparam("b_topics"),
                post_count=Category.post_count + bindparam("b_posts"),
            ),
            [{"b_cid": cid, "b_topics": c[C_TOPICS], "b_posts": c[C_POSTS]} for cid, c in cats],
        )  # fmt: skip
    if users:
        conn.execute(
            update(User.__table__).where(User.uid == bindparam("b_uid")).values(
                topiccount=User.topiccount + bindparam("b_topics"),
                postcount=User.postcount + bindparam("b_posts"),
                lastposttime=_later(User.lastposttime, bindparam("b_last")),
            ),
            [{"b_uid": uid, "b_topics": u[U_TOPICS], "b_posts": u[U_POSTS], "b_last": u[U_LAST]}
             for uid, u in users],
        )  # fmt: skip
    if replies:
        conn.execute(
            update(Post.__table__).where(Post.pid == bindparam("b_pid"))
            .values(replies=Post.replies + bindparam("b_n")),
            [{"b_pid": pid, "b_n": n} for pid, n in replies],
        )  # fmt: skip


# PostgreSQL: one statement per table, the rows' new values in arrays (passed as array
# literals: psycopg would dump a list value by value, in Python). Rows are locked first
# (``lock_rows``), which also checks that the parents of the chunk's new rows still exist.
# The key condition besides the join lets the planner probe the primary key for the
# chunk's rows; with the join alone it hashed the whole users table for every chunk.
# (Not one statement with the lock in a CTE: its UPDATE would run on a snapshot taken
# before the lock waits, and re-check every row a concurrent chunk updated meanwhile,
# rescanning the arrays for each: slower than a second statement under contention.)
_PG_TOPICS = text("""
UPDATE topics AS t SET
  postcount = t.postcount + v.n,
  lastposttime = GREATEST(t.lastposttime, v.last),
  postercount = (SELECT count(DISTINCT p.uid) FROM posts AS p WHERE p.tid = t.tid),
  teaser_pid = CASE WHEN v.teaser_ts >= t.lastposttime THEN v.teaser ELSE t.teaser_pid END
FROM unnest(CAST(:keys AS bigint[]), CAST(:n AS integer[]), CAST(:last AS bigint[]),
            CAST(:teaser AS bigint[]), CAST(:teaser_ts AS bigint[]))
     AS v(tid, n, last, teaser, teaser_ts)
WHERE t.tid = v.tid AND t.tid = ANY(CAST(:keys AS bigint[]))""")
_PG_CATEGORIES = text("""
UPDATE categories AS c SET
  topic_count = c.topic_count + v.topics, post_count = c.post_count + v.posts
FROM unnest(CAST(:keys AS bigint[]), CAST(:topics AS integer[]), CAST(:posts AS integer[]))
     AS v(cid, topics, posts)
WHERE c.cid = v.cid AND c.cid = ANY(CAST(:keys AS bigint[]))""")
_PG_USERS = text("""
UPDATE users AS u SET
  topiccount = u.topiccount + v.topics, postcount = u.postcount + v.posts,
  lastposttime = GREATEST(u.lastposttime, v.last)
FROM unnest(CAST(:keys AS bigint[]), CAST(:topics AS integer[]), CAST(:posts AS integer[]),
            CAST(:last AS bigint[])) AS v(uid, topics, posts, last)
WHERE u.uid = v.uid AND u.uid = ANY(CAST(:keys AS bigint[]))""")
_PG_REPLIES = text("""
UPDATE posts AS p SET replies = p.replies + v.n
FROM unnest(CAST(:keys AS bigint[]), CAST(:n AS integer[])) AS v(pid, n)
WHERE p.pid = v.pid AND p.pid = ANY(CAST(:keys AS bigint[]))""")


def _locked_update(
    session: Session,
    table: str,
    key: str,
    keys: list[int],
    statement: TextClause,
    values: dict[str, str],
    *,
    parents: bool = True,
) -> None:
    """``parents``: the rows are users, categories or topics that new rows point at."""
    lock_rows(session, table, key, keys, must_exist=parents)
    session.execute(statement, {"keys": int_array(keys), **values})


def _update_existing_pg(
    session: Session,
    topics: list[tuple[int, list[Any]]],
    cats: list[tuple[int, list[int]]],
    users: list[tuple[int, list[int]]],
    replies: list[tuple[int, int]],
) -> None:
    if topics:
        _locked_update(session, "topics", "tid", [tid for tid, _ in topics], _PG_TOPICS, {
            "n": int_array(a[A_POSTS] for _, a in topics),
            "last": int_array(a[A_LAST] for _, a in topics),
            "teaser": int_array(a[A_TEASER] for _, a in topics),
            "teaser_ts": int_array(a[A_TEASER_TS] if a[A_TEASER] is not None else -1
                                   for _, a in topics),
        })  # fmt: skip
    if cats:
        _locked_update(session, "categories", "cid", [cid for cid, _ in cats], _PG_CATEGORIES, {
            "topics": int_array(c[C_TOPICS] for _, c in cats),
            "posts": int_array(c[C_POSTS] for _, c in cats),
        })  # fmt: skip
    if users:
        # No lock pass first (users are the most rows by far, and a lock per row is a
        # WAL record per row): the update meets its rows in key order anyway, by the
        # primary-key probe of ``keys`` (sorted), and its row count checks the parents.
        uids = [uid for uid, _ in users]
        updated = session.execute(_PG_USERS, {
            "keys": int_array(uids),
            "topics": int_array(u[U_TOPICS] for _, u in users),
            "posts": int_array(u[U_POSTS] for _, u in users),
            "last": int_array(u[U_LAST] for _, u in users),
        }).rowcount  # fmt: skip
        check_locked(_PG_USERS.text, "users", len(uids), updated)
    if replies:
        # A reply-to target is no foreign key: one purged meanwhile just keeps no count.
        _locked_update(session, "posts", "pid", [pid for pid, _ in replies], _PG_REPLIES, {
            "n": int_array(n for _, n in replies),
        }, parents=False)  # fmt: skip


def apply_items(
    session: Session,
    actor: int | None,
    items: Sequence[tuple[int, Item]],
    *,
    earlier_pending: Callable[[], bool] = lambda: False,
    before_write: Callable[[ChunkResult], None] = lambda outcome: None,
    optimistic: bool = False,
    rules: Rules = NODEBB,
) -> ChunkResult:
    """Create ``items`` (``(index, item)`` pairs, in input order) as ``actor``.

    ``actor`` None is the operator (CLI ``--direct``); any other actor must be an
    administrator. Never commits; one bad item fails alone. ``before_write`` gets
    the outcome once every item is decided, before the chunk's rows are written (the
    bulk worker stores the per-item results there, with their foreign-key checks).

    ``optimistic``: a first delivery skips looking up the external ids of its own
    topics and replies (they are almost always new). A topic or reply imported
    before then makes the insert fail on its unique external_id (IntegrityError: the
    caller rolls back and runs the chunk again with ``optimistic=False``); one that
    failed or was deferred is checked here, and the chunk walked again with the full
    lookups if it exists, so the results are those of the full lookups. It also takes
    the authors' uids from the worker's cache (``_user_ids``); a run that is not
    optimistic reads them all from the database and clears the cache."""
    outcome = ChunkResult()
    if not items:
        return outcome
    if actor is not None and not privileges.is_admin(session, actor):
        record = forbidden("no-privileges").record()
        outcome.results = [ItemResult(i, it["type"], it.get("external_id"), FAILED, error=record)
                           for i, it in items]  # fmt: skip
        return outcome
    chunk = _Chunk(session, items, earlier_pending, optimistic, rules)
    apply_one = {"user": chunk.user, "category": chunk.category, "topic": chunk.topic,
                 "reply": chunk.reply}  # fmt: skip
    unsure: dict[str, list[str]] = {"topic": [], "reply": []}
    ids, results = chunk.ids_by_type(), outcome.results
    for index, item in items:
        kind, ext = item["type"], item["external_id"]
        known = ids[kind].get(ext)
        if known is not None:  # imported before (or earlier in this chunk)
            results.append(ItemResult(index, kind, ext, EXISTING, known))
            continue
        try:
            state, forum_id = apply_one[kind](item)
        except _Deferred:
            outcome.deferred.append((index, item))
            unsure.get(kind, []).append(ext)
            continue
        except ForumError as exc:
            results.append(ItemResult(index, kind, ext, FAILED, error=exc.record()))
            unsure.get(kind, []).append(ext)
            continue
        results.append(ItemResult(index, kind, ext, state, forum_id))
    if optimistic and chunk.unsure_existing(unsure):
        return apply_items(session, actor, items, earlier_pending=earlier_pending,
                           before_write=before_write, rules=rules)  # fmt: skip
    write_rows(chunk, lambda: before_write(outcome))
    return outcome
