"""Flags: users report a post or a user; moderators see, assign, resolve, annotate and
delete the flag (core's ``src/flags.js``, ``src/api/flags.js``).

Who sees a flag (core's ``canView``): admins and global moderators, and a post's flag the
moderators of its category too. Seeing it is also what makes it exist to the caller:
a flag they may not see is 404 ``no-flag``. Reporting is for anyone who may read the
post; flagging an admin, global moderator or moderator is for those privileged too."""

from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session

from forum.clock import iso, now_ms
from forum.errors import bad_request, forbidden, not_found
from forum.models import (
    CategoryPrivilege,
    Flag,
    FlagEvent,
    FlagNote,
    FlagReport,
    GroupMember,
    Post,
    Topic,
    User,
)
from forum.privileges import (
    GLOBAL_MODERATORS,
    has,
    implicit_groups,
    in_group,
    is_admin,
    is_moderator,
)
from forum.read.objects import user_summary
from forum.users import get_poster

STATES = ("open", "wip", "resolved", "rejected")
# NodeBB's flags:postFlagsPerDay / flags:userFlagsPerDay defaults.
FLAGS_PER_DAY = 10
DAY_MS = 24 * 60 * 60 * 1000


def _admin_or_global_mod(session: Session, uid: int) -> bool:
    return is_admin(session, uid) or in_group(session, uid, GLOBAL_MODERATORS)


def is_privileged(session: Session, uid: int) -> bool:
    """Core's ``user.isPrivileged``: an admin, a global moderator, or a moderator of any
    category."""
    if uid <= 0:
        return False
    if _admin_or_global_mod(session, uid):
        return True
    member_of = select(GroupMember.group_name).where(GroupMember.uid == uid)
    moderates = exists().where(
        CategoryPrivilege.cid > 0,
        CategoryPrivilege.privilege == "moderate",
        or_(
            CategoryPrivilege.uid == uid,
            CategoryPrivilege.group_name.in_(implicit_groups(uid)),
            CategoryPrivilege.group_name.in_(member_of),
        ),
    )
    return bool(session.scalar(select(moderates)))


def _post_cid(session: Session, pid: int) -> int | None:
    return session.scalar(
        select(Topic.cid).join(Post, Post.tid == Topic.tid).where(Post.pid == pid)
    )


def _can_view(session: Session, uid: int, flag: Flag) -> bool:
    if _admin_or_global_mod(session, uid):
        return True
    if flag.type != "post":
        return False
    cid = _post_cid(session, flag.target_id)
    return cid is not None and is_moderator(session, uid, cid)


def _visible(session: Session, actor: int, flag_id: int, *, for_update: bool = False) -> Flag:
    """Core's ``assert.flag``: a flag the actor may see, else 404 ``no-flag``."""
    flag = session.get(Flag, flag_id, with_for_update=for_update)
    if flag is None or not _can_view(session, actor, flag):
        raise not_found("no-flag")
    return flag


def _history(session: Session, flag: Flag, uid: int, fields: dict[str, Any], at: int) -> None:
    session.add(FlagEvent(flag_id=flag.flag_id, uid=uid, fields=fields, datetime=at))


# --- Reporting ------------------------------------------------------------------------------


def _target_uid(session: Session, actor: int, type_: str, target_id: int) -> int:
    """Core's ``validate`` and ``canFlag``: the target's author (a post) or the user."""
    if type_ == "post":
        found = session.execute(
            select(Post, Topic.cid).join(Topic, Topic.tid == Post.tid).where(Post.pid == target_id)
        ).first()
        if found is None:
            raise bad_request("invalid-data")
        post, cid = found
        if post.deleted:
            raise bad_request("post-deleted")
        readable = has(session, actor, "topics:read", cid) or is_moderator(session, actor, cid)
        if not readable and not is_admin(session, actor):
            raise forbidden("no-privileges")
        return post.uid
    if type_ == "user":
        if session.get(User, target_id) is None:
            raise bad_request("invalid-data")
        if target_id == actor:
            raise bad_request("cant-flag-self")
        return target_id
    raise bad_request("invalid-data")


