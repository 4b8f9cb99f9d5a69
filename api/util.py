"""Util routes: file uploads (v1, v2) and maintenance mode (v2).

Uploads do not go through the queue: they write a file, not a forum table, and the
bytes have no business in the broker. The API process streams each file straight
into ``upload_dir`` under a generated name (the client's filename is only echoed
back, never used as a path) and serves the directory read-only at
``upload_url_prefix``. A refused upload leaves no file behind.
"""

import os
import re
import uuid
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from pydantic import BaseModel, Field, RootModel
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.envelopes import JSONResponse
from api.errors import bad_request, params_missing, too_large
from api.maintenance import flag_of
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from forum.settings_store import OFF_ONLY, RULE_SETTINGS
from forumq.settings import Settings
from schemas.util import MaintenanceModeValue, OffValue, SetMaintenance, UpdateSetting

FILE_FIELDS = ("files", "files[]")  # the plugin README says `files[]`, its code `files`
EXTENSION = re.compile(r"^\.[a-z0-9]{1,10}$")
PART_OVERHEAD = 16_384  # headers and boundaries around each part
PARTIAL = ".part"
# Served files are someone's bytes on our origin: never sniffed, never scripted.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


class UploadForm(BaseModel):
    """``multipart/form-data`` with one or more files in the field ``files``."""

    media_types: ClassVar[tuple[str, ...]] = ("multipart/form-data",)

    files: list[bytes] = Field(
        min_length=1, description="The files (the field may repeat; `files[]` is accepted too)."
    )


class UploadedFile(BaseModel):
    url: str = Field(description="Where the file is served, relative to the site root.")
    name: str = Field(description="The client's filename, as sent (for display only).")


class UploadResult(RootModel[list[UploadedFile]]):
    """NodeBB core's upload answer: a bare JSON array, not enveloped."""


def display_name(raw: bytes) -> str:
    """The client's filename without any directory part or control characters."""
    text = raw.decode("utf-8", errors="replace").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in text if ch.isprintable()).strip()[:255]


def stored_name(original: str) -> str:
    """A fresh, unguessable name; keeps a plain extension so the type is served right."""
    extension = os.path.splitext(original)[1].lower()
    return uuid.uuid4().hex + (extension if EXTENSION.match(extension) else "")


class _Recorder:
    """python-multipart callbacks, recorded as events for the async loop to act on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        self.events.append(("begin", self._headers))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(("data", bytes(data[start:end])))

    def on_part_end(self) -> None:
        self.events.append(("end", None))

    def callbacks(self) -> dict[str, Any]:
        names = ("on_part_begin", "on_header_field", "on_header_value", "on_header_end",
                 "on_headers_finished", "on_part_data", "on_part_end")  # fmt: skip
        return {name: getattr(self, name) for name in names}


class _Store:
    """Writes the files of one request; all of them, or (on ``discard``) none."""

    def __init__(self, settings: Settings) -> None:
        self.directory = Path(settings.upload_dir)
        self.prefix = settings.upload_url_prefix.rstrip("/")
        self.max_bytes = settings.max_upload_bytes
        self.max_files = settings.max_upload_files
        self.done: list[tuple[Path, dict[str, str]]] = []
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._entry: dict[str, str] = {}
        self._size = 0

    async def begin(self, headers: dict[bytes, bytes]) -> None:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        field = options.get(b"name", b"").decode("utf-8", errors="replace")
        original = display_name(options.get(b"filename", b""))
        if field not in FILE_FIELDS or not original:
            return  # other fields, and a form's empty file input, are ignored
        if len(self.done) >= self.max_files:
            raise bad_request("too-many-files", {"limit": self.max_files})
        name = stored_name(original)
        self._path = self.directory / (name + PARTIAL)
        self._entry = {"url": f"{self.prefix}/{name}", "name": original}
        self._size = 0
        self._file = await run_in_threadpool(self._open, self._path)

    def _open(self, path: Path) -> BinaryIO:
        self.directory.mkdir(parents=True, exist_ok=True)
        return path.open("xb")

    async def data(self, chunk: bytes) -> None:
        if self._file is None:
            return
        self._size += len(chunk)
        if self._size > self.max_bytes:
            raise too_large(self.max_bytes, message="file-too-big", name=self._entry["name"])
        await run_in_threadpool(self._file.write, chunk)

    async def end(self) -> None:
        if self._file is None or self._path is None:
            return
        file, partial = self._file, self._path
        self._file = self._path = None
        final = partial.with_name(partial.name.removesuffix(PARTIAL))
        await run_in_threadpool(file.close)
        await run_in_threadpool(partial.rename, final)
        self.done.append((final, self._entry))

    @property
    def receiving(self) -> bool:
        return self._file is not None

    def discard(self) -> None:
        if self._file is not None and self._path is not None:
            self._file.close()
            self._path.unlink(missing_ok=True)
        for path, _ in self.done:
            path.unlink(missing_ok=True)
        self._file = self._path = None
        self.done.clear()


async def receive_files(request: Request, settings: Settings) -> list[dict[str, str]]:
    """Stream the multipart body into ``upload_dir``; the stored files' url and name."""
    media_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise bad_request("Send the files as multipart/form-data in the field `files`.")
    limit = settings.max_upload_files * (settings.max_upload_bytes + PART_OVERHEAD)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    recorder = _Recorder()
    parser = MultipartParser(boundary, recorder.callbacks())  # type: ignore[arg-type]
    store = _Store(settings)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large(limit)
            parser.write(chunk)
            for event, value in recorder.events:
                await getattr(store, event)(*([] if value is None else [value]))
            recorder.events.clear()
        parser.finalize()
        if store.receiving:  # the body ended inside a file part
            raise FormParserError("truncated multipart body")
    except FormParserError:
        store.discard()
        raise bad_request("The multipart body is malformed.") from None
    except BaseException:
        store.discard()
        raise
    if not store.done:
        raise params_missing(["files"])
    return [entry for _, entry in store.done]


