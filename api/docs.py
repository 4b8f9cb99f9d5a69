"""``GET /api/docs``: the interactive API docs, Swagger UI rendering ``/api/openapi.json``.

The page and its assets come from the swagger-ui-py package (Swagger UI 5, which reads
OpenAPI 3.1) and are served by the API itself: the docs work offline, with no CDN."""

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui.core import ApplicationDocument

PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"


def _document() -> ApplicationDocument:
    doc = ApplicationDocument(None, config_rel_url=OPENAPI_PATH, url_prefix=PATH,
                              title="forumq API")  # fmt: skip
    doc.parameters["url"] = f'"{OPENAPI_PATH}"'  # the document's own path, not under PATH
    return doc


DOCUMENT = _document()
PAGE = DOCUMENT.doc_html


async def page(_request: Request) -> Response:
    return HTMLResponse(PAGE)


routes: list[BaseRoute] = [
    Route(PATH, page, methods=["GET"]),
    Mount(f"{PATH}/static", app=StaticFiles(directory=DOCUMENT.static_dir)),
]