def create_flag(session: Session, actor: int, type: str, id: int, reason: str) -> dict[str, Any]:
    """``POST /flags``: report the target; a target already flagged gets the report
    (and the flag opens again). Privileged callers get the flag, others ``{}``."""
    get_poster(session, actor)  # exists, not banned
    target_uid = _target_uid(session, actor, type, id)
    privileged = is_privileged(session, actor)
    if is_privileged(session, target_uid) and not privileged:
        raise bad_request("cant-flag-privileged")
    if not privileged:
        since = now_ms() - DAY_MS
        recent = session.scalar(
            select(func.count())
            .select_from(FlagReport)
            .join(Flag, Flag.flag_id == FlagReport.flag_id)
            .where(FlagReport.uid == actor, FlagReport.timestamp >= since, Flag.type == type)
        )
        if (recent or 0) >= FLAGS_PER_DAY:
            raise bad_request(f"too-many-{type}-flags-per-day", FLAGS_PER_DAY)
    now = now_ms()
    flag = session.scalar(
        select(Flag).where(Flag.type == type, Flag.target_id == id).with_for_update()
    )
    if flag is None:
        flag = Flag(type=type, target_id=id, target_uid=target_uid, state="open", datetime=now)
        session.add(flag)
        session.flush()
        _history(session, flag, actor, {"state": "open"}, now)
    else:
        if session.get(FlagReport, (flag.flag_id, actor)) is not None:
            raise bad_request(f"{type}-already-flagged")
        changes: dict[str, Any] = {"report": "added"}
        if flag.state != "open":
            flag.state = changes["state"] = "open"
        _history(session, flag, actor, changes, now)
    session.add(FlagReport(flag_id=flag.flag_id, uid=actor, reason=reason, timestamp=now))
    session.flush()
    return flag_object(session, flag) if privileged else {}


def rescind_report(session: Session, actor: int, flag_id: int) -> dict[str, Any]:
    """``DELETE /flags/{flagId}/report``: withdraw one's own report; a flag left without
    reports is resolved."""
    flag = session.get(Flag, flag_id, with_for_update=True)
    if flag is None or session.get(FlagReport, (flag_id, actor)) is None:
        raise bad_request("no-flag")
    session.execute(
        delete(FlagReport).where(FlagReport.flag_id == flag_id, FlagReport.uid == actor)
    )
    left = exists().where(FlagReport.flag_id == flag_id)
    if not session.scalar(select(left)):
        flag.state = "resolved"
        _history(session, flag, actor, {"state": "resolved", "report": "rescinded"}, now_ms())
    session.flush()
    return {}


# --- Moderation -----------------------------------------------------------------------------


def _require_privileged(session: Session, actor: int) -> None:
    if not is_privileged(session, actor):
        raise forbidden("no-privileges")


def get_flag(session: Session, actor: int, flag_id: int) -> dict[str, Any]:
    """``GET /flags/{flagId}``."""
    flag = _visible(session, actor, flag_id)
    _require_privileged(session, actor)
    return flag_object(session, flag)


def update_flag(
    session: Session,
    actor: int,
    flag_id: int,
    state: str | None = None,
    assignee: int | None = None,
) -> dict[str, Any]:
    """``PUT /flags/{flagId}``: ``state`` and ``assignee`` (an admin, a global moderator,
    or a moderator of the post's category); as core, a value it cannot take is left out,
    and a change is recorded in the flag's history. Answers ``{history}``."""
    flag = _visible(session, actor, flag_id, for_update=True)
    _require_privileged(session, actor)
    changes: dict[str, Any] = {}
    if state is not None and state in STATES and state != flag.state:
        flag.state = changes["state"] = state
    if assignee is not None and assignee != flag.assignee and _assignable(session, flag, assignee):
        flag.assignee = changes["assignee"] = assignee
    if changes:
        _history(session, flag, actor, changes, now_ms())
        session.flush()
    return {"history": _history_of(session, flag)}


def _assignable(session: Session, flag: Flag, uid: int) -> bool:
    if _admin_or_global_mod(session, uid):
        return True
    cid = _post_cid(session, flag.target_id) if flag.type == "post" else None
    return cid is not None and is_moderator(session, uid, cid)


def delete_flag(session: Session, actor: int, flag_id: int) -> dict[str, Any]:
    """``DELETE /flags/{flagId}``: the flag, its reports, notes and history go."""
    _visible(session, actor, flag_id, for_update=True)
    for table in (FlagReport, FlagNote, FlagEvent):
        session.execute(delete(table).where(table.flag_id == flag_id))
    session.execute(delete(Flag).where(Flag.flag_id == flag_id))
    return {}


def append_note(
    session: Session, actor: int, flag_id: int, note: str, datetime: int | None = None
) -> dict[str, Any]:
    """``POST /flags/{flagId}/notes``: a note; with ``datetime``, the actor's note of that
    time is replaced (another's: 403). Answers ``{notes, history}``."""
    flag = _visible(session, actor, flag_id, for_update=True)
    _require_privileged(session, actor)
    at = datetime or now_ms()
    existing = session.get(FlagNote, (flag_id, at))
    if existing is not None:
        if existing.uid != actor:
            raise forbidden("no-privileges")
        session.delete(existing)
        session.flush()
    session.add(FlagNote(flag_id=flag_id, datetime=at, uid=actor, content=note))
    _history(session, flag, actor, {"notes": None}, at)
    session.flush()
    return {"notes": _notes_of(session, flag), "history": _history_of(session, flag)}


