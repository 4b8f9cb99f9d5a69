"""Tables of the forum database (SQLAlchemy 2.x declarative models).

Counters NodeBB keeps in its hashes (topic_count, postcount, ...) are columns here,
updated in the same transaction as the write that changes them.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")
# NodeBB never gives an id twice and clients keep ids: without AUTOINCREMENT, SQLite
# hands out the largest rowid again once its row is deleted (migration 0011). PostgreSQL
# sequences never go back.
NEVER_REUSED = {"sqlite_autoincrement": True}
# An importer's id for a row: compared byte for byte on PostgreSQL ("C"), not by the
# database's language rules, which only make each unique-index probe slower (every
# imported row inserts one, every reference looks one up). SQLite compares bytes anyway.
ExternalId = String(255).with_variant(String(255, collation="C"), "postgresql")


class Base(DeclarativeBase):
    # Named constraints, so later migrations can alter them on every database.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    __tablename__ = "users"

    uid: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(255))
    userslug: Mapped[str] = mapped_column(String(255), unique=True)
    # Unique whatever its case: ix_users_email_lower, below the class.
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    joindate: Mapped[int] = mapped_column(BigInteger)
    lastonline: Mapped[int] = mapped_column(BigInteger)
    lastposttime: Mapped[int] = mapped_column(BigInteger, default=0)
    postcount: Mapped[int] = mapped_column(Integer, default=0)
    topiccount: Mapped[int] = mapped_column(Integer, default=0)
    reputation: Mapped[int] = mapped_column(Integer, default=0)
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    banned_until: Mapped[int] = mapped_column(BigInteger, default=0)  # 0: permanent
    ban_reason: Mapped[str] = mapped_column(Text, default="")
    # A muted user may not post or chat until ``muted_until`` (0: for good); NodeBB's
    # muted / mutedUntil / mutedReason (migration 0017).
    muted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    muted_until: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    muted_reason: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    following_count: Mapped[int] = mapped_column(Integer, default=0)
    # Editable profile fields (fullname, website, location, birthday, signature, aboutme).
    profile: Mapped[dict] = mapped_column(JSON, default=dict)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)

    # Room on each page for the counters' new row versions: updated in place (HOT), an
    # UPDATE adds no entry to the unique indexes (migration 0003).
    __table_args__ = ({"postgresql_with": {"fillfactor": 80}, **NEVER_REUSED},)


# NodeBB keys addresses in lower case (email:uid): one address per user whatever its
# case, stored as the user gave it (migration 0007). forum.users asks with this lower().
EMAIL_INDEX = "ix_users_email_lower"
Index(EMAIL_INDEX, func.lower(User.email), unique=True)


class Group(Base):
    __tablename__ = "groups"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    createtime: Mapped[int] = mapped_column(BigInteger)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    system: Mapped[bool] = mapped_column(Boolean, default=False)
    private: Mapped[bool] = mapped_column(Boolean, default=True)


class GroupMember(Base):
    __tablename__ = "group_members"

    group_name: Mapped[str] = mapped_column(
        ForeignKey("groups.name", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[int] = mapped_column(BigInteger)
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)


class Category(Base):
    __tablename__ = "categories"
    __table_args__ = NEVER_REUSED

    cid: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    parent_cid: Mapped[int] = mapped_column(BigInteger, default=0)
    order: Mapped[int] = mapped_column(Integer, default=1)
    bg_color: Mapped[str] = mapped_column(String(32), default="#86C1B9")
    color: Mapped[str] = mapped_column(String(32), default="#ffffff")
    icon: Mapped[str] = mapped_column(String(64), default="fa-comments")
    css_class: Mapped[str] = mapped_column(String(64), default="col-md-3 col-6")
    topic_count: Mapped[int] = mapped_column(Integer, default=0)
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    background_image: Mapped[str | None] = mapped_column(String(1024))
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)


class CategoryPrivilege(Base):
    """A grant: ``privilege`` on ``cid`` (0 = global) to a group or to one user."""

    __tablename__ = "category_privileges"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    cid: Mapped[int] = mapped_column(BigInteger, index=True)
    privilege: Mapped[str] = mapped_column(String(64))
    group_name: Mapped[str | None] = mapped_column(String(255))
    uid: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("cid", "privilege", "group_name", "uid"),)


class Topic(Base):
    __tablename__ = "topics"

    tid: Mapped[int] = mapped_column(Id, primary_key=True)
    # Indexed by ix_topics_cid_lastposttime (its leading column).
    cid: Mapped[int] = mapped_column(ForeignKey("categories.cid"))
    uid: Mapped[int] = mapped_column(ForeignKey("users.uid"), index=True)
    title: Mapped[str] = mapped_column(String(1024))
    slug: Mapped[str] = mapped_column(String(1100))
    main_pid: Mapped[int] = mapped_column(BigInteger, default=0)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    lastposttime: Mapped[int] = mapped_column(BigInteger, default=0)
    postcount: Mapped[int] = mapped_column(Integer, default=0)
    viewcount: Mapped[int] = mapped_column(Integer, default=0)
    postercount: Mapped[int] = mapped_column(Integer, default=0)
    teaser_pid: Mapped[int | None] = mapped_column(BigInteger)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the pin ends by itself (ms; 0: never): reads stop showing it pinned then.
    pin_expiry: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    downvotes: Mapped[int] = mapped_column(Integer, default=0)
    followercount: Mapped[int] = mapped_column(Integer, default=0)
    deleter_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted_timestamp: Mapped[int] = mapped_column(BigInteger, default=0)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)

    __table_args__ = (
        Index("ix_topics_cid_lastposttime", "cid", "lastposttime"),
        # The read API's lists across categories (/api/recent): migration 0010.
        Index("ix_topics_lastposttime", "lastposttime"),
        NEVER_REUSED,
    )


class Post(Base):
    __tablename__ = "posts"

    pid: Mapped[int] = mapped_column(Id, primary_key=True)
    tid: Mapped[int] = mapped_column(ForeignKey("topics.tid", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(ForeignKey("users.uid"), index=True)
    content: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    to_pid: Mapped[int | None] = mapped_column(BigInteger)
    edited: Mapped[int] = mapped_column(BigInteger, default=0)
    editor: Mapped[int | None] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    downvotes: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    bookmarks: Mapped[int] = mapped_column(Integer, default=0)
    deleter_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)

    __table_args__ = (Index("ix_posts_tid_timestamp", "tid", "timestamp"), NEVER_REUSED)


class GroupRequest(Base):
    """A pending request to join a private group."""

    __tablename__ = "group_requests"

    group_name: Mapped[str] = mapped_column(
        ForeignKey("groups.name", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True)
    requested_at: Mapped[int] = mapped_column(BigInteger)


class GroupInvite(Base):
    """An invitation to join a group, sent by its owner or an admin, pending the user's answer."""

    __tablename__ = "group_invites"

    group_name: Mapped[str] = mapped_column(
        ForeignKey("groups.name", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    invited_at: Mapped[int] = mapped_column(BigInteger)


class UserFollow(Base):
    __tablename__ = "user_follows"

    follower_uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True
    )
    followee_uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)


