"""Every request gets an id: the client's ``X-Request-ID`` when it is a plain token, else
a new one. It is sent back on the response and stamped on every log line the request
causes (``forumq.logs``), so a client's report, the access log and forumq's lines meet."""

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forumq.logs import REQUEST_ID

HEADER = b"x-request-id"
GIVEN = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
