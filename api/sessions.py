"""Core's routes that work on a browser session (login, re-authentication, session
revocation): forumq has no sessions (spec decision 1), so they answer 401 and say so."""

from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.routing import DocumentedRoute, route

NO_SESSIONS = (
    "forumq has no browser sessions: send `Authorization: Bearer <token>` "
    "(a user token, or a master token with `_uid`)."
)


async def needs_a_session(_request: Request) -> Response:
    return envelopes.error(envelopes.V3, 401, message=NO_SESSIONS)


def core_routes() -> list[DocumentedRoute]:
    summary = "Needs a browser session: 401 (use a bearer token)"
    return [
        route(method, path, needs_a_session, summary, auth="none", queued=False, errors=(401,))
        for method, path in (
            ("POST", "/utilities/login"),
            ("POST", "/users/reauth/verify"),
            ("DELETE", "/users/{uid}/sessions/{uuid}"),
        )
    ]
