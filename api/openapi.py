"""The OpenAPI 3.1 document, generated from the routes themselves.

Every ``DocumentedRoute`` carries its auth rule, the pydantic model it validates
its body with, the body fields the server fills in, its errors and whether it is
queued; walking the application's routes gives every path, parameter, request
body and answer, so the document cannot drift from what the routes do.
"""

import copy
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from api import envelopes
from api.auth import PASSWORD_ROUTE
from api.envelopes import JSONResponse
from api.routing import DocumentedRoute, route
from forum.groups import MAXIMUM_GROUP_NAME_LENGTH
from forum.privileges import CATEGORY_PRIVILEGES, GROUP_PREFIX
from forum.users import MAX_FIELD_LENGTH, MAX_PASSWORD_LENGTH
from forumq.settings import Settings

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
FORM = "application/x-www-form-urlencoded"
BODY_MEDIA_TYPES = ("application/json", FORM)
# Path parameters that are forum ids (the routes answer 404 for anything else).
NUMERIC_PARAMS = frozenset({"uid", "tid", "pid", "cid", "roomId", "mid"})
FORUM_ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
# A category's privileges, by user (bare) or by group (``groups:`` before the name).
_PRIVILEGES = sorted(CATEGORY_PRIVILEGES)
# Other path parameters whose values a rule limits, by name.
PATH_RULES: dict[str, Schema] = {
    # A post's edit, by the time it was made (ms).
    "since": {"type": "integer", "minimum": 0}, "timestamp": {"type": "integer", "minimum": 0},
    "eventId": FORUM_ID,
    "privilege": {"type": "string",
                  "enum": [*_PRIVILEGES, *(f"{GROUP_PREFIX}{name}" for name in _PRIVILEGES)]},
}  # fmt: skip
PATH_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
AUTHENTICATED_ERRORS = (400, 401, 403, 404, 413, 503)
# A read page's refusals: bad credentials (400, 401) in core's envelope, as NodeBB's
# authentication middleware answers; 403 and 404 as NodeBB's page bodies; 503 (the
# database is unreachable) in the plugin's, as every forumq route outside v3.
PAGE_ERRORS = (400, 401, 403, 404, 503)
# Read pages answer bare data; their errors are NodeBB's pages (``api.read.answers``).
PAGE = "page"
QUEUED_ERRORS = (409, 422)
AUTH_TEXT = {
    "none": "No authentication.",
    "optional": "Any caller; without credentials, a guest (NodeBB's read API).",
    "any": "Any authenticated caller (a master token acts as `_uid`).",
    "admin": "Administrators only (a master token needs an admin `_uid`).",
    "self": "The user named by the path only.",
    "self-or-admin": "The user named by the path, or an administrator.",
    "owner-or-admin": "The owner of the object, or an administrator.",
}
STATUS_TEXT = {
    400: "Invalid or missing parameters (`bad-request`, `params-missing`), or a forum rule "
    "refused the write (its NodeBB key in `message`).",
    401: "Missing or invalid credentials (`not-authorised`).",
    403: "The caller lacks the privilege (`forbidden`).",
    404: "Unknown path or id (`not-found`).",
    409: "The Idempotency-Key's first request is still running (`conflict`).",
    413: "The body, a file or a bulk request's item count is over its limit "
    "(`payload-too-large`; `params`, v3's `response`: `{limit, unit}`, unit `bytes` or "
    "`items`; a file's adds its `name`).",
    422: "The Idempotency-Key was used with a different request.",
    426: "HTTPS required (`upgrade-required`).",
    429: "Too many password attempts for the uid or from the client address "
    "(`too-many-requests`); see Retry-After.",
    500: "Unexpected server error (`internal-server-error`).",
    503: "Maintenance mode (non-admin writes), or the database is unavailable "
    "(`service-unavailable`); see Retry-After.",
}


