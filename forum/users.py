"""Users: creation, the checks every poster goes through, profile, password and deletion."""

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import orjson
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forum.clock import iso, now_ms
from forum.errors import ErrorClass, ForumError, bad_request, not_found
from forum.groups import add_member, ensure_system_groups
from forum.models import (
    EMAIL_INDEX,
    ApiToken,
    Bookmark,
    CategoryWatch,
    ChatMessage,
    ChatRoom,
    ChatRoomMember,
    FlagReport,
    Group,
    GroupInvite,
    GroupMember,
    GroupRequest,
    Post,
    PostVote,
    Topic,
    TopicFollow,
    TopicIgnore,
    User,
    UserFollow,
)
from forum.passwords import hash_password, same_hash
from forum.privileges import ADMINISTRATORS, is_admin, require_admin
from forum.rules import NODEBB, Rules
from forum.text import slugify

# NodeBB's allowed username characters (src/utils.js isUserNameValid).
_USERNAME = re.compile(r"^['\" \-+.*\[\]0-9\u00BF-\u1FFF\u2C00-\uD7FF\w]+$")
MAX_PASSWORD_LENGTH = 512


def _unique_username(session: Session, username: str) -> tuple[str, str]:
    """A taken username gets " <n in base 32>" appended, n from 0, as NodeBB's
    uniqueUsername does ("bob", "bob 0", "bob 1", ... "bob a")."""
    candidate, n = username, 0
    while True:
        slug = slugify(candidate)
        if not _username_taken(session, slug):
            return candidate, slug
        candidate = f"{username} {_base32(n)}"
        n += 1


def _username_taken(session: Session, slug: str, *, other_than: int | None = None) -> bool:
    query = select(func.count()).where(User.userslug == slug)
    if other_than is not None:
        query = query.where(User.uid != other_than)
    return bool(session.scalar(query))


