"""The baseline: a bare Starlette JSON POST endpoint, served exactly as ``forumq serve``
serves the API (``uvicorn.run`` with the same arguments: one process, uvloop and
httptools when installed, INFO log level with the access log), so the ratio
forumq / bare measures forumq's own work per request, not the server's.

Run: ``python -m bench.bare_app --port 8001``.
"""

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def accept(request: Request) -> Response:
    # Parse the body and answer JSON, as the cheapest honest "accept" would.
    body = await request.json()
    return JSONResponse({"accepted": True, "tid": request.path_params["tid"], "keys": len(body)},
                        202)  # fmt: skip


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/v1/topics/{tid}", accept, methods=["POST"]),
            Route("/api/health", health, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    # The same call as forumq.cli.serve, with only the application swapped.
    uvicorn.run("bench.bare_app:create_app", factory=True, host=args.host, port=args.port,
                workers=1, log_level="info", timeout_graceful_shutdown=30)  # fmt: skip


if __name__ == "__main__":
    main()