def plugin_error_schema() -> Schema:
    return {
        "type": "object",
        "required": ["code", "message", "params"],
        "properties": {
            "code": {"type": "string", "examples": ["not-found"]},
            "message": {"type": "string"},
            "params": {"description": "Names of the fields at fault, or details."},
        },
    }


def limit_schema() -> Schema:
    """Every 413's details (``api.errors.too_large``): the limit and its unit."""
    return {
        "type": "object",
        "required": ["limit", "unit"],
        "additionalProperties": False,
        "properties": {
            "limit": {"type": "integer", "minimum": 0},
            "unit": {"enum": ["bytes", "items"]},
            "name": {"type": "string", "description": "The uploaded file over the limit."},
        },
    }


def too_large_schemas() -> dict[str, Schema]:
    """The 413 bodies: the plugin's ``params`` and core's ``response`` are the limit."""
    plugin, core = plugin_error_schema(), core_error_schema()
    plugin["properties"]["params"] = {"$ref": REF.format(model="Limit")}
    core["properties"]["response"] = {"$ref": REF.format(model="Limit")}
    return {"Limit": limit_schema(), "ErrorTooLarge": plugin, "CoreErrorTooLarge": core}


def core_error_schema() -> Schema:
    return {
        "type": "object",
        "required": ["status", "response"],
        "properties": {
            "status": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "response": {"type": "object"},
        },
    }


def page_error_schema(status: int) -> Schema:
    """NodeBB's 404 and 403 page bodies (``api.read.answers.not_found``, ``not_allowed``)."""
    required = ["path", "title"] + (["loggedIn"] if status == 403 else [])
    properties: Schema = {name: {"type": "string"} for name in ("path", "title", "bodyClass")}
    if status == 403:
        properties["loggedIn"] = {"type": "boolean"}
    return {"type": "object", "required": required, "properties": properties}


def job_accepted_schema() -> Schema:
    return {
        "type": "object",
        "required": ["job_id", "state", "links"],
        "properties": {
            "job_id": {"type": "string"},
            "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
            "links": {
                "type": "object",
                "required": ["self"],
                "properties": {"self": {"type": "string", "examples": ["/api/jobs/0f3c..."]}},
            },
        },
    }


def envelope(router: str, payload: Schema, code: str = "ok") -> Schema:
    """The router's success envelope around ``payload``; ``code`` "accepted" for a 202."""
    if router == envelopes.V3:
        status = {"type": "object", "properties": {"code": {"const": code},
                                                   "message": {"type": "string"}}}  # fmt: skip
        return {"type": "object", "required": ["status", "response"],
                "properties": {"status": status, "response": payload}}  # fmt: skip
    if code == "accepted":
        return {"type": "object", "required": ["code", "message", "payload"],
                "properties": {"code": {"const": code}, "message": {"type": "string"},
                               "payload": payload}}  # fmt: skip
    return {"type": "object", "required": ["code", "payload"],
            "properties": {"code": {"const": code}, "payload": payload}}  # fmt: skip


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    """Every endpoint route with its full path (Mounts of other apps, e.g. static
    files, have no routes and are skipped)."""
    for item in routes:
        if isinstance(item, Mount):
            yield from walk(list(item.routes), prefix + item.path)
        elif isinstance(item, Route):
            yield prefix + item.path, item


def _rename_refs(node: Any, renamed: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: (_renamed_ref(value, renamed) if key == "$ref" else _rename_refs(value, renamed))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rename_refs(value, renamed) for value in node]
    return node


def _renamed_ref(ref: str, renamed: dict[str, str]) -> str:
    name = ref.rsplit("/", 1)[-1]
    return REF.format(model=renamed[name]) if name in renamed else ref