def _base32(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuv"
    text = digits[n % 32]
    while n >= 32:
        n //= 32
        text = digits[n % 32] + text
    return text


def check_password(password: str, rules: Rules) -> None:
    if len(password) < rules.minimum_password_length:
        raise bad_request("password-too-short")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise bad_request("password-too-long")


# --- E-mail addresses --------------------------------------------------------------------
# One address per user whatever its case (NodeBB keys addresses in lower case, email:uid),
# stored in the case the user gave. The unique index on lower(email) (EMAIL_INDEX,
# migration 0007) enforces it; the checks below compare with the database's lower() on
# both sides, so they agree with the index (Python's str.lower folds some letters
# differently) and find addresses through it. Single writes and bulk imports use them.


def email_taken(session: Session, email: str, *, other_than: int | None = None) -> bool:
    """Does a user (other than ``other_than``) hold ``email``, in any case?"""
    holder = select(User.uid).where(func.lower(User.email) == func.lower(email))
    if other_than is not None:
        holder = holder.where(User.uid != other_than)
    return session.scalar(holder.limit(1)) is not None


# A bulk chunk's addresses travel as one JSON array parameter, read as rows of w.value.
_ADDRESSES = {
    "postgresql": "json_array_elements_text(CAST(:addresses AS json)) AS w(value)",
    "sqlite": "json_each(:addresses) AS w",
}
# The keys users hold among theirs: one probe of the index per address. (On PostgreSQL an
# array, not IN (SELECT ...) nor EXISTS, which may be planned as a scan of all users.)
_HELD_KEYS = {
    "postgresql": "SELECT lower(email) FROM users WHERE lower(email) = ANY(ARRAY("
    "SELECT lower(w.value) FROM {addresses}))",
    "sqlite": "SELECT lower(email) FROM users WHERE lower(email) IN ("
    "SELECT lower(w.value) FROM {addresses})",
}


def email_keys(session: Session, emails: Iterable[str]) -> tuple[dict[str, str], set[str]]:
    """For many addresses at once (a bulk chunk's): ``{address: key}`` (its lower case,
    as the index compares), and the keys users hold already. Two statements."""
    wanted = list(set(emails))
    if not wanted:
        return {}, set()
    dialect = session.get_bind().dialect.name
    addresses = {"addresses": orjson.dumps(wanted).decode()}
    keys = text(f"SELECT w.value, lower(w.value) FROM {_ADDRESSES[dialect]}")
    held = text(_HELD_KEYS[dialect].format(addresses=_ADDRESSES[dialect]))
    return (
        {address: key for address, key in session.execute(keys, addresses)},
        set(session.scalars(held, addresses)),
    )


def check_email_form(email: str) -> None:
    """NodeBB's test of what an address looks like (``email`` already stripped)."""
    if "@" not in email or "," in email or ";" in email or len(email) > 255:
        raise bad_request("invalid-email")


def _check_email(session: Session, email: str, uid: int | None = None) -> str:
    """A valid address that no other user holds (``uid``: the user changing theirs)."""
    email = email.strip()
    check_email_form(email)
    if email_taken(session, email, other_than=uid):
        raise bad_request("email-taken")
    return email


@contextmanager
def _claiming_email(session: Session) -> Iterator[None]:
    """Write a new or changed address (inside the block) in a savepoint. A concurrent
    write of the same address, in any case, that committed after our check makes the
    index refuse ours: email-taken, like the check. The savepoint keeps the caller's
    transaction usable, as after any other refusal (a queued job records its error in
    it). begin_nested() flushes earlier changes first: only the address is at stake."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        if EMAIL_INDEX in str(exc.orig):
            raise bad_request("email-taken") from exc
        raise


def create_user(
    session: Session,
    actor: int | None,
    username: str,
    *,
    password: str | None = None,
    password_hash: str | None = None,
    email: str | None = None,
    timestamp: int | None = None,
    admin: bool = False,
    rules: Rules = NODEBB,
    taken_fails: bool = False,
) -> User:
    """Create an account (admins only). ``actor`` None is the operator (CLI).

    A taken username gets a number appended, as NodeBB's API does; ``taken_fails``
    refuses it instead (``username-taken``), as NodeBB's own command line does.

    Callers that must not hold the secret (queued writes) pass ``password_hash``,
    checked and hashed where the password arrived."""
    require_admin(session, actor)
    username = username.strip()
    if not _USERNAME.match(username) or not slugify(username):
        raise bad_request("invalid-username")
    email = (email or "").strip() or None  # NodeBB: a blank email is no email
    if email is not None:
        email = _check_email(session, email)
    if password:  # a blank password is no password, as NodeBB's ``if (userData.password)``
        check_password(password, rules)
        password_hash = hash_password(password)
    ensure_system_groups(session)
    if taken_fails and _username_taken(session, slugify(username)):
        raise bad_request("username-taken")
    username, slug = _unique_username(session, username)
    joined = timestamp or now_ms()
    user = User(
        username=username, userslug=slug, email=email or None,
        password_hash=password_hash,
        joindate=joined, lastonline=joined, lastposttime=0, postcount=0, topiccount=0,
        reputation=0, banned=False, profile={},
    )  # fmt: skip
    with _claiming_email(session):
        session.add(user)
    if admin:
        add_member(session, ADMINISTRATORS, user.uid)
    return user


def get_poster(session: Session, uid: int) -> User:
    """The acting user of a post: must exist and not be banned."""
    user = session.get(User, uid)
    if user is None:
        raise not_found("no-user")
    if is_banned(user):
        raise bad_request("user-banned")
    return user


def check_muted(user: User, now: int | None = None) -> None:
    """``User.checkMuted``: a mute ends by itself at ``muted_until`` (0: for good). The
    callers skip it for admins and the category's moderators, as NodeBB does."""
    if not user.muted:
        return
    if not user.muted_until:
        raise bad_request("user-muted-indefinitely")
    left = user.muted_until - (now or now_ms())
    if left > 0:
        minutes = left / 60_000
        if minutes > 60:
            raise bad_request("user-muted-for-hours", f"{minutes / 60:.0f}")
        raise bad_request("user-muted-for-minutes", f"{minutes:.0f}")


def user_data(user: User) -> dict[str, object]:
    return {
        "uid": user.uid,
        "username": user.username,
        "userslug": user.userslug,
        "joindate": user.joindate,
        "joindateISO": iso(user.joindate),
        "postcount": user.postcount,
        "topiccount": user.topiccount,
        "reputation": user.reputation,
        "lastposttime": user.lastposttime,
        "banned": int(is_banned(user)),
    }


# --- Profile, password, account deletion -------------------------------------------------

# The profile fields a PUT /users/:uid may change: everything else (reputation, uid,
# banned, groups, counters) is the forum's to maintain, never the client's.
PROFILE_FIELDS = ("fullname", "website", "location", "birthday", "signature", "aboutme")
EDITABLE_FIELDS = ("username", "email", *PROFILE_FIELDS)
# NodeBB's limits (install/data/defaults.json: maximumSignatureLength, maximumAboutMeLength).
MAX_FIELD_LENGTH = {"signature": 255, "aboutme": 1000}
_BIRTHDAY = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}/\d{1,2}/\d{4}$")


