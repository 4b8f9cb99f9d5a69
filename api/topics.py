"""Topic routes: create (with the first post) and reply."""

from starlette.requests import Request
from starlette.responses import Response

from api.inputs import path_id
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from schemas.topics import CreateTopic, ReplyTopic


async def create_topic(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, write.command(CreateTopic))


async def reply(request: Request) -> Response:
    tid = path_id(request, "tid")
    write = await authenticated(request)
    return await submit(write, write.command(ReplyTopic, tid=tid))


def routes(version: str) -> list[DocumentedRoute]:
    return [
        route("POST", "/topics", create_topic, "Create a topic with its first post",
              body=CreateTopic),
        route("POST", "/topics/{tid}", reply, "Reply to a topic", body=ReplyTopic,
              server_fields=("tid",), errors=(404,)),
    ]  # fmt: skip
