"""Category routes (admin)."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.writes import authenticated, submit
from schemas.categories import CreateCategory


async def create_category(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, write.command(CreateCategory))


def routes(version: str) -> list[Route]:
    return [Route("/categories", create_category, methods=["POST"])]
