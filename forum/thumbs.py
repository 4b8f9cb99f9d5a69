"""Topic thumbnails (NodeBB's ``topics.thumbs``): files the API stored in the upload
directory, listed on their topic in order. Adding, removing and reordering need the
right to edit the topic (``privileges.topics.canEdit``: its main post's edit)."""

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from forum import privileges
from forum.errors import ForumError, bad_request, forbidden, not_found
from forum.models import Post, Topic, TopicThumb
from forum.rules import NODEBB, Rules
from forum.users import get_user


def check_editable(
    session: Session, actor: int, tid: int, rules: Rules, *, lock: bool = False
) -> Topic:
    """``_checkThumbPrivileges``: the topic (else ``no-topic``), which ``actor`` may
    edit (else ``no-privileges``, whatever rule refused the edit). The API asks it
    before it stores an upload, as core does; the command asks again."""
    get_user(session, actor)
    topic = session.get(Topic, tid, with_for_update=lock)
    if topic is None:
        raise not_found("no-topic")
    main = session.get(Post, topic.main_pid)
    if main is None:
        raise forbidden()
    try:
        privileges.require_edit(session, actor, main, topic, rules)
    except ForumError:
        raise forbidden() from None
    return topic


def _editable(session: Session, actor: int, tid: int, rules: Rules) -> Topic:
    return check_editable(session, actor, tid, rules, lock=True)


def _rows(session: Session, tid: int) -> list[TopicThumb]:
    query = select(TopicThumb).where(TopicThumb.tid == tid).order_by(TopicThumb.position)
    return list(session.scalars(query))


def thumb_list(session: Session, tid: int) -> list[dict[str, str]]:
    """``topics.thumbs.get``: ``{id, name, path, url}`` in order (``id`` the tid)."""
    return [{"id": str(tid), "name": row.name, "path": row.path, "url": row.url}
            for row in _rows(session, tid)]  # fmt: skip


def _write_order(session: Session, tid: int, paths: list[str]) -> None:
    for position, row in enumerate(sorted(_rows(session, tid), key=lambda r: paths.index(r.path))):
        row.position = position
    session.flush()


def add_thumbs(
    session: Session,
    actor: int,
    tid: int,
    thumbs: list[dict[str, str]],
    *,
    rules: Rules = NODEBB,
) -> dict[str, object]:
    """Core's ``POST /topics/{tid}/thumbs``: the uploaded ``thumbs`` (``path``,
    ``name``, ``url``) after the topic's own. (Global privileges such as core's
    ``upload:post:image`` are not kept: any user may upload, as ``/util/upload``.)"""
    _editable(session, actor, tid, rules)
    attach(session, tid, thumbs)
    return {"images": [{"url": thumb["url"], "name": thumb["name"]} for thumb in thumbs]}


def attach(session: Session, tid: int, thumbs: list[dict[str, str]]) -> None:
    """Store ``thumbs`` (``path``, ``name``, ``url``) after the topic's own; the caller
    has checked the topic and the files."""
    count = session.scalar(select(func.count()).where(TopicThumb.tid == tid)) or 0
    for position, thumb in enumerate(thumbs, start=count):
        session.add(TopicThumb(tid=tid, path=thumb["path"], name=thumb["name"],
                               url=thumb["url"], position=position))  # fmt: skip
    session.flush()


def delete_thumbs(
    session: Session, actor: int, tid: int, paths: list[str], *, rules: Rules = NODEBB
) -> list[dict[str, str]]:
    """Core's ``DELETE /topics/{tid}/thumbs``: the named thumbnails leave the topic (a
    path it does not have changes nothing); answers those that remain."""
    _editable(session, actor, tid, rules)
    session.execute(delete(TopicThumb).where(TopicThumb.tid == tid, TopicThumb.path.in_(paths)))
    _write_order(session, tid, [row.path for row in _rows(session, tid)])
    return thumb_list(session, tid)


def reorder_thumbs(
    session: Session, actor: int, tid: int, path: str, order: int, *, rules: Rules = NODEBB
) -> list[dict[str, str]]:
    """Core's ``PUT /topics/{tid}/thumbs/order``: ``path`` to index ``order`` (out of
    range: last), as ``topics.thumbs.associate`` moves it; a path the topic does not
    have is ``invalid-data``."""
    _editable(session, actor, tid, rules)
    paths = [row.path for row in _rows(session, tid)]
    if path not in paths:
        raise bad_request("invalid-data")
    target = order if 0 <= order < len(paths) else len(paths)
    current = paths.index(path)
    paths.pop(current)
    paths.insert(target - 1 if current < target else target, path)
    _write_order(session, tid, paths)
    return thumb_list(session, tid)
