"""The Starlette application: routers v1/v2 (the plugin), v3 (core), jobs, health,
metrics and NodeBB's read API."""

import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from api import (
    bulk,
    categories,
    chats,
    docs,
    envelopes,
    flags,
    groups,
    health,
    jobs,
    metrics,
    openapi,
    ping,
    posts,
    read,
    sessions,
    thumbs,
    tokens,
    topics,
    users,
    util,
)
from api.auth import Authenticator
from api.errors import ApiError
from api.middleware import RequestIds, UnexpectedErrors
from api.submitter import Submitter
from api.waiter import Waiter
from api.writes import Writes
from forum.jobqueue.intake import Intake
from forum.jobqueue.tasks import Publisher, make_celery
from forumq.runtime import tune_gc
from forumq.settings import Settings, get_settings

log = logging.getLogger(__name__)
RESOURCES = (users, groups, topics, posts, categories, util, bulk)


# Core's Write API v3: the same commands under core's paths and envelope.
CORE_RESOURCES = (users, groups, topics, posts, categories)


def plugin_router(version: str) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for resource in RESOURCES:
        routes.extend(resource.routes(version))
    return routes + ping.routes()


def core_router() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for resource in CORE_RESOURCES:
        routes.extend(resource.routes(envelopes.V3))
    extra = (chats, flags, tokens, thumbs, util, ping, sessions)  # routes only core has
    return routes + [item for resource in extra for item in resource.core_routes()]


class PathIndexedRouter(Router):
    """A Router that tries only the routes that can match the request.

    Starlette tries every route in order; a write to ``/topics/{tid}`` was about the
    thirtieth, a tenth of the API's CPU per request. Routes are grouped by the literal
    first segment of their path ("topics"), and within it by method: a request tries, in
    the original order, the routes of its segment that take its method, plus any whose
    first segment is not literal. A route left out can only fail to match, or match the
    path with another method (a partial match), so the first full match is the route
    Starlette would pick. Without one, the request goes through Starlette's own lookup,
    which then decides between 405, redirects and 404."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        super().__init__(routes=routes)
        segments = [_first_segment(item) for item in routes]
        literal = {segment for segment in segments if segment is not None}
        self._candidates = {
            (segment, method): [
                item
                for item, its in zip(routes, segments, strict=True)
                if its in (None, segment) and _takes(item, method)
            ]
            for segment in literal
            for method in METHODS
        }

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        if scope["method"] not in METHODS:
            allowed = self.allowed(scope)
            if allowed:  # a known path: say which methods it takes (an unknown one is 404)
                raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
        segment = get_route_path(scope)[1:].partition("/")[0]
        for item in self._candidates.get((segment, scope["method"]), ()):
            match, child_scope = item.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", self)
                scope["route"] = item
                scope.update(child_scope)
                await item.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)

    def allowed(self, scope: Scope) -> list[str]:
        """The methods the routes matching this request's path take."""
        methods: set[str] = set()
        for item in self.routes:
            match, _ = item.matches(scope)
            if match is not Match.NONE:
                methods.update(getattr(item, "methods", None) or ())
        return [method for method in METHODS if method in methods]


# The methods forumq serves; another one (TRACE, OPTIONS, ...) on a known path is 405.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _takes(item: BaseRoute, method: str) -> bool:
    methods = getattr(item, "methods", None)
    return methods is None or method in methods


def _first_segment(item: BaseRoute) -> str | None:
    """The literal first path segment of a plain route; None when it may be anything."""
    if not isinstance(item, Route) or not item.path.startswith("/"):
        return None
    segment = item.path[1:].partition("/")[0]
    return None if "{" in segment else segment


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    router = envelopes.router_of(request.url.path)
    metrics.REQUESTS.labels(router, exc.status).inc()
    message = exc.message if exc.key is None else envelopes.key_message(router, exc.key)
    return envelopes.error(router, exc.status, exc.code, message, exc.params, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    router = envelopes.router_of(request.url.path)
    if exc.status_code == 405 and request.method not in METHODS:
        return envelopes.error(router, 405, headers=exc.headers)
    # The plugin answers an unknown path, or a known one with another of its methods, 404.
    status = 404 if exc.status_code in (404, 405) else exc.status_code
    return envelopes.error(router, status)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unreachable on %s %s: %s", request.method, request.url.path, exc)
    return envelopes.error(envelopes.router_of(request.url.path), 503, headers={"Retry-After": "5"})


class TrailingSlash:
    """``POST /api/v1/topics/`` is ``POST /api/v1/topics``, as Express routes it (not
    strictly): served, not redirected (a 307 loses some clients' bodies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/api/") and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/")}
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/")
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.auth = Authenticator(settings)
        # A Celery app that only publishes: tasks are named, never imported.
        celery = make_celery(settings.broker_url, settings.interactive_queue, settings.bulk_queue)
        publisher = Publisher(celery, settings.interactive_queue, settings.bulk_queue)
        app.state.intake = Intake(settings.database_url, publisher)
        app.state.submitter = Submitter(app.state.intake, settings.batch_max_jobs)
        app.state.waiter = Waiter(settings.resolved_notify_url, settings.database_url)
        app.state.writes = Writes(app.state)
        await app.state.waiter.start()
        await app.state.submitter.start()
        tune_gc()
        try:
            yield
        finally:
            await app.state.submitter.stop()
            await app.state.intake.close()
            await app.state.waiter.stop()
            await app.state.auth.close()

    routes = [
        Mount("/api/v1", app=PathIndexedRouter(plugin_router("v1"))),
        Mount("/api/v2", app=PathIndexedRouter(plugin_router("v2"))),
        *jobs.routes,
        *openapi.routes(),
        *docs.routes,
        Mount(settings.upload_url_prefix.rstrip("/"), app=util.UploadedFiles(settings)),
        *health.routes,
        Route("/metrics", metrics.metrics, methods=["GET"]),
        # Core's v3: its writes (the plugin's commands) and its reads (the read API's).
        Mount("/api/v3", app=PathIndexedRouter(core_router() + read.v3_routes())),
        # NodeBB's read API: after every other /api route, so it only sees the rest.
        Mount("/api", app=PathIndexedRouter(read.routes())),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIds),
            Middleware(UnexpectedErrors),
            Middleware(TrailingSlash),
        ],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            OperationalError: database_unavailable,
            InterfaceError: database_unavailable,
        },
    )
    # "/api/v1" is not a route: answer 404 in the envelope, not a redirect to "/api/v1/".
    app.router.redirect_slashes = False
    return app
