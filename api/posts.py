"""Posts routes."""

from api.routing import DocumentedRoute


def routes(version: str) -> list[DocumentedRoute]:
    return []