async def upload(request: Request) -> Response:
    await authenticated(request, streamed=True)
    settings: Settings = request.app.state.settings
    if not settings.allow_file_uploads:
        raise bad_request("uploads-are-disabled")
    return JSONResponse(await receive_files(request, settings))


async def _maintenance(request: Request, enabled: bool) -> Response:
    write = await authenticated(request)
    response = await submit(write, SetMaintenance(enabled=enabled))
    if response.status_code == 200:
        flag_of(request).invalidate()  # this process sees the switch at once
    return response


async def update_setting(request: Request) -> Response:
    """Core's ``PUT /admin/settings/{setting}``; ``maintenanceMode`` too, seen at once
    here as through ``/util/maintenance``."""
    write = await authenticated(request)
    setting = request.path_params["setting"]
    response = await submit(write, write.command(UpdateSetting, setting=setting))
    if response.status_code == 200:
        flag_of(request).invalidate()
    return response


def core_routes() -> list[DocumentedRoute]:
    return [
        route("PUT", "/admin/settings/{setting}", update_setting,
              "Set a forum rule (`minimumPostLength`, `maximumTitleLength`, ...) or "
              "`maintenanceMode` to `value`; the writes queued after it obey it",
              auth="admin", body=UpdateSetting, server_fields=("setting",), errors=(403,),
              path_params=(("setting", {"type": "string", "enum": sorted(RULE_SETTINGS)}),),
              variants=(("maintenanceMode", MaintenanceModeValue),
                        *((name, OffValue) for name in OFF_ONLY))),
    ]  # fmt: skip


async def maintenance_on(request: Request) -> Response:
    return await _maintenance(request, True)


async def maintenance_off(request: Request) -> Response:
    return await _maintenance(request, False)


class UploadedFiles(StaticFiles):
    """The upload directory, read-only, with headers that keep its files inert."""

    def __init__(self, settings: Settings) -> None:
        # The directory appears with the first upload; until then every file is 404.
        super().__init__(directory=settings.upload_dir, check_dir=False)

    async def check_config(self) -> None:
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.endswith(PARTIAL):  # a file still being received is not published
            raise HTTPException(404)
        response = await super().get_response(path, scope)
        response.headers.update(SAFE_HEADERS)
        return response


def routes(version: str) -> list[DocumentedRoute]:
    found = [
        route("POST", "/util/upload", upload, "Upload files (multipart, field `files`)",
              body=UploadForm, queued=False, enveloped=False, response=UploadResult,
              errors=(413,)),
    ]  # fmt: skip
    if version == "v2":
        found += [
            route("POST", "/util/maintenance", maintenance_on,
                  "Turn maintenance mode on (only admins write while it is on)", auth="admin",
                  errors=(403,)),
            route("DELETE", "/util/maintenance", maintenance_off, "Turn maintenance mode off",
                  auth="admin", errors=(403,)),
        ]  # fmt: skip
    return found
