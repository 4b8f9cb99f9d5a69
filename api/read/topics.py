"""Topic reads: ``/api/topic/:tid/:slug?/:post_index?``, its teaser and pagination,
and ``GET /api/v3/topics/:tid``."""

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from api.read.answers import (
    PER_PAGE,
    forum_id,
    is_number,
    leading_int,
    not_found,
    now_ms,
    page,
    page_of,
    page_param,
    read_route,
    v3_of,
    v3_route,
)  # fmt: skip
from forum import topic_reads
from forum.db import transaction
from forum.read import objects
from forum.read import topics as reads
from forum.read.access import Viewer

log = logging.getLogger(__name__)


async def topic_page(request: Request) -> Response:
    tid = forum_id(request.path_params["tid"])
    raw = request.path_params.get("post_index")
    # NodeBB: a post_index that is not a number (nor "unread") names no page; then
    # parseInt(post_index) || 1. forumq keeps no read markers: "unread" is the first post.
    if tid is None or (raw not in (None, "unread") and not is_number(raw)):
        return not_found(request)
    index = None if raw in (None, "unread") else (leading_int(raw) or 1)
    at = page_param(request)
    seen: list[tuple[int, int, int]] = []

    def work(session: Session, viewer: Viewer) -> Any:
        shown = reads.topic_page(
            session, viewer, tid, post_index=index, page=at, per_page=PER_PAGE, now=now_ms()
        )
        if viewer.logged_in:
            seen.append((viewer.uid, tid, shown["lastposttime"]))
        return shown

    answer = await page(request, work)
    if seen and answer.status_code == 200:
        # Opening the page reads the topic: marked after the answer is sent, so the
        # page never waits for a write (forum.topic_reads, docs/read-api.md).
        answer.background = BackgroundTask(
            record_view, request.app.state.settings.database_url, *seen[0]
        )
    return answer


def record_view(database_url: str, uid: int, tid: int, seen: int) -> None:
    """One upsert; a failure (the database busy or away) leaves the topic unread, as
    it was, and is logged: the reader already has their page."""
    try:
        with transaction(database_url) as session:
            topic_reads.record_view(session, uid, tid, seen)
    except SQLAlchemyError:
        log.warning("topic %s not marked read for uid %s", tid, uid, exc_info=True)


async def teaser(request: Request) -> Response:
    return await page_of(request, "tid", lambda s, v, tid: reads.teaser_of(s, v, tid, now_ms()))


async def pagination(request: Request) -> Response:
    at = page_param(request)
    return await page_of(
        request, "tid", lambda s, v, tid: reads.topic_pagination(s, v, tid, at, PER_PAGE)
    )


async def v3_topic(request: Request) -> Response:
    return await v3_of(
        request, "tid", lambda s, v, tid: objects.topic_fields(reads.topic_get(s, v, tid))
    )


def routes() -> list:  # type: ignore[type-arg]
    summary = "A topic page: the topic, 20 posts with their authors (NodeBB: read.yaml)"
    return [
        read_route("/topic/teaser/{tid}", teaser, "A topic's latest post (summary)"),
        read_route("/topic/pagination/{tid}", pagination, "A topic's pagination"),
        read_route("/topic/{tid}", topic_page, summary),
        read_route("/topic/{tid}/{slug}", topic_page, summary),
        read_route("/topic/{tid}/{slug}/{post_index}", topic_page, summary),
    ]


async def v3_topic_events(request: Request) -> Response:
    return await v3_of(
        request, "tid", lambda s, v, tid: reads.topic_event_list(s, v, tid, now_ms())
    )


def v3_routes() -> list:  # type: ignore[type-arg]
    return [
        v3_route("/topics/{tid}", v3_topic, "A topic's data (Topics.getTopicData)"),
        v3_route("/topics/{tid}/events", v3_topic_events,
                 "A topic's events (pins, locks, deletes, restores, moves), oldest first",
                 errors=(403, 404)),
    ]  # fmt: skip
