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
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.params = params
        self.headers = headers or {}


def params_missing(names: list[str]) -> ApiError:
    return ApiError(400, "params-missing", params=names)


def bad_request(message: str | None = None, params: Any = None) -> ApiError:
    return ApiError(400, "bad-request", message, params)


def not_authorised() -> ApiError:
    return ApiError(401, "not-authorised")


def not_found() -> ApiError:
    return ApiError(404, "not-found")


def too_large(
    limit: int, unit: str = "bytes", message: str | None = None, **detail: str
) -> ApiError:
    """413, in the params shape every route uses: ``{"limit": N, "unit": "bytes"}``
    (``"items"`` for a bulk request's item count; an upload adds the file's ``name``)."""
    return ApiError(413, "payload-too-large", message, {"limit": limit, "unit": unit, **detail})


def unavailable(reason: str, retry_after: int = 5) -> ApiError:
    return ApiError(503, "service-unavailable", reason, headers={"Retry-After": str(retry_after)})
