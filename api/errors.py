"""The one exception the API raises for a refused request; rendered per router."""

from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        *,
        key: str | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        # NodeBB's error key (``no-topic``): the message, in each router's own form.
        self.key = key
        self.params = params
        self.headers = headers or {}


def params_missing(names: list[str]) -> ApiError:
    return ApiError(400, "params-missing", params=names)


def bad_request(message: str | None = None, params: Any = None) -> ApiError:
    return ApiError(400, "bad-request", message, params)


def not_authorised() -> ApiError:
    return ApiError(401, "not-authorised")


def not_found() -> ApiError:
    """An unknown route: "Invalid API call"."""
    return ApiError(404, "not-found")


def missing(key: str) -> ApiError:
    """The object the path names does not exist: 404 saying which (``no-topic``), so a
    client tells a deleted topic from a typo in a route, as NodeBB does."""
    return ApiError(404, "not-found", key=key)


def too_large(
    limit: int, unit: str = "bytes", message: str | None = None, **detail: str
) -> ApiError:
    """413, in the params shape every route uses: ``{"limit": N, "unit": "bytes"}``
    (``"items"`` for a bulk request's item count; an upload adds the file's ``name``)."""
    return ApiError(413, "payload-too-large", message, {"limit": limit, "unit": unit, **detail})


def unavailable(reason: str, retry_after: int = 5) -> ApiError:
    return ApiError(503, "service-unavailable", reason, headers={"Retry-After": str(retry_after)})
