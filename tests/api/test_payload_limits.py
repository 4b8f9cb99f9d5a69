"""Every answer 413 says which limit in one shape, ``{limit, unit}`` (a file adds its
``name``): in the plugin's ``params``, in core's ``response`` on v3, whichever route and
limit refused the request (a body, declared or streamed, JSON or form; a password's
token request; an upload and one of its files; a bulk body in bytes or items, NDJSON or
JSON array). Each answer conforms to the 413 its operation documents."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
import pytest

from devstack import servers
from tests.support import Stack

BODY, BULK, ITEMS, FILE, FILES = 2048, 8192, 3, 1024, 2
# api.util: the whole upload body's limit (files, each with room for its part's headers).
UPLOAD = FILES * (FILE + 16_384)


@pytest.fixture(scope="module")
def small_api(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An API process on the stack's database with small limits."""
    tmp = tmp_path_factory.mktemp("limits-api")
    env = {**stack.env, "FORUMQ_MAX_BODY_BYTES": str(BODY), "FORUMQ_BULK_MAX_BYTES": str(BULK),
           "FORUMQ_BULK_MAX_ITEMS": str(ITEMS), "FORUMQ_MAX_UPLOAD_BYTES": str(FILE),
           "FORUMQ_MAX_UPLOAD_FILES": str(FILES),
           "FORUMQ_UPLOAD_DIR": str(tmp / "files")}  # fmt: skip
    with servers.running_api(env, tmp / "api.log") as base_url:
        yield base_url


def streamed(data: bytes) -> Iterator[bytes]:
    """``data`` sent in pieces, without Content-Length (the limit holds as it arrives)."""
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


def item(n: int) -> dict[str, Any]:
    return {"type": "user", "external_id": f"limit{n}", "username": f"limit{n}"}


def test_every_413_says_its_limit_in_one_shape(small_api: str, stack: Stack) -> None:
    big = {"cid": stack.cid, "title": "Too long", "content": "x" * BODY}
    json, form = "application/json", "application/x-www-form-urlencoded"
    ndjson = "application/x-ndjson"
    # (path, content, content type, the limit, its unit)
    requests: list[tuple[str, Any, str, int, str]] = [
        ("/api/v1/topics", orjson.dumps(big), json, BODY, "bytes"),
        ("/api/v2/topics", streamed(b"content=" + b"x" * BODY), form, BODY, "bytes"),
        ("/api/v3/topics", streamed(orjson.dumps(big)), json, BODY, "bytes"),
        (f"/api/v1/users/{stack.admin_uid}/tokens",  # the route that takes a password
         orjson.dumps({"password": "x" * BODY}), json, BODY, "bytes"),
        ("/api/v2/bulk", b"[" + b" " * BULK + b"]", json, BULK, "bytes"),
        ("/api/v2/bulk", streamed(b"\n" * BULK + b"{}"), ndjson, BULK, "bytes"),
        ("/api/v2/bulk", streamed(b"[" + b" " * BULK + b"]"), json, BULK, "bytes"),
        ("/api/v2/bulk", orjson.dumps([item(n) for n in range(ITEMS + 1)]), json, ITEMS,
         "items"),
        ("/api/v2/bulk", b"\n".join(orjson.dumps(item(n)) for n in range(ITEMS + 1)), ndjson,
         ITEMS, "items"),
        ("/api/v2/util/upload", b"x" * (UPLOAD + 1), "multipart/form-data; boundary=b", UPLOAD,
         "bytes"),
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    with httpx.Client(base_url=small_api, headers=headers, timeout=30) as client:
        document = client.get("/api/openapi.json").json()
        answers = [
            (path, client.post(path, content=content, headers={"Content-Type": media}), limit,
             unit)
            for path, content, media, limit, unit in requests
        ]  # fmt: skip
        file = client.post("/api/v2/util/upload", files={"files": ("big.bin", b"y" * (FILE + 1))})
    answers.append(("/api/v2/util/upload", file, FILE, "bytes"))
    for path, answer, limit, unit in answers:
        assert answer.status_code == 413, (path, answer.text)
        body = answer.json()
        said = body["response"] if path.startswith("/api/v3/") else body["params"]
        expected = {"limit": limit, "unit": unit}
        assert said == (expected if answer is not file else {**expected, "name": "big.bin"})
        code = body["status"]["code"] if path.startswith("/api/v3/") else body["code"]
        assert code == "payload-too-large", (path, body)
        template = path.replace(f"/users/{stack.admin_uid}/", "/users/{uid}/")
        documented = document["paths"][template]["post"]
        response = documented["responses"]["413"]["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["responses"][response]["content"]["application/json"]
        jsonschema.validate(body, {**schema["schema"], "components": document["components"]})


def test_the_document_states_the_413_shape(small_api: str) -> None:
    with httpx.Client(base_url=small_api, timeout=30) as client:
        schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    limit = schemas["Limit"]
    assert limit["required"] == ["limit", "unit"] and limit["additionalProperties"] is False
    assert schemas["ErrorTooLarge"]["properties"]["params"] == {
        "$ref": "#/components/schemas/Limit"
    }
    core = schemas["CoreErrorTooLarge"]["properties"]["response"]
    assert core == {"$ref": "#/components/schemas/Limit"}


def test_every_413_is_made_by_api_errors_too_large() -> None:
    """One constructor makes every 413 (``api.errors.too_large``, the one shape)."""
    root = Path(__file__).resolve().parents[2]
    made = re.compile(r"ApiError\(\s*413|Response\([^)]*\b413\b")
    found = [str(path.relative_to(root)) for package in ("api", "forum", "forumq", "workers")
             for path in (root / package).rglob("*.py")
             if made.search(path.read_text())]  # fmt: skip
    assert found == ["api/errors.py"]