# No parameter may hold U+0000 (api.inputs refuses it: PostgreSQL cannot store it).
NO_NUL = r"^[^\x00]*$"
# forum.users: a username's characters, with one that its slug keeps.
_USERNAME_CHARS = r"['\" \-+.*\[\]0-9\u00BF-\u1FFF\u2C00-\uD7FF\w]"
USERNAME = rf"^{_USERNAME_CHARS}*[A-Za-z0-9]{_USERNAME_CHARS}*$"
# forum.users: profile fields that may not hold HTML brackets; a birthday's two forms.
NO_BRACKETS = r"^[^\x00<>]*$"
BIRTHDAY = r"^\s*(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})?\s*$"
PASSWORD_FIELDS = ("password", "new", "newPassword")
_SCALAR: list[Schema] = [{"type": "string", "pattern": NO_NUL}, {"type": "number"},
                         {"type": "boolean"}, {"type": "null"}]  # fmt: skip
# A key a route ignores: any value without NUL (nested values are accepted too).
OTHER_PARAMETER: Schema = {"anyOf": [*_SCALAR, {"type": "array", "items": {"anyOf": _SCALAR}}]}


def visible_text(minimum: int) -> str:
    """Text with at least ``minimum`` visible characters once trimmed, as
    forum.text.visible_length counts them (HTML tags aside: ``<`` is left out)."""
    # Python's strip() also takes U+001C-U+001F and U+0085, which \s leaves.
    space = r"[\s\x1c-\x1f\x85]"
    edge, inner = r"[^\s\x00<\x1c-\x1f\x85]", r"[^\x00<]"
    if minimum <= 1:
        return rf"^{space}*{edge}(?:{inner}*{edge})?{space}*$"
    return rf"^{space}*{edge}{inner}{{{minimum - 2},}}{edge}{space}*$"


def field_rules(settings: Settings) -> dict[str, Schema]:
    """The forum's rules and the configured limits on body fields, by field name
    (``Model.field`` for one model's; ``Model`` for a body that is an array)."""
    rules = settings.rules
    tag = rf"^[a-z0-9][a-z0-9-]{{{max(rules.minimum_tag_length - 2, 0)},"
    tag += rf"{max(rules.maximum_tag_length - 2, 0)}}}[a-z0-9]$"
    found: dict[str, Schema] = {
        "content": {"pattern": visible_text(rules.minimum_post_length),
                    "maxLength": rules.maximum_post_length},
        "title": {"pattern": visible_text(max(rules.minimum_title_length, 1)),
                  "maxLength": rules.maximum_title_length},
        "message": {"pattern": visible_text(1)},
        "tags": {"maxItems": rules.maximum_tags_per_topic, "items": {"pattern": tag}},
        "ReplaceTopicTags.tags": {"minItems": 1, "maxItems": rules.maximum_tags_per_topic,
                                  "items": {"pattern": tag}},
        "username": {"pattern": USERNAME, "maxLength": 255},
        "email": {"pattern": r"^[^\x00,;]*@[^\x00,;]*$", "maxLength": 255},
        "birthday": {"pattern": BIRTHDAY},
        "CreateGroup.name": {"pattern": r"^[^\x00/:]*[A-Za-z0-9][^\x00/:]*$",
                             "maxLength": MAXIMUM_GROUP_NAME_LENGTH},
        "UploadForm.files": {"maxItems": settings.max_upload_files},
        "BulkItems": {"minItems": 1, "maxItems": settings.bulk_max_items},
    }  # fmt: skip
    for name in ("fullname", "location", "website"):
        found[name] = {"pattern": NO_BRACKETS, "maxLength": MAX_FIELD_LENGTH.get(name, 255)}
    for name in ("signature", "aboutme"):
        found[name] = {"maxLength": MAX_FIELD_LENGTH[name]}
    for name in PASSWORD_FIELDS:
        found[name] = {"minLength": rules.minimum_password_length,
                       "maxLength": MAX_PASSWORD_LENGTH}  # fmt: skip
    return found


