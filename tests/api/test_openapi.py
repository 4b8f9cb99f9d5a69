"""``GET /api/openapi.json``: a valid OpenAPI 3.1 document generated from the routes,
covering every route with its parameters, body, success and error envelopes."""

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from api.app import create_app
from api.openapi import NO_NUL, OTHER_PARAMETER, PATH_PARAM, build, walk
from api.routing import DocumentedRoute
from forumq.settings import Settings
from tests.support import CONTENT, Forum, Stack, refusal

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def app_routes() -> list[tuple[str, Route]]:
    app = create_app(Settings(database_url="sqlite://", upload_dir="uploads"))
    return list(walk(list(app.routes)))


@pytest.fixture(scope="module")
def document() -> Doc:
    return build(create_app(Settings(database_url="sqlite://", upload_dir="uploads")))


def operation(document: Doc, path: str, method: str) -> Doc:
    return document["paths"][PATH_PARAM.sub(r"{\1}", path)][method.lower()]


def resolve(document: Doc, node: Doc) -> Doc:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = document["components"][section][name]
    return node


def test_the_document_is_valid_openapi_3_1(document: Doc) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_appears(document: Doc, app_routes: list[tuple[str, Route]]) -> None:
    documented = [(p, r) for p, r in app_routes if isinstance(r, DocumentedRoute)]
    assert len(documented) > 20
    for path, route in documented:
        op = operation(document, path, route.method)
        assert op["summary"] == route.doc.summary
        assert op["x-forumq-auth"] == route.doc.auth
    assert "get" in document["paths"]["/api/jobs/{job_id}"]
    assert "get" in document["paths"]["/api/openapi.json"]
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_path_parameters(document: Doc) -> None:
    params = operation(document, "/api/v1/users/{uid}/tokens/{token}", "DELETE")["parameters"]
    by_name = {p["name"]: p for p in params if "name" in p}
    assert by_name["uid"] == {"name": "uid", "in": "path", "required": True,
                              "schema": {"type": "integer", "minimum": 1,
                                         "maximum": 2**63 - 1}}  # fmt: skip
    assert by_name["token"]["schema"] == {"type": "string"}
    job = operation(document, "/api/jobs/{job_id}", "GET")["parameters"]
    assert {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}} in job


def test_request_bodies_come_from_the_route_models(
    document: Doc, app_routes: list[tuple[str, Route]]
) -> None:
    checked = 0
    for path, route in app_routes:
        if not isinstance(route, DocumentedRoute) or route.doc.body is None:
            continue
        body = operation(document, path, route.method)["requestBody"]
        model = route.doc.body
        media_types = getattr(model, "media_types", None) or (
            "application/json", "application/x-www-form-urlencoded")  # fmt: skip
        assert sorted(body["content"]) == sorted(media_types)
        schema = resolve(document, body["content"][media_types[0]]["schema"])
        if schema.get("type") == "array":  # the bulk body: the items themselves
            assert body["required"] and schema["minItems"] == 1
            continue
        expected = {
            field.alias or name
            for name, field in model.model_fields.items()
            if name != "kind"
            and name not in route.doc.server_fields
            and (field.alias or name) not in route.doc.server_fields
        } | ({"_uid"} if route.doc.auth != "none" else set())
        assert set(schema.get("properties", {})) == expected, (path, route.method)
        assert schema["additionalProperties"] == (False if route.doc.closed else OTHER_PARAMETER)
        required = {f.alias or n for n, f in model.model_fields.items() if f.is_required()}
        assert set(schema.get("required", [])) == required & expected
        assert body["required"] == bool(required & expected)
        checked += 1
    assert checked >= 5


def test_topic_create_body_is_the_command_minus_the_discriminator(document: Doc) -> None:
    body = operation(document, "/api/v1/topics", "POST")["requestBody"]
    schema = resolve(document, body["content"]["application/x-www-form-urlencoded"]["schema"])
    assert {"cid", "title", "content"} <= set(schema["required"])
    assert "kind" not in schema["properties"]
    reply = operation(document, "/api/v2/topics/{tid}", "POST")["requestBody"]
    reply_schema = resolve(document, reply["content"]["application/json"]["schema"])
    assert "tid" not in reply_schema["properties"]  # from the path, not the body
    assert "toPid" in reply_schema["properties"]
    # Core's create takes ``thumbs`` as paths of uploaded files.
    core = operation(document, "/api/v3/topics", "POST")["requestBody"]
    thumbs = resolve(document, core["content"]["application/json"]["schema"])["properties"][
        "thumbs"
    ]
    assert thumbs["type"] == "array" and thumbs["items"]["type"] == "string"