def require_self_or_admin(session: Session, actor: int | None, uid: int) -> None:
    """The plugin answers a mismatch 401 (decision 3); the key makes v3 remap it to 403."""
    if actor is not None and actor != uid and not is_admin(session, actor):
        raise ForumError("no-privileges", ErrorClass.NOT_AUTHORISED)


def get_user(session: Session, uid: int, *, for_update: bool = False) -> User:
    user = session.get(User, uid, with_for_update=for_update)
    if user is None:
        raise not_found("no-user")
    return user


def password_hash_of(session: Session, uid: int) -> str | None:
    """The stored password hash of ``uid`` (None: no such user, or no password)."""
    return session.scalar(select(User.password_hash).where(User.uid == uid))


def is_banned(user: User, now: int | None = None) -> bool:
    """A temporary ban ends by itself at ``banned_until`` (NodeBB lifts it lazily)."""
    if not user.banned:
        return False
    return not user.banned_until or user.banned_until > (now or now_ms())


def _check_profile_field(name: str, value: str) -> str:
    value = value.strip()
    if len(value) > MAX_FIELD_LENGTH.get(name, 255):
        raise bad_request(f"{name}-too-long", MAX_FIELD_LENGTH.get(name, 255))
    if name == "birthday" and value and not _BIRTHDAY.match(value):
        raise bad_request("invalid-birthday")
    if name in ("fullname", "location", "website") and ("<" in value or ">" in value):
        raise bad_request(f"invalid-{name}")
    return value