def with_rules(schema: Schema, rules: dict[str, Schema], model: str) -> None:
    """Put ``rules`` on the body ``schema``'s fields (on the branch of a nullable field
    that has the rule's type), then refuse NUL in every string without a pattern."""
    if model in rules:
        schema.update(rules[model])
    for name, field in schema.get("properties", {}).items():
        rule = rules.get(f"{model}.{name}") or rules.get(name)
        if rule is None:
            continue
        wanted = "array" if "items" in rule or "maxItems" in rule else "string"
        for branch in [field, *field.get("anyOf", [])]:
            if branch.get("type") == wanted:
                items = rule.get("items")
                branch.update({k: v for k, v in rule.items() if k != "items"})
                if items:
                    branch.setdefault("items", {}).update(items)
    _refuse_nul(schema)


def without_null(schema: Schema) -> Schema:
    """``schema`` with its fields' ``null`` branches (and null defaults) removed, as a
    form. A list is sent as ``name[]=...`` (``api.inputs.parse_form``; a bare ``name=1``
    is one text, as NodeBB reads it too), and a required one has an item: an empty
    list sends no key at all."""
    if schema.get("additionalProperties"):  # a form's other keys are texts
        schema["additionalProperties"] = {"type": "string", "pattern": NO_NUL}
    for name, field in schema.get("properties", {}).items():
        branches = [b for b in field.get("anyOf", []) if b.get("type") != "null"]
        if "anyOf" in field and len(branches) == 1:
            rest = {k: v for k, v in field.items() if k not in ("anyOf", "default")}
            schema["properties"][name] = {**branches[0], **rest}
        elif field.get("default", 0) is None:
            del field["default"]
    properties: Schema = schema.get("properties", {})
    lists = [name for name, field in properties.items() if field.get("type") == "array"]
    for name in lists:
        if name in schema.get("required", []):
            properties[name]["minItems"] = max(properties[name].get("minItems", 0), 1)
        properties[f"{name}[]"] = properties.pop(name)
    if lists:
        schema["required"] = [f"{n}[]" if n in lists else n for n in schema.get("required", [])]
        if "propertyNames" in schema:  # the bare name would be one text, not the list
            schema["propertyNames"] = {**schema["propertyNames"], "not": {"enum": lists}}
        if not schema["required"]:
            del schema["required"]
    return schema