def test_bodies_stay_open_and_the_routes_that_refuse_unknown_keys_say_so(
    document: Doc, stack: Stack
) -> None:
    """The document's request bodies accept any other key, as most routes do: a reply
    with a key it does not know is applied; a profile update names the key it refuses."""
    reply = operation(document, "/api/v1/topics/{tid}", "POST")
    profile = operation(document, "/api/v1/users/{uid}", "PUT")
    bodies = [resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
              for op in (reply, profile)]  # fmt: skip
    assert bodies[0]["additionalProperties"] == OTHER_PARAMETER  # any value without NUL
    assert bodies[1]["additionalProperties"] is False
    assert "refused" not in reply["summary"] and "refused" in profile["summary"]
    forum = Forum(stack)
    uid = forum.user()
    tid, _ = forum.topic(uid)
    with forum.master(uid) as client:
        applied = client.post(f"/api/v1/topics/{tid}", json={"content": CONTENT, "colour": "red"})
        refused = client.put(f"/api/v1/users/{uid}", json={"fullname": "A", "colour": "red"})
    assert applied.status_code == 200, applied.text
    assert refusal(refused) == (400, "bad-request", "Unknown parameters: colour")


def test_queued_routes_document_the_job_answer_and_headers(
    document: Doc, app_routes: list[tuple[str, Route]]
) -> None:
    for path, route in app_routes:
        if not isinstance(route, DocumentedRoute):
            continue
        op = operation(document, path, route.method)
        refs = {p.get("$ref", "").rsplit("/", 1)[-1] for p in op.get("parameters", [])}
        if route.doc.queued:
            accepted = resolve(document, op["responses"]["202"])
            assert set(accepted["headers"]) >= {"Location", "Retry-After"}
            envelope = accepted["content"]["application/json"]["schema"]["properties"]
            payload = envelope["response" if path.startswith("/api/v3/") else "payload"]
            assert resolve(document, payload)["required"] == ["job_id", "state", "links"]
            assert {"Prefer", "IdempotencyKey"} <= refs
            assert {"409", "422"} <= set(op["responses"])
        else:
            assert "202" not in op["responses"]
            assert "Prefer" not in refs
        if route.doc.auth == "none":
            assert op["security"] == []
        else:
            # "optional": the read API serves a caller without credentials as a guest.
            anonymous = [{}] if route.doc.auth == "optional" else []
            schemes = [*anonymous, {"bearerAuth": []}, {"jwtToken": []}]
            plugin = not path.startswith("/api/v3/")  # core takes no password in lieu
            if route.method == "POST" and plugin and path.endswith("/users/{uid}/tokens"):
                schemes.append({})  # a password in lieu of credentials
            assert op["security"] == schemes
            assert "Uid" in refs
            # A read page reads no body: no 413.
            read_page = {"413"} if route.doc.page else set()
            assert {"400", "401", "403", "404", "413", "503"} - read_page <= set(op["responses"])
        assert {str(status) for status in route.doc.errors} <= set(op["responses"])


def test_envelopes(document: Doc) -> None:
    op = operation(document, "/api/v1/topics", "POST")
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["required"] == ["code", "payload"] and ok["properties"]["code"] == {"const": "ok"}
    error = resolve(document, op["responses"]["404"])["content"]["application/json"]["schema"]
    assert resolve(document, error)["required"] == ["code", "message", "params"]
    unavailable = resolve(document, op["responses"]["503"])
    assert "Retry-After" in unavailable["headers"]
    # Not enveloped: ping, and the upload's bare array of {url, name} (plugin §3.5).
    upload = operation(document, "/api/v2/util/upload", "POST")
    answer = resolve(document, upload["responses"]["200"]["content"]["application/json"]["schema"])
    assert answer["type"] == "array"
    assert set(resolve(document, answer["items"])["required"]) == {"url", "name"}
    assert list(upload["requestBody"]["content"]) == ["multipart/form-data"]
    pong = operation(document, "/api/v1/ping", "GET")
    assert "payload" not in str(pong["responses"]["200"])
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["jwtToken"] == {**schemes["jwtToken"], "in": "query", "name": "token"}