def delete_note(session: Session, actor: int, flag_id: int, datetime: int) -> dict[str, Any]:
    """``DELETE /flags/{flagId}/notes/{datetime}``: the actor's own note."""
    flag = _visible(session, actor, flag_id, for_update=True)
    note = session.get(FlagNote, (flag_id, datetime))
    if note is None:
        raise bad_request("invalid-data")
    if note.uid != actor:
        raise forbidden("no-privileges")
    session.delete(note)
    _history(session, flag, actor, {"notes": "[[flags:note-deleted]]"}, now_ms())
    session.flush()
    return {"notes": _notes_of(session, flag), "history": _history_of(session, flag)}


# --- The flag as core answers it (FlagObject) ------------------------------------------------


def _user_fields(user: User | None, *extra: str) -> dict[str, Any]:
    summary = user_summary(user, now_ms())
    keys = ("uid", "username", "displayname", "userslug", "picture", "icon:text",
            "icon:bgColor", "isLocal", *extra)  # fmt: skip
    return {key: summary[key] for key in keys if key in summary}


def _users(session: Session, uids: set[int]) -> dict[int, User]:
    if not uids:
        return {}
    return {user.uid: user for user in session.scalars(select(User).where(User.uid.in_(uids)))}


def _notes_of(session: Session, flag: Flag) -> list[dict[str, Any]]:
    notes = list(
        session.scalars(
            select(FlagNote)
            .where(FlagNote.flag_id == flag.flag_id)
            .order_by(FlagNote.datetime.desc())
        )
    )
    users = _users(session, {note.uid for note in notes})
    return [
        {"uid": note.uid, "content": note.content, "datetime": note.datetime,
         "datetimeISO": iso(note.datetime), "user": _user_fields(users.get(note.uid))}
        for note in notes
    ]  # fmt: skip


def _history_of(session: Session, flag: Flag) -> list[dict[str, Any]]:
    events = list(
        session.scalars(
            select(FlagEvent)
            .where(FlagEvent.flag_id == flag.flag_id)
            .order_by(FlagEvent.datetime.desc(), FlagEvent.id.desc())
        )
    )
    assignees = {int(e.fields["assignee"]) for e in events if e.fields.get("assignee")}
    users = _users(session, {event.uid for event in events} | assignees)
    history = []
    for event in events:
        fields = dict(event.fields)
        if "state" in fields:
            fields["state"] = f"[[flags:state-{fields['state']}]]"
        if "report" in fields:
            fields["report"] = f"[[flags:report-{fields['report']}]]"
        if fields.get("assignee"):
            assigned = users.get(int(fields["assignee"]))
            fields["assignee"] = assigned.username if assigned else ""
        history.append({"uid": event.uid, "fields": fields, "datetime": event.datetime,
                        "datetimeISO": iso(event.datetime),
                        "user": _user_fields(users.get(event.uid))})  # fmt: skip
    return history


def _target(session: Session, flag: Flag) -> dict[str, Any]:
    """The flagged post or user (``{}`` once it is gone, as core's ``getTarget``)."""
    if flag.type == "post":
        post = session.get(Post, flag.target_id)
        if post is None:
            return {}
        return {"pid": post.pid, "tid": post.tid, "uid": post.uid, "content": post.content,
                "timestamp": post.timestamp, "deleted": int(post.deleted)}  # fmt: skip
    return _user_fields(session.get(User, flag.target_id), "reputation")


def _report(report: FlagReport, reporter: User | None) -> dict[str, Any]:
    return {
        "value": report.reason,
        "timestamp": report.timestamp,
        "timestampISO": iso(report.timestamp),
        "reporter": _user_fields(reporter, "reputation"),
    }


def flag_object(session: Session, flag: Flag) -> dict[str, Any]:
    """Core's ``Flags.get``."""
    reports = list(
        session.scalars(
            select(FlagReport)
            .where(FlagReport.flag_id == flag.flag_id)
            .order_by(FlagReport.timestamp.desc())
        )
    )
    users = _users(session, {report.uid for report in reports})
    return {
        "flagId": flag.flag_id,
        "type": flag.type,
        "targetId": flag.target_id,
        "targetUid": flag.target_uid,
        "state": flag.state,
        "assignee": flag.assignee,
        "datetime": flag.datetime,
        "datetimeISO": iso(flag.datetime),
        "target_readable": f"{flag.type.capitalize()} {flag.target_id}",
        "target": _target(session, flag),
        "reports": [_report(report, users.get(report.uid)) for report in reports],
        "notes": _notes_of(session, flag),
        "history": _history_of(session, flag),
    }
