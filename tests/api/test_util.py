"""``POST /api/v1|v2/util/upload``: multipart ``files`` stored under the configured
directory with generated names, answered with core's bare ``[{url, name}]`` array,
served read-only; refused uploads leave no file behind."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack import servers
from tests.support import Stack, user_with_token

MAX_BYTES = 1000
MAX_FILES = 3
PREFIX = "/assets/uploads/files"


@pytest.fixture(scope="module")
def member(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url)


@pytest.fixture(scope="module")
def upload_api(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """An API process on the stack's database with a small upload limit."""
    tmp = tmp_path_factory.mktemp("upload-api")
    directory = tmp / "stored"
    env = {
        **stack.env,
        "FORUMQ_UPLOAD_DIR": str(directory),
        "FORUMQ_MAX_UPLOAD_BYTES": str(MAX_BYTES),
        "FORUMQ_MAX_UPLOAD_FILES": str(MAX_FILES),
    }
    with servers.running_api(env, tmp / "api.log") as base_url:
        yield base_url, directory


def client(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)


def stored(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def multipart(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, dict[str, str]]:
    """A hand-made multipart body: ``(field, filename or None, data)`` parts."""
    boundary = uuid.uuid4().hex
    body = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data
        body += b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_upload_files_and_fetch_them_back(
    upload_api: tuple[str, Path], member: tuple[int, str], version: str
) -> None:
    base_url, directory = upload_api
    before = stored(directory)
    files = [("files", ("notes.txt", b"first file", "text/plain")),
             ("files[]", ("pixel.png", b"\x89PNG fake", "image/png"))]  # fmt: skip
    with client(base_url, member[1]) as c:
        response = c.post(f"/api/{version}/util/upload", files=files)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert isinstance(answer, list) and len(answer) == 2  # bare, not enveloped
        assert [item["name"] for item in answer] == ["notes.txt", "pixel.png"]
        for item, (_, (name, data, _type)) in zip(answer, files, strict=True):
            assert set(item) == {"url", "name"}
            assert item["url"].startswith(PREFIX + "/")
            generated = item["url"].rsplit("/", 1)[1]
            assert name.rsplit(".", 1)[0] not in generated  # never the client's name
            assert generated.endswith("." + name.rsplit(".", 1)[1])
            assert (directory / generated).read_bytes() == data
            served = c.get(item["url"])
            assert served.status_code == 200 and served.content == data
            assert served.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in served.headers["content-security-policy"]
    assert len(stored(directory) - before) == 2


def test_master_token_takes_uid_from_the_query(upload_api: tuple[str, Path], stack: Stack) -> None:
    base_url, _ = upload_api
    files = {"files": ("a.txt", b"by the admin", "text/plain")}
    with client(base_url, stack.master_token) as c:
        ok = c.post("/api/v1/util/upload", params={"_uid": stack.admin_uid}, files=files)
        missing = c.post("/api/v1/util/upload", files=files)
        nobody = c.post("/api/v1/util/upload", params={"_uid": 2**40}, files=files)
    assert ok.status_code == 200, ok.text
    assert missing.status_code == 400
    assert missing.json()["code"] == "params-missing" and missing.json()["params"] == ["_uid"]
    assert nobody.status_code == 400 and nobody.json()["code"] == "bad-request"


def test_anonymous_upload_is_refused_before_storing(upload_api: tuple[str, Path]) -> None:
    base_url, directory = upload_api
    before = stored(directory)
    with client(base_url) as c:
        response = c.post("/api/v2/util/upload", files={"files": ("a.txt", b"x", "text/plain")})
    assert response.status_code == 401
    assert response.json()["code"] == "not-authorised"
    assert stored(directory) == before


def test_a_client_filename_never_chooses_the_path(
    upload_api: tuple[str, Path], member: tuple[int, str]
) -> None:
    base_url, directory = upload_api
    body, headers = multipart(("files", "../../../etc/evil.sh", b"#!/bin/sh"),
                              ("files", "..\\..\\win.ini", b"[x]"))  # fmt: skip
    with client(base_url, member[1]) as c:
        response = c.post("/api/v1/util/upload", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert [item["name"] for item in response.json()] == ["evil.sh", "win.ini"]
    for item in response.json():
        assert ".." not in item["url"]
        assert (directory / item["url"].rsplit("/", 1)[1]).is_file()
    assert not (directory.parent / "etc").exists()


def test_a_file_over_the_limit_is_413_and_nothing_is_kept(
    upload_api: tuple[str, Path], member: tuple[int, str]
) -> None:
    base_url, directory = upload_api
    before = stored(directory)
    too_big = b"x" * (MAX_BYTES + 1)
    files = [("files", ("small.txt", b"fits", "text/plain")), ("files", ("big.bin", too_big))]
    with client(base_url, member[1]) as c:
        response = c.post("/api/v2/util/upload", files=files)
        exact = c.post("/api/v2/util/upload", files={"files": ("ok.bin", b"y" * MAX_BYTES)})
        huge = c.post("/api/v2/util/upload", files={"files": ("huge.bin", b"z" * 200_000)})
    assert response.status_code == 413
    params = {"limit": MAX_BYTES, "unit": "bytes", "name": "big.bin"}
    assert response.json() == {"code": "payload-too-large", "message": "file-too-big",
                               "params": params}  # fmt: skip
    assert huge.status_code == 413 and huge.json()["code"] == "payload-too-large"
    assert huge.json()["params"]["unit"] == "bytes"
    assert exact.status_code == 200, exact.text
    assert stored(directory) - before == {exact.json()[0]["url"].rsplit("/", 1)[1]}


def test_too_many_files(upload_api: tuple[str, Path], member: tuple[int, str]) -> None:
    base_url, directory = upload_api
    before = stored(directory)
    files = [("files", (f"{n}.txt", b"data", "text/plain")) for n in range(MAX_FILES + 1)]
    with client(base_url, member[1]) as c:
        response = c.post("/api/v1/util/upload", files=files)
    assert response.status_code == 400
    assert response.json() == {"code": "bad-request", "message": "too-many-files",
                               "params": {"limit": MAX_FILES}}  # fmt: skip
    assert stored(directory) == before


def test_bad_bodies(upload_api: tuple[str, Path], member: tuple[int, str]) -> None:
    base_url, directory = upload_api
    before = stored(directory)
    no_file, headers = multipart(("title", None, b"just a field"), ("files", "", b""))
    truncated, truncated_headers = multipart(("files", "a.txt", b"data"))
    with client(base_url, member[1]) as c:
        empty = c.post("/api/v1/util/upload", content=no_file, headers=headers)
        as_json = c.post("/api/v1/util/upload", json={"files": ["a"]})
        broken = c.post("/api/v2/util/upload", content=truncated[:-30] + b"\r\n--nope",
                        headers=truncated_headers)  # fmt: skip
        no_boundary = c.post("/api/v2/util/upload", content=b"x",
                             headers={"Content-Type": "multipart/form-data"})  # fmt: skip
    assert empty.status_code == 400
    assert empty.json() == {"code": "params-missing", "params": ["files"],
                            "message": empty.json()["message"]}  # fmt: skip
    assert as_json.status_code == 400 and as_json.json()["code"] == "bad-request"
    assert no_boundary.status_code == 400 and no_boundary.json()["code"] == "bad-request"
    assert broken.status_code == 400, broken.text
    assert broken.json()["message"] == "The multipart body is malformed."
    assert stored(directory) == before
    assert not any(name.endswith(".part") for name in stored(directory))


def test_served_files_are_read_only(upload_api: tuple[str, Path], member: tuple[int, str]) -> None:
    base_url, _ = upload_api
    with client(base_url, member[1]) as c:
        url = c.post("/api/v2/util/upload", files={"files": ("r.txt", b"read me")}).json()[0]["url"]
        assert c.head(url).status_code == 200
        for method in ("PUT", "POST", "DELETE"):
            refused = c.request(method, url, content=b"overwrite")
            assert refused.status_code == 404, method
            assert refused.json()["code"] == "not-found"
        assert c.get(url).content == b"read me"
        assert c.get(f"{PREFIX}/no-such-file.txt").status_code == 404
        assert c.get(f"{PREFIX}/../../api.log").status_code == 404


def test_uploads_can_be_disabled(
    stack: Stack, member: tuple[int, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("no-upload-api")
    env = {**stack.env, "FORUMQ_ALLOW_FILE_UPLOADS": "false", "FORUMQ_UPLOAD_DIR": str(tmp / "x")}
    with servers.running_api(env, tmp / "api.log") as base_url, client(base_url, member[1]) as c:
        response = c.post("/api/v1/util/upload", files={"files": ("a.txt", b"data")})
    assert response.status_code == 400
    assert response.json() == {"code": "bad-request", "message": "uploads-are-disabled",
                               "params": {}}  # fmt: skip
    assert stored(tmp / "x") == set()


def test_default_configuration_serves_uploads(stack: Stack, member: tuple[int, str]) -> None:
    with stack.client(member[1]) as c:
        response = c.post("/api/v2/util/upload", files={"files": ("d.txt", b"default dir")})
        assert response.status_code == 200, response.text
        url = response.json()[0]["url"]
        assert url.startswith(PREFIX + "/")
        assert c.get(url).content == b"default dir"