class TopicFollow(Base):
    __tablename__ = "topic_follows"

    tid: Mapped[int] = mapped_column(ForeignKey("topics.tid", ondelete="CASCADE"), primary_key=True)
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)


class TopicIgnore(Base):
    """``tid:<tid>:ignorers``: a user ignoring a topic (never also following it)."""

    __tablename__ = "topic_ignores"

    tid: Mapped[int] = mapped_column(ForeignKey("topics.tid", ondelete="CASCADE"), primary_key=True)
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)


class PostDiff(Base):
    """One edit of a post (``post:<pid>:diffs``): the version the edit at ``timestamp``
    replaced, whole rather than as a patch; ``title`` and ``tags`` (comma-joined) only
    when the edit changed them."""

    __tablename__ = "post_diffs"

    pid: Mapped[int] = mapped_column(ForeignKey("posts.pid", ondelete="CASCADE"), primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uid: Mapped[int] = mapped_column(BigInteger)  # the editor (kept if the user goes)
    content: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(1024))
    tags: Mapped[str | None] = mapped_column(Text)


class PostVote(Base):
    """One user's vote on a post: +1 or -1."""

    __tablename__ = "post_votes"

    pid: Mapped[int] = mapped_column(ForeignKey("posts.pid", ondelete="CASCADE"), primary_key=True)
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Bookmark(Base):
    __tablename__ = "bookmarks"

    pid: Mapped[int] = mapped_column(ForeignKey("posts.pid", ondelete="CASCADE"), primary_key=True)
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)


