"""Topic routes: create (with the first post) and reply."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.inputs import path_id
from api.writes import authenticated, submit
from schemas.topics import CreateTopic, ReplyTopic


async def create_topic(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, write.command(CreateTopic))


async def reply(request: Request) -> Response:
    tid = path_id(request, "tid")
    write = await authenticated(request)
    return await submit(write, write.command(ReplyTopic, tid=tid))


def routes(version: str) -> list[Route]:
    return [
        Route("/topics", create_topic, methods=["POST"]),
        Route("/topics/{tid}", reply, methods=["POST"]),
    ]
