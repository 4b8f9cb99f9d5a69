"""Posts routes."""

from starlette.routing import Route


def routes(version: str) -> list[Route]:
    return []