def _refuse_nul(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "array":  # pydantic states a tuple's length as a string's
            for text, items in (("minLength", "minItems"), ("maxLength", "maxItems")):
                if text in node:
                    node.setdefault(items, node.pop(text))
        if node.get("type") == "string" and "pattern" not in node and "enum" not in node:
            node["pattern"] = NO_NUL
        for value in node.values():
            _refuse_nul(value)
    elif isinstance(node, list):
        for value in node:
            _refuse_nul(value)


class Builder:
    def __init__(self, title: str, version: str, settings: Settings) -> None:
        self.field_rules = field_rules(settings)
        self.schemas: dict[str, Schema] = {
            "Error": plugin_error_schema(),
            "CoreError": core_error_schema(),
            "JobAccepted": job_accepted_schema(),
            "Page403": page_error_schema(403),
            "Page404": page_error_schema(404),
            **too_large_schemas(),
        }
        self.responses: dict[str, Schema] = {}
        self.doc: Schema = {
            "openapi": "3.1.0",
            "info": {
                "title": title,
                "version": version,
                "description": "NodeBB write-api plugin (v1, v2) and NodeBB core Write API "
                "(v3) compatible forum Write API. Every write goes through a job queue: the "
                "answer is the final result, or 202 with the job (`Prefer: respond-async`, "
                "`Prefer: wait=N`).",
            },
            "paths": {},
            "components": {
                "schemas": self.schemas,
                "responses": self.responses,
                "parameters": {
                    "Uid": {
                        "name": "_uid",
                        "in": "query",
                        "required": False,
                        "description": "With a master token: the uid to act as "
                        "(also accepted in the body).",
                        "schema": {"type": "integer", "minimum": 1},
                    },
                    "Prefer": {
                        "name": "Prefer",
                        "in": "header",
                        "required": False,
                        "description": "`respond-async` (202 at once) or `wait=N` "
                        "(wait up to N seconds for the final answer).",
                        "schema": {"type": "string", "examples": ["respond-async", "wait=5"]},
                    },
                    "IdempotencyKey": {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Same key and body: the original job; same key, "
                        "other body: 422; first request still running: 409.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    },
                },
                "headers": {
                    "Location": {
                        "description": "The job: `/api/jobs/{job_id}`.",
                        "schema": {"type": "string"},
                    },
                    "RetryAfter": {
                        "description": "Seconds to wait before retrying.",
                        "schema": {"type": "integer"},
                    },
                    "PreferenceApplied": {
                        "description": "`respond-async`.",
                        "schema": {"type": "string"},
                    },
                },
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A user token, or a master token with `_uid`.",
                    },
                    "jwtToken": {
                        "type": "apiKey",
                        "in": "query",
                        "name": "token",
                        "description": "A JWT (HS256 by default) signed with the configured "
                        "secret, claim `_uid` required; also accepted as body field `token`.",
                    },
                },
            },
        }

    # -- schemas ----------------------------------------------------------------------

    def _register(self, name: str, schema: Schema) -> str:
        """Add a component schema; a different schema under a taken name gets a suffix."""
        candidate, n = name, 2
        while candidate in self.schemas and self.schemas[candidate] != schema:
            candidate, n = f"{name}{n}", n + 1
        self.schemas[candidate] = schema
        return candidate

    def model_schema(self, model: type[BaseModel], drop: frozenset[str] = frozenset()) -> Schema:
        """``model``'s JSON schema with its $defs moved to the components."""
        schema = model.model_json_schema(by_alias=True, ref_template=REF)
        defs = schema.pop("$defs", {})
        renamed: dict[str, str] = {}
        for name, definition in defs.items():
            registered = self._register(name, _rename_refs(definition, renamed))
            if registered != name:
                renamed[name] = registered
        schema = _rename_refs(schema, renamed)
        if drop and "properties" in schema:
            schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in drop}
            required = [name for name in schema.get("required", []) if name not in drop]
            schema.pop("required", None)
            if required:
                schema["required"] = required
        return schema

    def model_ref(self, model: type[BaseModel]) -> Schema:
        name = self._register(model.__name__, self.model_schema(model))
        return {"$ref": REF.format(model=name)}

    def request_body(
        self, route: DocumentedRoute, model: type[BaseModel] | None = None
    ) -> Schema | None:
        model = model or route.doc.body
        if model is None:
            return None
        drop = {"kind"}
        for name, field in model.model_fields.items():
            if name in route.doc.server_fields or field.alias in route.doc.server_fields:
                drop.update({name, field.alias or name})
        schema = self.model_schema(model, frozenset(drop))
        # Most routes ignore keys they do not know, as the plugin did (their values must
        # still be free of NUL, api/inputs); a ``closed`` route refuses them.
        if schema.get("type") == "object":
            schema["additionalProperties"] = False if route.doc.closed else OTHER_PARAMETER
            if not route.doc.closed:
                schema["propertyNames"] = {"pattern": NO_NUL}
            if route.doc.auth != "none":
                schema.setdefault("properties", {})["_uid"] = {"type": "integer", "minimum": 1}
        with_rules(schema, self.field_rules, model.__name__)
        name = self._register(model.__name__ + "Body", schema)
        media_types = getattr(model, "media_types", BODY_MEDIA_TYPES)
        content = {media: {"schema": {"$ref": REF.format(model=name)}} for media in media_types}
        if FORM in content:  # a form has no null: an optional field is left out instead
            form = self._register(model.__name__ + "Form", without_null(copy.deepcopy(schema)))
            content[FORM] = {"schema": {"$ref": REF.format(model=form)}}
        required = bool(schema.get("required")) or schema.get("type") == "array"
        return {"required": required, "content": content}

    # -- responses --------------------------------------------------------------------

    def error_response(self, router: str, status: int) -> Schema:
        if router == PAGE and status in (403, 404):
            model = f"Page{status}"
        elif router == envelopes.V3 or (router == PAGE and status != 503):
            model = "CoreError"
        else:
            model = "Error"
        name = model if model.startswith("Page") else f"{model}{status}"
        schema: Schema = {"$ref": REF.format(model=model)}
        if status == 413:
            schema = {"$ref": REF.format(model=f"{model}TooLarge")}
        if name == "Page404":  # a path no route matches (a newline in a slug): the router's
            schema = {"anyOf": [schema, {"$ref": REF.format(model="Error")}]}
        if name not in self.responses:
            response: Schema = {
                "description": STATUS_TEXT.get(status, "Error."),
                "content": {"application/json": {"schema": schema}},
            }
            if status in (409, 429, 503):
                response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
            if status == 409:
                response["headers"]["Location"] = {"$ref": "#/components/headers/Location"}
            self.responses[name] = response
        return {"$ref": f"#/components/responses/{name}"}

    def accepted_response(self, router: str) -> Schema:
        name = "CoreAccepted" if router == envelopes.V3 else "Accepted"
        if name not in self.responses:
            payload = {"$ref": REF.format(model="JobAccepted")}
            self.responses[name] = {
                "description": "Accepted: the job is queued or running; poll `Location`.",
                "headers": {
                    "Location": {"$ref": "#/components/headers/Location"},
                    "Retry-After": {"$ref": "#/components/headers/RetryAfter"},
                    "Preference-Applied": {"$ref": "#/components/headers/PreferenceApplied"},
                },
                "content": {"application/json": {"schema": envelope(router, payload, "accepted")}},
            }
        return {"$ref": f"#/components/responses/{name}"}

    def success_response(self, router: str, route: DocumentedRoute) -> Schema:
        doc = route.doc
        if router == PAGE:  # the page's data, or the path of the page it moved to
            moved = {"type": "string", "description": "The page's path (see X-Redirect)."}
            data = [{"type": "object"}, {"type": "array"}, {"type": "integer"}]  # a count
            schema = {"anyOf": [*data, moved]}
            headers = {"X-Redirect": {"description": "The page's path, when it lives elsewhere.",
                                      "schema": {"type": "string"}}}  # fmt: skip
            return {"description": "The page.", "headers": headers,
                    "content": {"application/json": {"schema": schema}}}  # fmt: skip
        # Without a model: NodeBB's result, an object or a list (a topic's tags).
        payload = self.model_ref(doc.response) if doc.response else {"type": ["object", "array"]}
        schema = envelope(router, payload) if doc.enveloped else payload
        return {"description": "Done.", "content": {"application/json": {"schema": schema}}}

    # -- operations -------------------------------------------------------------------

    def operation(self, path: str, route: Route) -> tuple[str, Schema]:
        if isinstance(route, DocumentedRoute):
            return route.method.lower(), self.documented(path, route)
        method = sorted((route.methods or {"GET"}) - {"HEAD"})[0]
        summary = (route.endpoint.__doc__ or route.name).strip().splitlines()[0]
        return method.lower(), {
            "operationId": operation_id(method, path),
            "summary": summary,
            "parameters": path_parameters(path),
            "responses": {"200": {"description": "OK."}},
        }

    def documented(
        self, path: str, route: DocumentedRoute, body: type[BaseModel] | None = None
    ) -> Schema:
        """The operation of ``route`` at ``path`` (a variant's concrete path, whose
        ``body`` model replaces the route's)."""
        doc = route.doc
        router = PAGE if doc.page else envelopes.router_of(path)
        parameters: list[Schema] = path_parameters(path, dict(doc.path_params))
        parameters += [{"name": name, "in": "query", "required": False, "schema": schema}
                       for name, schema in doc.query]  # fmt: skip
        if doc.auth != "none":
            parameters.append({"$ref": "#/components/parameters/Uid"})
        if doc.queued:
            parameters.append({"$ref": "#/components/parameters/Prefer"})
            parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
        responses: dict[str, Schema] = {"200": self.success_response(router, route)}
        if doc.queued:
            responses["202"] = self.accepted_response(router)
        if doc.page:
            statuses = set(PAGE_ERRORS)
        elif doc.auth == "none":
            statuses = {404, *doc.errors}
        else:
            statuses = {*doc.errors, *AUTHENTICATED_ERRORS}
        if doc.queued:
            statuses.update(QUEUED_ERRORS)
        for status in sorted(statuses):
            responses[str(status)] = self.error_response(router, status)
        operation: Schema = {
            "operationId": operation_id(route.method, path),
            "summary": doc.summary,
            "description": AUTH_TEXT.get(doc.auth, doc.auth)
            + (" Applied through the job queue." if doc.queued else ""),
            "tags": [tag_of(path)],
            "parameters": parameters,
            "security": operation_security(path, route),
            "responses": responses,
            "x-forumq-auth": doc.auth,
            "x-forumq-queued": doc.queued,
        }
        request_body = self.request_body(route, body)
        if request_body is not None:
            operation["requestBody"] = request_body
        if not parameters:
            del operation["parameters"]
        return operation

    def add(self, path: str, route: Route) -> None:
        template = PATH_PARAM.sub(r"{\1}", path)
        method, operation = self.operation(template, route)
        self.doc["paths"].setdefault(template, {})[method] = operation
        if isinstance(route, DocumentedRoute):
            # A concrete path is matched before its template (OpenAPI's path matching).
            for value, model in route.doc.variants:
                concrete = PATH_PARAM.sub(value, template, count=1)
                self.doc["paths"].setdefault(concrete, {})[method] = self.documented(
                    concrete, route, model
                )