def test_served_by_the_running_service(stack: Stack) -> None:
    with stack.client() as client:
        response = client.get("/api/openapi.json")
        again = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    validate(served)
    assert served == again.json()
    assert "/api/v2/util/maintenance" in served["paths"]
    assert "/api/jobs/{job_id}" in served["paths"]


def body_schema(document: Doc, path: str, method: str, media: str = "application/json") -> Doc:
    found = operation(document, path, method)["requestBody"]["content"][media]["schema"]
    return resolve(document, found)


def test_rules_on_a_path_value_a_type_and_a_forms_list_are_documented(document: Doc) -> None:
    """The rules a schema-valid request was refused by before they were stated."""
    rule = operation(document, "/api/v3/admin/settings/{setting}", "PUT")["parameters"][0]
    assert rule["name"] == "setting" and "minimumPostLength" in rule["schema"]["enum"]
    assert "maintenanceMode" not in rule["schema"]["enum"]
    for path, good, bad in (("/api/v3/admin/settings/{setting}", ["2147483647", " 007 "],
                             ["2147483648", "-1", "1.5"]),
                            ("/api/v3/admin/settings/maintenanceMode", ["1", " 0"], ["2", "01"]),
                            ("/api/v3/admin/settings/postQueue", ["0", "00"], ["1"])):  # fmt: skip
        text, number = body_schema(document, path, "PUT")["properties"]["value"]["anyOf"]
        assert all(re.search(text["pattern"], value) for value in good), path
        assert not any(re.search(text["pattern"], value) for value in bad), path
        assert number["type"] == "integer" and number["minimum"] == 0
    flag = body_schema(document, "/api/v3/flags", "POST")["properties"]["type"]
    assert flag["enum"] == ["post", "user"]
    room = body_schema(document, "/api/v3/chats", "POST")["properties"]["uids"]
    assert room["minItems"] == 1  # core's no-users-selected
    # A form's required list: sent as uids[]=..., with at least one (none sends no key).
    form = "application/x-www-form-urlencoded"
    leave = body_schema(document, "/api/v3/chats/{roomId}/users", "DELETE", form)
    assert leave["required"] == ["uids[]"] and leave["properties"]["uids[]"]["minItems"] == 1
    assert "uids" in leave["propertyNames"]["not"]["enum"]
    assert body_schema(document, "/api/v3/chats/{roomId}/users", "DELETE")["required"] == ["uids"]


def test_bodies_document_the_forums_rules(document: Doc) -> None:
    """What a route refuses is in the document: a request valid by it is accepted."""
    topic = resolve(document, operation(document, "/api/v2/topics", "POST")["requestBody"]
                    ["content"]["application/json"]["schema"])  # fmt: skip
    content, title, tags = (topic["properties"][k] for k in ("content", "title", "tags"))
    assert re.fullmatch(content["pattern"], "  eight ch  ")
    assert not re.search(content["pattern"], "seven c") and not re.search(content["pattern"], " ")
    assert content["maxLength"] == 32767 and title["maxLength"] == 255
    assert tags["maxItems"] == 5 and re.fullmatch(tags["items"]["pattern"], "abc")
    assert not re.search(tags["items"]["pattern"], "ab")
    cid = resolve(
        document,
        operation(document, "/api/v2/topics", "POST")["requestBody"]["content"][
            "application/x-www-form-urlencoded"
        ]["schema"],
    )["properties"]
    # A form cannot send null, and sends a list as tags[]=a&tags[]=b (one tags=a is a text).
    assert "anyOf" not in cid["tags[]"] and "tags" not in cid
    password = resolve(document, operation(document, "/api/v2/users/{uid}/password", "PUT")
                       ["requestBody"]["content"]["application/json"]["schema"])  # fmt: skip
    assert password["properties"]["new"]["minLength"] == 6
    for schema in (topic, password):  # NUL is refused in every text, names included
        assert schema["propertyNames"] == {"pattern": NO_NUL}
        for field in schema["properties"].values():
            for branch in [field, *field.get("anyOf", [])]:
                if branch.get("type") == "string":
                    assert not re.search(branch["pattern"], "a\x00b"), field
