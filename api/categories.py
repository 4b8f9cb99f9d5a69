"""Category routes (admin)."""

from starlette.requests import Request
from starlette.responses import Response

from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from schemas.categories import CreateCategory


async def create_category(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, write.command(CreateCategory))


def routes(version: str) -> list[DocumentedRoute]:
    return [
        route("POST", "/categories", create_category, "Create a category", auth="admin",
              body=CreateCategory, errors=(403,)),
    ]  # fmt: skip
