"""The API's ASGI middleware: request ids, and the envelope for a bug.

Every request gets an id: the client's ``X-Request-ID`` when it is a plain token, else
a new one. It is sent back on the response and stamped on every log line the request
causes (``forumq.logs``), so a client's report, the access log and forumq's lines meet."""

import logging
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import envelopes
from forumq.logs import REQUEST_ID

log = logging.getLogger(__name__)
HEADER = b"x-request-id"
GIVEN = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


class HttpMiddleware:
    """Wraps HTTP requests (``handle``); other ASGI traffic passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RequestIds(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = next((value for name, value in scope["headers"] if name == HEADER), b"")
        request_id = given.decode() if GIVEN.fullmatch(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = [*headers, (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


class UnexpectedErrors(HttpMiddleware):
    """A bug answers the router's 500 envelope and keeps the connection usable
    (Starlette's own last-resort handler re-raises, and uvicorn then drops it)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            response = envelopes.error(envelopes.router_of(scope["path"]), 500)
            await response(scope, receive, send)