def update_profile(
    session: Session, actor: int, uid: int, changes: dict[str, str]
) -> dict[str, object]:
    """Edit the whitelisted fields of ``uid``'s profile (self or admin)."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:  # the API refuses these first; a stored job must not bypass it
        raise bad_request("invalid-data", *unknown)
    require_self_or_admin(session, actor, uid)
    user = get_user(session, uid, for_update=True)
    if "username" in changes:
        username = changes["username"].strip()
        if not _USERNAME.match(username) or not slugify(username):
            raise bad_request("invalid-username")
        slug = slugify(username)
        if _username_taken(session, slug, other_than=uid):
            raise bad_request("username-taken")
        user.username, user.userslug = username, slug
    if "email" in changes:
        email = changes["email"].strip()
        email = _check_email(session, email, uid) if email else None
        with _claiming_email(session):
            user.email = email
    profile = dict(user.profile or {})
    for name in PROFILE_FIELDS:
        if name in changes:
            profile[name] = _check_profile_field(name, changes[name])
    user.profile = profile  # a new dict, so the JSON column is seen as changed
    session.flush()
    return {**user_data(user), **profile}  # as core answers: the user, updated


def change_password(
    session: Session, actor: int, uid: int, password_hash: str, current_hash: str | None
) -> dict[str, object]:
    """Set a new password (already hashed by the API, so no secret sits in the job).

    The account's owner proves they know the current password: ``current_hash`` is it,
    hashed with the stored password's salt where it arrived (``passwords.hash_like``),
    and right only if it is the hash stored now. Admins need none, and neither does an
    account that has no password yet."""
    require_self_or_admin(session, actor, uid)
    user = get_user(session, uid, for_update=True)
    needs_current = not is_admin(session, actor) and user.password_hash
    if needs_current and not same_hash(current_hash, user.password_hash):
        raise bad_request("change-password-error-wrong-current")
    user.password_hash = password_hash
    return {}


def delete_user(session: Session, actor: int | None, uid: int) -> dict[str, object]:
    """Delete the account and its content (NodeBB's ``User.delete``).

    Every counter the user's rows contributed to elsewhere is decremented by exactly
    that contribution, with SQL expressions (never read-modify-write)."""
    require_self_or_admin(session, actor, uid)
    get_user(session, uid, for_update=True)
    admins = select(func.count()).where(GroupMember.group_name == ADMINISTRATORS)
    if is_admin(session, uid) and session.scalar(admins) == 1:
        raise bad_request("cant-delete-last-admin")  # the forum would have no admin left
    # Tokens first: the account stops acting as soon as this commits.
    session.execute(delete(ApiToken).where(ApiToken.uid == uid))
    _purge_content(session, uid)
    _forget_social(session, uid)
    _leave_chats(session, uid)
    session.execute(delete(User).where(User.uid == uid))
    return {}


def delete_users(session: Session, actor: int | None, uids: list[int]) -> dict[str, object]:
    """Core's ``DELETE /users`` (``deleteMany``): admins only; none of ``uids`` may be an
    admin (``cant-delete-other-admins``) and each must exist; all go, or none."""
    require_admin(session, actor)
    wanted = list(dict.fromkeys(uids))
    found = set(session.scalars(select(User.uid).where(User.uid.in_(wanted))))
    if len(found) < len(wanted):
        raise not_found("no-user")
    if any(is_admin(session, uid) for uid in wanted):
        raise bad_request("cant-delete-other-admins")
    for uid in wanted:
        delete_user(session, actor, uid)
    return {}


def _purge_content(session: Session, uid: int) -> None:
    """Purge the user's topics (with every post in them) and their other posts, through
    the purge rules of ``forum.posts`` (one place for how removed content counts)."""
    from forum import posts  # imported here: forum.posts itself imports this module

    own_posts = select(Post.pid).where(Post.uid == uid)
    # The user's topics, and any topic one of their posts heads, go whole.
    tids = list(
        session.scalars(
            select(Topic.tid).where(or_(Topic.uid == uid, Topic.main_pid.in_(own_posts)))
        )
    )
    for chunk in _chunks(tids):
        posts.purge_topics(session, lambda t, chunk=chunk: t.tid.in_(chunk))
    # Their replies in other people's topics.
    per_topic = session.execute(
        select(Post.tid, func.count()).where(Post.uid == uid).group_by(Post.tid)
    ).all()
    if not per_topic:
        return
    posts.remove_posts(session, lambda p: p.uid == uid)
    for tid, count in per_topic:
        # The user has no post left in the topic: one poster fewer.
        session.execute(
            update(Topic)
            .where(Topic.tid == tid)
            .values(postcount=Topic.postcount - count, postercount=Topic.postercount - 1)
        )
        posts.refresh_topic_tail(session, tid)
    session.flush()
    session.expire_all()


def _forget_social(session: Session, uid: int) -> None:
    # Votes the user cast: the posts' tallies and their authors' reputation.
    votes = session.execute(
        select(PostVote.pid, PostVote.value, Post.uid.label("author"))
        .join(Post, Post.pid == PostVote.pid)
        .where(PostVote.uid == uid)
    ).all()
    for vote in votes:
        column = "upvotes" if vote.value > 0 else "downvotes"
        session.execute(
            update(Post).where(Post.pid == vote.pid).values({column: getattr(Post, column) - 1})
        )
        session.execute(
            update(Topic)
            .where(Topic.main_pid == vote.pid)
            .values({column: getattr(Topic, column) - 1})
        )
        if vote.author != uid:
            session.execute(
                update(User)
                .where(User.uid == vote.author)
                .values(reputation=User.reputation - vote.value)
            )
    session.execute(delete(PostVote).where(PostVote.uid == uid))
    bookmarked = select(Bookmark.pid).where(Bookmark.uid == uid)
    session.execute(
        update(Post).where(Post.pid.in_(bookmarked)).values(bookmarks=Post.bookmarks - 1)
    )
    session.execute(delete(Bookmark).where(Bookmark.uid == uid))
    followed = select(TopicFollow.tid).where(TopicFollow.uid == uid)
    session.execute(
        update(Topic).where(Topic.tid.in_(followed)).values(followercount=Topic.followercount - 1)
    )
    session.execute(delete(TopicFollow).where(TopicFollow.uid == uid))
    session.execute(delete(TopicIgnore).where(TopicIgnore.uid == uid))
    session.execute(delete(CategoryWatch).where(CategoryWatch.uid == uid))
    followers = select(UserFollow.follower_uid).where(UserFollow.followee_uid == uid)
    session.execute(
        update(User).where(User.uid.in_(followers)).values(following_count=User.following_count - 1)
    )
    following = select(UserFollow.followee_uid).where(UserFollow.follower_uid == uid)
    session.execute(
        update(User).where(User.uid.in_(following)).values(follower_count=User.follower_count - 1)
    )
    session.execute(
        delete(UserFollow).where(
            or_(UserFollow.follower_uid == uid, UserFollow.followee_uid == uid)
        )
    )
    member_of = select(GroupMember.group_name).where(GroupMember.uid == uid)
    session.execute(
        update(Group).where(Group.name.in_(member_of)).values(member_count=Group.member_count - 1)
    )
    session.execute(delete(GroupMember).where(GroupMember.uid == uid))
    session.execute(delete(GroupRequest).where(GroupRequest.uid == uid))
    session.execute(delete(GroupInvite).where(GroupInvite.uid == uid))
    session.execute(delete(FlagReport).where(FlagReport.uid == uid))


def _leave_chats(session: Session, uid: int) -> None:
    sent = session.execute(
        select(ChatMessage.room_id, func.count())
        .where(ChatMessage.uid == uid)
        .group_by(ChatMessage.room_id)
    ).all()
    for room_id, count in sent:
        session.execute(
            update(ChatRoom)
            .where(ChatRoom.room_id == room_id)
            .values(message_count=ChatRoom.message_count - count)
        )
    session.execute(delete(ChatMessage).where(ChatMessage.uid == uid))
    rooms = list(session.scalars(select(ChatRoomMember.room_id).where(ChatRoomMember.uid == uid)))
    session.execute(delete(ChatRoomMember).where(ChatRoomMember.uid == uid))
    from forum.chats import hand_over  # forum.chats builds on this module

    for room_id in rooms:
        hand_over(session, room_id)
    # Rooms the user owned pass to their longest-standing member, or go when empty.
    for room in session.scalars(select(ChatRoom).where(ChatRoom.owner_uid == uid)):
        heir = session.scalar(
            select(ChatRoomMember.uid)
            .where(ChatRoomMember.room_id == room.room_id)
            .order_by(ChatRoomMember.joined_at, ChatRoomMember.uid)
            .limit(1)
        )
        if heir is None:
            session.execute(delete(ChatMessage).where(ChatMessage.room_id == room.room_id))
            session.delete(room)
        else:
            room.owner_uid = heir
    session.flush()


def _chunks(items: list[int], size: int = 500) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
