"""NodeBB's read API (``/api/...``) and the GET routes of ``/api/v3``, served by the
API process straight from the database: one module per resource, each giving its
``routes()`` (read pages) and ``v3_routes()``; the reads themselves are
``forum.read``'s."""

from starlette.routing import BaseRoute

from api.read import categories, chats, config, groups, lists, posts, topics, users

RESOURCES = (config, categories, topics, posts, chats, users, groups, lists)


def routes() -> list[BaseRoute]:
    """The read pages, under ``/api``."""
    return [item for resource in RESOURCES for item in resource.routes()]


def v3_routes() -> list[BaseRoute]:
    """The v3 GETs, under ``/api/v3``."""
    return [item for resource in RESOURCES for item in resource.v3_routes()]