class TopicRead(Base):
    """When a user last read a topic: the topic's ``lastposttime`` they saw (NodeBB's
    ``uid:<uid>:tids_read``); ``UNREAD_MARK`` when they marked it unread."""

    __tablename__ = "topic_reads"

    uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True)
    tid: Mapped[int] = mapped_column(
        ForeignKey("topics.tid", ondelete="CASCADE"), primary_key=True, index=True
    )
    read_at: Mapped[int] = mapped_column(BigInteger)


class CategoryWatch(Base):
    """A user's watch state of a category (``cid:<cid>:uid:watch:state``): 1 ignoring,
    2 not watching, 3 tracking, 4 watching. No row: the default, tracking."""

    __tablename__ = "category_watches"

    cid: Mapped[int] = mapped_column(
        ForeignKey("categories.cid", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[int] = mapped_column(Integer)


class TopicThumb(Base):
    """A topic's thumbnail (NodeBB's ``thumbs`` of ``topic:<tid>``): ``path`` relative to
    the upload directory, the ``url`` it is served at, in ``position`` order."""

    __tablename__ = "topic_thumbs"

    tid: Mapped[int] = mapped_column(ForeignKey("topics.tid", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(2048))
    position: Mapped[int] = mapped_column(Integer)


class TopicEvent(Base):
    """An event of a topic's history (``topicEvent:<id>``): ``type`` (pin, unpin, lock,
    unlock, delete, restore, move), by ``uid``; a move's ``from_cid``."""

    __tablename__ = "topic_events"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tid: Mapped[int] = mapped_column(ForeignKey("topics.tid", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    uid: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    from_cid: Mapped[int | None] = mapped_column(BigInteger)


class ChatRoom(Base):
    __tablename__ = "chat_rooms"
    __table_args__ = NEVER_REUSED

    room_id: Mapped[int] = mapped_column(Id, primary_key=True)
    owner_uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    # Core's roomName: shown instead of the members' names when set.
    room_name: Mapped[str] = mapped_column(String(255), default="")


class ChatRoomMember(Base):
    __tablename__ = "chat_room_members"

    room_id: Mapped[int] = mapped_column(
        ForeignKey("chat_rooms.room_id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[int] = mapped_column(BigInteger)
    # Core's chat:room:<id>:owners: owners rename the room, remove members, pin messages.
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)


class ChatRead(Base):
    """How far a member has read a room: the latest message they saw (``read_mid``), and
    whether they marked it unread since (NodeBB's ``uid:<uid>:chat:rooms:unread``)."""

    __tablename__ = "chat_reads"

    uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True)
    room_id: Mapped[int] = mapped_column(
        ForeignKey("chat_rooms.room_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    read_mid: Mapped[int] = mapped_column(BigInteger)
    marked_unread: Mapped[bool] = mapped_column(Boolean)


class ChatMessage(Base):
    __tablename__ = "chat_messages"

    mid: Mapped[int] = mapped_column(Id, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("chat_rooms.room_id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    edited: Mapped[int] = mapped_column(BigInteger, default=0)  # 0: never
    pinned_at: Mapped[int] = mapped_column(BigInteger, default=0)  # 0: not

    __table_args__ = (
        Index("ix_chat_messages_room_timestamp", "room_id", "timestamp"),
        NEVER_REUSED,
    )


class Flag(Base):
    """A flagged post or user (core's ``flag:<id>``): one per target, its reports apart."""

    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("type", "target_id"), NEVER_REUSED)

    flag_id: Mapped[int] = mapped_column(Id, primary_key=True)
    type: Mapped[str] = mapped_column(String(8))  # "post" or "user"
    target_id: Mapped[int] = mapped_column(BigInteger)
    target_uid: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[int | None] = mapped_column(BigInteger)
    datetime: Mapped[int] = mapped_column(BigInteger)


class FlagReport(Base):
    """One user's report of a flag's target, with the reason given."""

    __tablename__ = "flag_reports"

    flag_id: Mapped[int] = mapped_column(
        ForeignKey("flags.flag_id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True, index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class FlagNote(Base):
    """A moderator's note on a flag, keyed by its time as core keys it."""

    __tablename__ = "flag_notes"

    flag_id: Mapped[int] = mapped_column(
        ForeignKey("flags.flag_id", ondelete="CASCADE"), primary_key=True
    )
    datetime: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uid: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[str] = mapped_column(Text)


class FlagEvent(Base):
    """A change to a flag (core's ``flag:<id>:history``): who, when, which fields."""

    __tablename__ = "flag_history"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    flag_id: Mapped[int] = mapped_column(
        ForeignKey("flags.flag_id", ondelete="CASCADE"), index=True
    )
    uid: Mapped[int] = mapped_column(BigInteger)
    fields: Mapped[dict] = mapped_column(JSON)
    datetime: Mapped[int] = mapped_column(BigInteger)


class ForumSetting(Base):
    """Runtime settings an admin changes over the API (e.g. maintenance mode)."""

    __tablename__ = "forum_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class TopicTag(Base):
    __tablename__ = "topic_tags"

    tid: Mapped[int] = mapped_column(ForeignKey("topics.tid", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ApiToken(Base):
    """A bearer token, stored as its SHA-256; ``uid`` is NULL for master tokens."""

    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    uid: Mapped[int | None] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)
    # Core's descriptor to tell tokens apart (set by an admin, ``PUT /admin/tokens/{token}``).
    description: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))


class Job(Base):
    """A write accepted by the API: stored before it is acknowledged, finished by a worker."""

    __tablename__ = "jobs"

    # Acceptance order: writes to one object are applied in ``seq`` order.
    seq: Mapped[int] = mapped_column(Id, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    router: Mapped[str] = mapped_column(String(8))
    actor_uid: Mapped[int] = mapped_column(BigInteger, index=True)
    command: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict | list | None] = mapped_column(JSON)
    error: Mapped[dict | None] = mapped_column(JSON)
    # Bulk jobs: items done / failed so far, and in all.
    progress: Mapped[dict | None] = mapped_column(JSON)
    # Jobs sharing a key ("topic:12", "post:7") are applied in acceptance order.
    ordering_key: Mapped[str | None] = mapped_column(String(64))
    # Last time a message was published for this job (the sweeper re-publishes stale ones).
    enqueued_at: Mapped[int] = mapped_column(BigInteger)
    # The API request that stored the job (X-Request-ID): the worker's lines carry it.
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_jobs_state_created", "state", "created_at"),
        Index("ix_jobs_state_enqueued", "state", "enqueued_at"),
        # Only unfinished jobs can hold up a later one: a partial index stays small
        # however long finished jobs are kept.
        Index(
            "ix_jobs_ordering_unfinished",
            "ordering_key",
            "seq",
            postgresql_where=text("state IN ('queued', 'running')"),
            sqlite_where=text("state IN ('queued', 'running')"),
        ),
        # Workers claim the oldest queued jobs (forum.claims).
        Index(
            "ix_jobs_queued_seq",
            "seq",
            postgresql_where=text("state = 'queued'"),
            sqlite_where=text("state = 'queued'"),
        ),
        UniqueConstraint("actor_uid", "idempotency_key", name="uq_jobs_idempotency"),
    )


class JobChunk(Base):
    """The per-item results of one applied chunk of a bulk job, in one row.

    ``results`` is packed (``forum.jobqueue.chunks.pack_results``): one record per item,
    in input order. A chunk's items need not be consecutive (items deferred to a
    later run are left out), so ``first_index``/``last_index`` only bound them."""

    __tablename__ = "job_chunks"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    first_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_index: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    results: Mapped[bytes] = mapped_column(LargeBinary)


class JobChunkCrash(Base):
    """How many deliveries of a bulk job's chunk died while applying it (their worker
    process was lost), keyed by the chunk's unrecorded items (first index, count): a
    chunk seen dying is split, and an item alone fails once it reached max_attempts."""

    __tablename__ = "job_chunk_crashes"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    first_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, primary_key=True)
    crashes: Mapped[int] = mapped_column(Integer)


class LoginAttempt(Base):
    """Password attempts on the token route per key (``uid:7``, ``addr:192.0.2.1``):
    forum.login_attempts' store when no Redis is configured."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    # Attempts are forgotten at window_ends; a lock ends at locked_until (ms).
    window_ends: Mapped[int] = mapped_column(BigInteger)
    locked_until: Mapped[int] = mapped_column(BigInteger)
