"""Core's topic thumbnail routes (``/api/v3/topics/{tid}/thumbs``).

An upload is stored by the API (``api.util``: generated names, never the client's),
then attached to its topic by a queued command; a refused command takes its files
back off the disk. A thumbnail's ``path`` is its file's name in ``upload_dir``; the
paths the delete route takes are resolved there, and one outside it is refused
(NodeBB's ``assert.path``)."""

from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.errors import ApiError, bad_request
from api.inputs import path_id
from api.read.answers import forum_id, is_number, run, v3, v3_route
from api.routing import DocumentedRoute, route
from api.util import UploadForm, receive_files
from api.writes import authenticated, submit
from forum import settings_store
from forum.errors import ForumError
from forum.read.topics import thumbs_topic
from forum.thumbs import check_editable, thumb_list
from forumq.settings import Settings
from schemas.topics import AddTopicThumbs, DeleteTopicThumbs, ReorderTopicThumbs

# What an image file starts with (NodeBB checks the bytes, not the name: ``invalid-file``).
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM",
               b"\x00\x00\x01\x00")  # fmt: skip


class ThumbPathParams(BaseModel):
    path: str = Field(min_length=1, description="The thumbnail's path (or url); also ?path=")


def _is_image(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(16)
    return head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _file(settings: Settings, url: str) -> Path:
    return Path(settings.upload_dir) / url.rsplit("/", 1)[-1]


async def add(request: Request) -> Response:
    tid = path_id(request, "tid")
    write = await authenticated(request, streamed=True)
    settings: Settings = request.app.state.settings
    if not settings.allow_file_uploads:
        raise bad_request("uploads-are-disabled")
    uid, base = write.principal.uid, settings.rules

    def may_edit(session: Session, _viewer: object) -> None:
        check_editable(session, uid, tid, settings_store.rules_in_force(session, base))

    try:  # before a byte is stored, as core checks first
        await run(request, uid, may_edit)
    except ForumError as refused:
        status, body = envelopes.forum_error_body(envelopes.V3, refused.record())
        return envelopes.JSONResponse(body, status)
    # A retry with an Idempotency-Key already used gets the first answer, storing nothing.
    _, _, replay = await request.app.state.writes.idempotency(write, write.body)
    if replay is not None:
        return replay
    stored = await receive_files(request, settings)
    files = [_file(settings, entry["url"]) for entry in stored]

    def discard() -> None:
        for file in files:
            file.unlink(missing_ok=True)

    try:
        if not all(await run_in_threadpool(lambda: [_is_image(f) for f in files])):
            raise ApiError(400, "bad-request", key="invalid-file")
        thumbs = [{"path": file.name, "name": entry["name"], "url": entry["url"]}
                  for file, entry in zip(files, stored, strict=True)]  # fmt: skip
        response = await submit(write, AddTopicThumbs(tid=tid, thumbs=thumbs))  # type: ignore[arg-type]
    except BaseException:
        await run_in_threadpool(discard)
        raise
    if response.status_code >= 400:  # the topic refused them: no file is left behind
        await run_in_threadpool(discard)
    return response


def _relative(settings: Settings, raw: str) -> str:
    """A thumbnail path as stored: ``raw`` (a path or its url) inside ``upload_dir``;
    outside it 403 ``invalid-path``, no such file 404 ``invalid-path``."""
    prefix = settings.upload_url_prefix.rstrip("/")
    if raw.startswith(prefix + "/"):
        raw = raw[len(prefix) :]
    root = Path(settings.upload_dir).resolve()
    target = (root / raw.lstrip("/")).resolve()
    if "\\" in raw or not target.is_relative_to(root) or target == root:
        raise ApiError(403, "forbidden", key="invalid-path")
    if not target.is_file():
        raise ApiError(404, "not-found", key="invalid-path")
    return target.relative_to(root).as_posix()


async def delete(request: Request) -> Response:
    tid = path_id(request, "tid")
    write = await authenticated(request)
    raw = write.body.get("path") or request.query_params.get("path")
    if not raw:
        raise ApiError(400, "bad-request", key="invalid-data")
    raws = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(one, str) and one for one in raws):
        raise ApiError(400, "bad-request", key="invalid-data")
    settings: Settings = request.app.state.settings
    paths = [await run_in_threadpool(_relative, settings, one) for one in raws]
    return await submit(write, DeleteTopicThumbs(tid=tid, paths=paths))  # type: ignore[arg-type]


async def reorder(request: Request) -> Response:
    tid = path_id(request, "tid")
    write = await authenticated(request)
    return await submit(write, write.command(ReorderTopicThumbs, tid=tid))


async def listed(request: Request) -> Response:
    """``GET /topics/{tid}/thumbs``: a number is checked as a topic (``thumbs_topic``);
    anything else is a draft's uuid to core, which checks nothing and has none here."""
    raw = request.path_params["tid"]
    if not is_number(raw):
        return await v3(request, lambda _session, _viewer: [])
    tid = forum_id(raw) or 0  # 0, -1, 1.5: no topic
    return await v3(request, lambda s, v: thumb_list(s, thumbs_topic(s, v, tid)))


def core_routes() -> list[DocumentedRoute]:
    guarded = (403, 404)
    return [
        v3_route("/topics/{tid}/thumbs", listed, "A topic's thumbnails, in order", errors=(400,)),
        route("POST", "/topics/{tid}/thumbs", add,
              "Add the uploaded images (multipart, field `files`) as the topic's thumbnails "
              "(those who may edit the topic)", body=UploadForm, errors=(*guarded, 413)),
        route("DELETE", "/topics/{tid}/thumbs", delete,
              "Remove the thumbnail `path` (or paths); answers those left",
              body=ThumbPathParams, errors=guarded),
        route("PUT", "/topics/{tid}/thumbs/order", reorder,
              "Move thumbnail `path` to index `order`; answers the thumbnails",
              body=ReorderTopicThumbs, server_fields=("tid",), errors=guarded),
    ]  # fmt: skip
