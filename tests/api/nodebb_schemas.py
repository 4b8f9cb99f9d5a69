"""Answers checked against NodeBB's own OpenAPI documents (read.yaml for ``/api/...``,
write.yaml for ``/api/v3``) with openapi-core.

NodeBB's documents do not pass a strict spec check (one file serves two paths with
different parameters), so the spec check is off; the answers are still validated
against each operation's response schema. A status an operation does not document
(most read pages document only 200) is checked against NodeBB's shared ``Error``
schema (components/responses)."""

from fnmatch import fnmatch
from functools import cache
from typing import Any

import httpx
import yaml
from jsonschema import ValidationError, validators
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData
from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
from openapi_schema_validator import OAS30ReadValidator, _keywords

from tests.support import SPEC_DIR

NODEBB = SPEC_DIR / "nodebb-openapi"


def _type(validator: Any, wanted: Any, instance: Any, schema: dict[str, Any]) -> Any:
    """OpenAPI 3.0's ``type``, also taking the 3.1 forms NodeBB's documents mix in: a
    list of types (``[number, string]``) and ``null``."""
    names = wanted if isinstance(wanted, list) else [wanted]
    if "null" in names and instance is None:
        return
    if isinstance(wanted, list):
        if not any(validator.is_type(instance, name) for name in wanted):
            yield ValidationError(f"{instance!r} is not of type {wanted}")
        return
    yield from _keywords.type(validator, wanted, instance, schema)


Validator = validators.extend(
    OAS30ReadValidator,
    validators={"type": _type},
    type_checker=OAS30ReadValidator.TYPE_CHECKER.redefine("null", lambda _, value: value is None),
)
CONFIG = Config(
    spec_validator_cls=None, schema_validators_factory=SchemaValidatorsFactory(Validator)
)


@cache
def _document(name: str) -> OpenAPI:
    return OpenAPI.from_file_path(str(NODEBB / name), config=CONFIG)


@cache
def _error_schema() -> dict[str, Any]:
    text = (NODEBB / "components" / "schemas" / "Error.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["Error"]


def check(response: httpx.Response, path: str | None = None, allow: tuple[str, ...] = ()) -> Any:
    """Validate ``response`` against the operation of ``path`` (default: the request's
    own path) in NodeBB's documents; returns the decoded body. ``allow``: places
    (fnmatch patterns, ``topics/*/user/banned``) where forumq knowingly differs from
    that document, because NodeBB's documents contradict each other there."""
    path = path or response.request.url.path
    document = _document("write.yaml" if path.startswith("/api/v3/") else "read.yaml")
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    request = MockRequest("http://localhost", "get", path)
    answer = MockResponse(response.content, status_code=response.status_code,
                          content_type=content_type)  # fmt: skip
    try:
        document.validate_response(request, answer)
    except (ResponseNotFound, PathNotFound):
        # NodeBB documents a read page at its full path (``/api/topic/{id}/{slug}``)
        # and its refusals once, in components/responses: an error need not find either.
        if response.status_code < 400:
            raise
        Validator(_error_schema()).validate(response.json())
    except InvalidData as invalid:
        reasons = [r for r in _reasons(invalid) if not _allowed(r, allow)]
        if reasons or not allow:
            raise AssertionError(f"{path}: {'; '.join(reasons or _reasons(invalid))}") from None
    return response.json()


def _allowed(reason: str, allow: tuple[str, ...]) -> bool:
    place = reason.partition(": ")[0]
    return any(fnmatch(place, pattern) for pattern in allow)


def _reasons(invalid: InvalidData) -> list[str]:
    """Where each schema error is in the answer (openapi-core only names the top)."""
    found = []
    for error in getattr(invalid.__cause__, "schema_errors", ()):
        for leaf in error.context or [error]:
            place = "/".join(str(p) for p in leaf.absolute_path)
            found.append(f"{place}: {leaf.message[:120]}")
    return found
