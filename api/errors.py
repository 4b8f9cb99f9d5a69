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


def unavailable(reason: str, retry_after: int = 5) -> ApiError:
    return ApiError(503, "service-unavailable", reason, headers={"Retry-After": str(retry_after)})
