"""Answers checked against NodeBB's own OpenAPI documents (``../shared/spec/nodebb-openapi``)
with openapi-core: the status and body of each answer must be one the document describes.

NodeBB's documents are not strictly valid OpenAPI (a path parameter of
``/chats/{roomId}/messages/pinned`` is not declared), so the document itself is not
checked, only answers against it. A status the operation does not document (most
errors: core documents few) is checked against core's common ``Error`` schema."""

import functools
import os
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.validators import V30ResponseValidator
from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
from openapi_schema_validator import OAS30ReadValidator, OAS30Validator

ROOT = Path(__file__).resolve().parents[1]
SPEC = Path(os.environ.get("FORUMQ_SPEC_DIR", ROOT.parent / "shared" / "spec"))
NODEBB = SPEC / "nodebb-openapi"
OPERATION_METHODS = ("get", "head", "post", "put", "patch", "delete")


def _type(validator: Any, data_type: Any, instance: Any, schema: dict[str, Any]) -> Any:
    """OpenAPI 3.0's ``type``, plus 3.1's ``type: 'null'`` and type lists, which NodeBB's
    3.0 documents use in places (TopicObject.teaserPid, thumbs[].id)."""
    if isinstance(data_type, list):
        if not any(not list(_type(validator, one, instance, schema)) for one in data_type):
            yield jsonschema.ValidationError(f"{instance!r} is not of type {data_type}")
        return
    if data_type == "null":
        if instance is not None:
            yield jsonschema.ValidationError(f"{instance!r} is not null")
        return
    yield from _OAS30_TYPE(validator, data_type, instance, schema)


_OAS30_TYPE = OAS30ReadValidator.VALIDATORS["type"]
NodeBBReadValidator = jsonschema.validators.extend(OAS30ReadValidator, {"type": _type})


class NodeBBResponseValidator(V30ResponseValidator):
    schema_validators_factory = SchemaValidatorsFactory(NodeBBReadValidator)


@functools.cache
def document(name: str) -> OpenAPI:
    path = NODEBB / name
    assert path.is_file(), f"NodeBB's OpenAPI document is expected at {path}"
    config = Config(spec_validator_cls=None, response_validator_cls=NodeBBResponseValidator)
    return OpenAPI.from_file_path(str(path), config=config)


@functools.cache
def _error_validator() -> OAS30Validator:
    schema = yaml.safe_load((NODEBB / "components" / "schemas" / "Error.yaml").read_text())
    return OAS30Validator(schema["Error"])


def check_answer(answer: httpx.Response, name: str = "write.yaml") -> dict[str, Any]:
    """Validate ``answer`` (to a request under ``/api/v3``) against NodeBB's document;
    returns its body."""
    request = answer.request
    body = answer.content
    spec = document(name)
    path = request.url.path
    mock_response = MockResponse(
        body, status_code=answer.status_code, content_type=answer.headers["content-type"]
    )
    for candidate in (path, path.rstrip("/") + "/"):
        mock_request = MockRequest("http://localhost", request.method.lower(), candidate)
        try:
            spec.validate_response(mock_request, mock_response)
        except PathNotFound:
            continue
        except ResponseNotFound:
            assert answer.status_code >= 400, (answer.status_code, answer.text)
            _error_validator().validate(answer.json())
        break
    else:
        raise AssertionError(f"{request.method} {path} is not an operation of {name}")
    return answer.json()


def operations(name: str = "write.yaml") -> list[tuple[str, str]]:
    """Every (METHOD, path) of the document, paths as the document writes them."""
    root = yaml.safe_load((NODEBB / name).read_text())
    found = []
    for path, item in root["paths"].items():
        target = yaml.safe_load((NODEBB / item["$ref"]).read_text())
        found += [(method.upper(), path) for method in OPERATION_METHODS if method in target]
    return found
