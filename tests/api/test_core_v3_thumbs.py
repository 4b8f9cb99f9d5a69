"""Core's v3 topic thumbnails (``/api/v3/topics/{tid}/thumbs``): uploads stored by the
API and attached by a queued command, listed, reordered and removed. Each answer is
checked against core's ``write.yaml``; a refused upload leaves no file and no row, a
path outside the upload directory is refused."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import servers
from forum.categories import set_disabled, set_privileges
from forum.db import transaction
from forum.models import Topic, TopicThumb
from tests.api.reads import get
from tests.api.reads import ok as reads_ok
from tests.core_v3 import CONTENT, Core
from tests.nodebb_spec import check_answer
from tests.support import Stack, new_category, new_topic, unique, user_with_token

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32


@pytest.fixture(scope="module")
def api(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An API process on the stack (its workers apply the writes) with its own upload
    directory."""
    tmp = tmp_path_factory.mktemp("thumbs-api")
    directory = tmp / "uploads"
    env = {**stack.env, "FORUMQ_UPLOAD_DIR": str(directory)}
    with servers.running_api(env, tmp / "api.log") as base_url:
        yield base_url, directory


def call(
    api: tuple[str, Path], token: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api[0] + "/api/v3", headers=headers, timeout=30) as client:
        answer = client.request(method, path, **kwargs)
    check_answer(answer)
    return answer


def ok(api: tuple[str, Path], token: str, method: str, path: str, **kwargs: Any) -> Any:
    answer = call(api, token, method, path, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]


def refused(api: tuple[str, Path], token: str, method: str, path: str, status: int,
            **kwargs: Any) -> str:  # fmt: skip
    answer = call(api, token, method, path, **kwargs)
    assert answer.status_code == status, answer.text
    return str(answer.json()["status"]["message"])