def security(auth: str) -> list[Schema]:
    if auth == "none":
        return []
    schemes: list[Schema] = [{"bearerAuth": []}, {"jwtToken": []}]
    return [{}, *schemes] if auth == "optional" else schemes


def operation_security(path: str, route: DocumentedRoute) -> list[Schema]:
    schemes = security(route.doc.auth)
    if route.method == "POST" and PASSWORD_ROUTE.match(path.replace("{uid}", "1")):
        schemes.append({})  # or no credentials, with `password` in the body
    return schemes


def operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", PATH_PARAM.sub(r"\1", path)).strip("_")
    # "/categories/" beside "/categories" (v3 serves both, as NodeBB's router does).
    slash = "_slash" if path.endswith("/") and len(path) > 1 else ""
    return f"{method.lower()}_{words}{slash}"


def tag_of(path: str) -> str:
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    # /api/v1/users/... -> users; /api/jobs/... -> jobs
    if len(parts) > 2 and re.fullmatch(r"v\d+", parts[1]):
        return parts[2]
    return parts[1] if len(parts) > 1 else parts[0]


def path_parameters(path: str, rules: dict[str, Schema] | None = None) -> list[Schema]:
    parameters = []
    for name in PATH_PARAM.findall(path):
        if rules and name in rules:
            schema = dict(rules[name])
        elif name in NUMERIC_PARAMS:
            schema = dict(FORUM_ID)
        else:
            schema = dict(PATH_RULES.get(name, {"type": "string"}))
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def build(
    app: Starlette, title: str = "forumq", version: str = "1", settings: Settings | None = None
) -> Schema:
    builder = Builder(title, version, settings or Settings())
    for path, item in walk(list(app.routes)):
        builder.add(path, item)
    return builder.doc


async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document (generated once per process)."""
    state = request.app.state
    document = getattr(state, "openapi", None)
    if document is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version

        try:
            version = package_version("forumq")
        except PackageNotFoundError:
            version = "0"
        document = state.openapi = build(request.app, version=version,
                                          settings=state.settings)  # fmt: skip
    return JSONResponse(document)


def routes() -> list[DocumentedRoute]:
    return [
        route("GET", "/api/openapi.json", openapi_json, "This OpenAPI document", auth="none",
              queued=False, enveloped=False),
    ]  # fmt: skip