def stored(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def thumbs_of(core: Core, tid: int) -> list[tuple[str, str, int]]:
    rows = core.rows(TopicThumb, TopicThumb.tid == tid)
    return [(r.path, r.name, r.position) for r in sorted(rows, key=lambda r: r.position)]


def test_thumbnails_are_added_listed_reordered_and_removed(core: Core, api: Any) -> None:
    _, token = user_with_token(core.stack.database_url)
    tid = core.topic(token)["tid"]
    added = ok(api, token, "POST", f"/topics/{tid}/thumbs",
               files={"files": ("cover.png", PNG, "image/png")})  # fmt: skip
    assert [image["name"] for image in added["images"]] == ["cover.png"]
    second = ok(api, token, "POST", f"/topics/{tid}/thumbs",
                files=[("files", ("b.gif", GIF, "image/gif"))])["images"][0]  # fmt: skip
    rows = thumbs_of(core, tid)
    assert [(name, position) for _, name, position in rows] == [("cover.png", 0), ("b.gif", 1)]
    first_path, second_path = rows[0][0], rows[1][0]
    assert {first_path, second_path} <= stored(api[1])
    assert (api[1] / first_path).read_bytes() == PNG
    listed = ok(api, token, "GET", f"/topics/{tid}/thumbs")
    assert listed == [
        {"id": str(tid), "name": "cover.png", "path": first_path, "url": added["images"][0]["url"]},
        {"id": str(tid), "name": "b.gif", "path": second_path, "url": second["url"]},
    ]
    with httpx.Client(base_url=api[0]) as client:
        assert client.get(second["url"]).content == GIF  # served where the url says
    # The topic's objects carry them: core's topic data and the topic lists.
    topic = ok(api, token, "GET", f"/topics/{tid}")
    assert (topic["thumbs"], topic["numThumbs"]) == (listed, 2)
    recent = reads_ok(get(core.stack, "/api/recent", token, cid=core.stack.cid))["topics"]
    assert next(t for t in recent if t["tid"] == tid)["thumbs"] == listed
    reordered = ok(api, token, "PUT", f"/topics/{tid}/thumbs/order",
                   json={"path": second_path, "order": 0})  # fmt: skip
    assert [t["path"] for t in reordered] == [second_path, first_path]
    assert [p for p, _, _ in thumbs_of(core, tid)] == [second_path, first_path]
    # An order past the end puts it last.
    ok(api, token, "PUT", f"/topics/{tid}/thumbs/order", json={"path": second_path, "order": 9})
    assert [p for p, _, _ in thumbs_of(core, tid)] == [first_path, second_path]
    left = ok(api, token, "DELETE", f"/topics/{tid}/thumbs", json={"path": first_path})
    assert [t["path"] for t in left] == [second_path]
    # The url names the file as well as the path, in the query as in the body.
    assert ok(api, token, "DELETE", f"/topics/{tid}/thumbs", params={"path": second["url"]}) == []
    assert thumbs_of(core, tid) == []
    assert core.ok(token, "GET", f"/topics/{tid}/thumbs") == []


def test_refused_uploads_leave_no_file_and_no_row(core: Core, api: Any) -> None:
    _, token = user_with_token(core.stack.database_url)
    _, other = user_with_token(core.stack.database_url)
    tid = core.topic(token)["tid"]
    before = stored(api[1])
    png = {"files": ("cover.png", PNG, "image/png")}
    assert refused(api, other, "POST", f"/topics/{tid}/thumbs", 403, files=png) == (
        "[[error:no-privileges]]"
    )
    assert refused(api, token, "POST", f"/topics/{tid + 10_000}/thumbs", 404, files=png) == (
        "[[error:no-topic]]"
    )
    fake = {"files": ("evil.png", b"<script>alert(1)</script>", "image/png")}
    assert refused(api, token, "POST", f"/topics/{tid}/thumbs", 400, files=fake) == (
        "[[error:invalid-file]]"
    )
    refused(api, token, "POST", f"/topics/{tid}/thumbs", 400, data={"files": "x"})
    assert stored(api[1]) == before
    assert thumbs_of(core, tid) == []


def test_paths_outside_the_upload_directory_are_refused(core: Core, api: Any) -> None:
    _, token = user_with_token(core.stack.database_url)
    _, other = user_with_token(core.stack.database_url)
    tid = core.topic(token)["tid"]
    ok(api, token, "POST", f"/topics/{tid}/thumbs", files={"files": ("a.png", PNG, "image/png")})
    path = thumbs_of(core, tid)[0][0]
    for outside in ("../../etc/passwd", "/../api.log", "..\\api.log", "/assets/uploads/files/.."):
        message = refused(api, token, "DELETE", f"/topics/{tid}/thumbs", 403,
                          json={"path": outside})  # fmt: skip
        assert message == "[[error:invalid-path]]"
    assert refused(api, token, "DELETE", f"/topics/{tid}/thumbs", 404,
                   json={"path": "missing.png"}) == "[[error:invalid-path]]"  # fmt: skip
    assert refused(api, token, "DELETE", f"/topics/{tid}/thumbs", 400) == "[[error:invalid-data]]"
    assert refused(api, other, "DELETE", f"/topics/{tid}/thumbs", 403, json={"path": path}) == (
        "[[error:no-privileges]]"
    )
    unknown = {"path": "missing.png", "order": 0}
    message = refused(api, token, "PUT", f"/topics/{tid}/thumbs/order", 400, json=unknown)
    assert message == "[[error:invalid-data]]"
    refused(api, token, "PUT", f"/topics/{tid}/thumbs/order", 400, json={"path": path})
    refused(api, token, "PUT", f"/topics/{tid}/thumbs/order", 400,
            json={"path": path, "order": "first"})  # fmt: skip
    assert [p for p, _, _ in thumbs_of(core, tid)] == [path]
    core.ok(core.stack.admin_token, "DELETE", f"/topics/{tid}")  # thumbnails go along
    assert thumbs_of(core, tid) == []
    assert core.refused(token, "GET", f"/topics/{tid}/thumbs", 400) == "[[error:not-found]]"


def test_a_retried_upload_stores_nothing_again(core: Core, api: Any) -> None:
    _, token = user_with_token(core.stack.database_url)
    tid = core.topic(token)["tid"]
    png = {"files": ("cover.png", PNG, "image/png")}
    key = {"Idempotency-Key": f"thumb-{tid}"}
    first = ok(api, token, "POST", f"/topics/{tid}/thumbs", files=png, headers=key)
    before = stored(api[1])
    again = ok(api, token, "POST", f"/topics/{tid}/thumbs", files=png, headers=key)
    assert again == first and stored(api[1]) == before
    assert len(thumbs_of(core, tid)) == 1


def test_listing_checks_the_topic_as_core_does(core: Core) -> None:
    """``topicsAPI.getThumbs``: no such topic is 400 ``not-found``, a category the
    caller may not read (or a disabled one) 400 ``not-allowed``; a deleted topic is
    listed; a path that is not a number (a draft's uuid to core) has none."""
    uid, token = user_with_token(core.stack.database_url)
    assert core.refused(token, "GET", "/topics/987654321/thumbs", 400) == "[[error:not-found]]"
    assert core.refused(token, "GET", "/topics/1.5/thumbs", 400) == "[[error:not-found]]"
    assert core.ok(token, "GET", "/topics/not-a-tid/thumbs") == []
    hidden = new_category(core.stack.database_url, "Hidden thumbs")
    tid = new_topic(core.stack.database_url, uid, hidden)
    with transaction(core.stack.database_url) as session:
        set_privileges(session, None, hidden, ("groups:topics:read",),
                       ["guests", "registered-users"], grant=False)  # fmt: skip
    assert core.refused(token, "GET", f"/topics/{tid}/thumbs", 400) == "[[error:not-allowed]]"
    assert core.ok(core.stack.admin_token, "GET", f"/topics/{tid}/thumbs") == []
    disabled = new_category(core.stack.database_url, "Disabled thumbs")
    off = new_topic(core.stack.database_url, uid, disabled)
    with transaction(core.stack.database_url) as session:
        set_disabled(session, None, disabled, True)
    assert core.refused(token, "GET", f"/topics/{off}/thumbs", 400) == "[[error:not-allowed]]"
    deleted = core.topic(token)["tid"]
    core.ok(core.stack.admin_token, "DELETE", f"/topics/{deleted}/state")
    assert core.ok(token, "GET", f"/topics/{deleted}/thumbs") == []


def test_thumbs_given_on_create_are_stored(core: Core, api: Any) -> None:
    """Core's ``topics.create`` stores ``thumbs``; each is checked as the thumbnail
    routes check a path, and a refused one creates no topic."""
    uid, token = user_with_token(core.stack.database_url)
    directory = api[1]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"made-{uid}.png").write_bytes(PNG)
    (directory / f"also-{uid}.gif").write_bytes(GIF)
    body = {"cid": core.stack.cid, "title": unique("T "), "content": CONTENT}
    names = [f"made-{uid}.png", f"/assets/uploads/files/also-{uid}.gif"]
    tid = ok(api, token, "POST", "/topics", json={**body, "thumbs": names})["tid"]
    assert thumbs_of(core, tid) == [(f"made-{uid}.png", f"made-{uid}.png", 0),
                                    (f"also-{uid}.gif", f"also-{uid}.gif", 1)]  # fmt: skip
    listed = ok(api, token, "GET", f"/topics/{tid}/thumbs")
    assert [t["url"] for t in listed] == [f"/assets/uploads/files/made-{uid}.png",
                                          f"/assets/uploads/files/also-{uid}.gif"]  # fmt: skip
    plain = ok(api, token, "POST", "/topics", json={**body, "thumbs": "not-a-list"})["tid"]
    assert thumbs_of(core, plain) == []
    for bad, status, message in (
        (["../../etc/passwd"], 403, "[[error:invalid-path]]"),
        ([f"made-{uid}.png", "missing.png"], 404, "[[error:invalid-path]]"),
        ([1], 400, "[[error:invalid-data]]"),
    ):
        said = refused(api, token, "POST", "/topics", status, json={**body, "thumbs": bad})
        assert said == message
    assert core.count(Topic.uid == uid) == 2
    # The plugin's create takes no thumbnails: the body's are not the API's files.
    forged = {"path": "../../etc/passwd", "name": "x", "url": "x"}
    with httpx.Client(base_url=api[0], headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.post("/api/v2/topics", json={**body, "thumbs": [forged]})
    assert answer.status_code == 200, answer.text
    assert thumbs_of(core, answer.json()["payload"]["topicData"]["tid"]) == []
