"""NodeBB's read API over HTTP, on both stacks: answers in NodeBB's shapes (validated
against its OpenAPI documents), privileges as NodeBB filters them, bad input answered
404 (never 500), and every write's final answer visible to the next read."""

import uuid
from urllib.parse import unquote

import httpx
import jwt
import pytest

from forum import bans
from forum.categories import set_disabled, set_privileges
from forum.db import transaction
from forum.groups import add_member, create_group
from tests.api.nodebb_schemas import check
from tests.api.reads import CONTENT, get, new_category, new_topic, new_user, ok, refused
from tests.support import JWT_SECRET, Stack

# --- shapes -------------------------------------------------------------------------------


def test_topic_page_in_nodebb_shape_with_paging(any_stack: Stack) -> None:
    uid, _, slug = new_user(any_stack)
    cid = new_category(any_stack, "Q&A <dev>")
    tid = new_topic(any_stack, uid, cid, replies=24, title="Why <b> & why", tags=["python"])
    page = ok(get(any_stack, f"/api/topic/{tid}"), f"/api/topic/{tid}/x")
    assert page["tid"] == tid and page["cid"] == cid
    assert page["title"] == "Why &lt;b&gt; &amp; why" and page["titleRaw"] == "Why <b> & why"
    assert page["slug"] == f"{tid}/why-b-why" and page["timestampISO"].endswith("Z")
    assert page["postcount"] == 25 and page["tags"][0]["value"] == "python"
    assert page["category"]["name"] == "Q&amp;A &lt;dev&gt;" and page["loggedIn"] is False
    assert [p["index"] for p in page["posts"]] == list(range(20))
    first = page["posts"][0]
    assert first["content"] == "<p>Some <strong>content</strong> that is long enough</p>\n"
    assert first["user"]["uid"] == uid and first["user"]["userslug"] == slug
    assert page["pagination"]["pageCount"] == 2 and page["pagination"]["currentPage"] == 1
    assert page["privileges"]["topics:read"] is True and page["privileges"]["topics:reply"] is False
    assert page["breadcrumbs"][1]["cid"] == cid
    second = ok(get(any_stack, f"/api/topic/{tid}/slug", page=2), f"/api/topic/{tid}/slug")
    assert [p["index"] for p in second["posts"]] == list(range(20, 25))
    assert second["posts"][-1]["content"] == "<p>Reply number 23, long enough</p>\n"
    # post_index 22: the window around it (NodeBB's infinite scroll), page 2.
    around = ok(get(any_stack, f"/api/topic/{tid}/slug/22"))
    assert around["posts"][0]["index"] == 12 and around["pagination"]["currentPage"] == 2
    past = get(any_stack, f"/api/topic/{tid}/slug/99")
    assert past.status_code == 200 and past.json() == f"/topic/{tid}/why-b-why/25"
    assert unquote(past.headers["x-redirect"]) == f"/topic/{tid}/why-b-why/25"
    assert ok(get(any_stack, f"/api/topic/{tid}/slug", page=9))["posts"] == []
    teaser = ok(get(any_stack, f"/api/topic/teaser/{tid}"))
    assert teaser["content"] == "<p>Reply number 23, long enough</p>\n"
    paging = ok(get(any_stack, f"/api/topic/pagination/{tid}"))
    assert paging["pagination"]["pageCount"] == 2
    v3 = ok(get(any_stack, f"/api/v3/topics/{tid}"))
    assert v3["status"]["code"] == "ok" and v3["response"]["titleRaw"] == "Why <b> & why"


def test_category_and_lists_in_nodebb_shape(any_stack: Stack) -> None:
    uid, token, _ = new_user(any_stack)
    cid = new_category(any_stack)
    older = new_topic(any_stack, uid, cid, title="Older topic")
    newer = new_topic(any_stack, uid, cid, replies=2, title="Newer topic", tags=["reading"])
    page = ok(get(any_stack, f"/api/category/{cid}"), f"/api/category/{cid}/x")
    assert page["cid"] == cid and [t["tid"] for t in page["topics"]] == [newer, older]
    listed = page["topics"][0]
    assert listed["teaser"]["index"] == 3 and listed["user"]["uid"] == uid
    assert listed["category"]["cid"] == cid and listed["tags"][0]["value"] == "reading"
    index = ok(get(any_stack, "/api/categories"))
    assert cid in [c["cid"] for c in index["categories"]]
    recent = ok(get(any_stack, "/api/recent"))
    assert [t["tid"] for t in recent["topics"]][:2] == [newer, older]
    assert ok(get(any_stack, "/api/popular"))["topics"][0]["postcount"] >= 3
    ok(get(any_stack, "/api/top"))
    tags = ok(get(any_stack, "/api/tags"))
    assert "reading" in [t["value"] for t in tags["tags"]]
    # tags/tag.yaml alone documents a topic's user.banned as a number; forumq answers
    # the boolean of UserObjectSlim, TopicObject and every other list (docs/read-api.md).
    tagged = check(get(any_stack, "/api/tags/reading"), allow=("topics/*/user/banned",))
    assert [t["tid"] for t in tagged["topics"]] == [newer]
    assert ok(get(any_stack, "/api/config"))["postsPerPage"] == 20
    assert ok(get(any_stack, "/api/config", token))["uid"] == uid
    categories = ok(get(any_stack, "/api/v3/categories/"))["response"]["categories"]
    assert cid in [c["cid"] for c in categories]
    topics = ok(get(any_stack, f"/api/v3/categories/{cid}/topics"))["response"]["topics"]
    assert [t["tid"] for t in topics] == [newer, older]
    assert ok(get(any_stack, f"/api/v3/categories/{cid}/count"))["response"]["count"] == 2
    ok(get(any_stack, f"/api/v3/categories/{cid}"))
    ok(get(any_stack, f"/api/v3/categories/{cid}/children"))
    ok(get(any_stack, f"/api/v3/categories/{cid}/posts"))
    # Past the last topic: NodeBB redirects to the last one.
    past = get(any_stack, f"/api/category/{cid}/slug/50")
    assert past.status_code == 200 and past.json().startswith(f"/category/{cid}/")


def test_user_and_post_routes_in_nodebb_shape(any_stack: Stack) -> None:
    uid, token, slug = new_user(any_stack)
    _, other_token, _ = new_user(any_stack)
    cid = new_category(any_stack)
    tid = new_topic(any_stack, uid, cid, replies=1)
    with any_stack.session() as session:
        from forum.models import Topic

        topic = session.get(Topic, tid)
        assert topic is not None
        main, last = topic.main_pid, topic.teaser_pid
    for path in (f"/api/user/uid/{uid}", f"/api/user/username/Reader%20{slug[7:]}",
                 f"/api/user/{slug}"):  # fmt: skip
        user = ok(get(any_stack, path))
        assert user["uid"] == uid and user["email"] == "" and user["postcount"] == 2
    assert ok(get(any_stack, f"/api/user/{slug}"))["posts"][0]["pid"] == last
    posts = ok(get(any_stack, f"/api/user/{slug}/posts"))
    assert [p["pid"] for p in posts["posts"]] == [last, main]
    assert [t["tid"] for t in ok(get(any_stack, f"/api/user/{slug}/topics"))["topics"]] == [tid]
    v3 = ok(get(any_stack, f"/api/v3/users/{uid}", token))
    assert v3["response"]["uid"] == uid
    self_ = ok(get(any_stack, "/api/self", token))
    assert self_["uid"] == uid and self_["isSelf"] is True
    post = ok(get(any_stack, f"/api/v3/posts/{main}"))["response"]
    assert post["uid"] == uid and post["content"] == CONTENT and post["upvoted"] is False
    assert ok(get(any_stack, f"/api/post/pid/{main}"), f"/api/v3/posts/{main}")["tid"] == tid
    where = get(any_stack, f"/api/post/{last}")
    assert where.status_code == 200 and where.json().endswith("/2")
    assert ok(get(any_stack, f"/api/v3/posts/{last}/index"))["response"]["index"] == 1
    assert ok(get(any_stack, f"/api/v3/posts/{main}/raw"))["response"]["content"] == CONTENT
    assert ok(get(any_stack, f"/api/v3/posts/{main}/summary"))["response"]["isMainPost"] is True
    ok(get(any_stack, f"/api/v3/posts/{main}/voters"))
    ok(get(any_stack, f"/api/v3/posts/{main}/upvoters"))
    ok(get(any_stack, f"/api/v3/posts/{main}/replies"))
    ok(get(any_stack, "/api/users"))
    ok(get(any_stack, "/api/groups"))
    ok(get(any_stack, f"/api/user/{slug}/bookmarks", token))
    refused(get(any_stack, f"/api/user/{slug}/bookmarks", other_token), 403)
    refused(get(any_stack, f"/api/user/{slug}/bookmarks"), 401)
    refused(get(any_stack, "/api/self"), 401)
    refused(get(any_stack, "/api/unread"), 401)


# --- privileges ----------------------------------------------------------------------------


def test_private_category_is_hidden_as_nodebb_hides_it(any_stack: Stack) -> None:
    uid, token, _ = new_user(any_stack)
    member, member_token, _ = new_user(any_stack)
    _, admin_token, _ = new_user(any_stack, admin=True)
    cid = new_category(any_stack, "Staff only")
    tid = new_topic(any_stack, member, cid, title="Staff business")
    group = f"staff-{uuid.uuid4().hex[:6]}"
    with transaction(any_stack.database_url) as session:
        readers = ("groups:find", "groups:read", "groups:topics:read")
        set_privileges(session, None, cid, readers, ["guests", "registered-users"], grant=False)
        create_group(session, None, group, hidden=True)
        add_member(session, group, member)
        set_privileges(session, None, cid, readers, [group], grant=True)
    refused(get(any_stack, f"/api/topic/{tid}"), 401, f"/api/topic/{tid}/x")
    forbidden = refused(get(any_stack, f"/api/topic/{tid}", token), 403, f"/api/topic/{tid}/x")
    assert forbidden["title"] == "[[global:403.title]]"
    refused(get(any_stack, f"/api/category/{cid}", token), 403, f"/api/category/{cid}/x")
    assert ok(get(any_stack, f"/api/topic/{tid}", member_token), f"/api/topic/{tid}/x")
    assert ok(get(any_stack, f"/api/topic/{tid}", admin_token), f"/api/topic/{tid}/x")
    refused(get(any_stack, f"/api/v3/topics/{tid}", token), 404)
    for who in (None, token):
        assert tid not in [t["tid"] for t in ok(get(any_stack, "/api/recent", who))["topics"]]
        assert cid not in [
            c["cid"] for c in ok(get(any_stack, "/api/categories", who))["categories"]
        ]
    assert tid in [t["tid"] for t in ok(get(any_stack, "/api/recent", member_token))["topics"]]
    # The hidden group: its members and administrators only.
    group_slug = group.lower()
    refused(get(any_stack, f"/api/groups/{group_slug}", token), 404)
    assert ok(get(any_stack, f"/api/groups/{group_slug}", member_token))["group"]["isMember"]
    assert ok(get(any_stack, f"/api/groups/{group_slug}", admin_token))["group"]["name"] == group
    assert uid not in [u["uid"] for u in ok(get(any_stack, f"/api/groups/{group_slug}/members",
                                                 member_token))["users"]]  # fmt: skip


def test_deleted_content_shown_to_moderators_and_authors_only(any_stack: Stack) -> None:
    author, author_token, _ = new_user(any_stack)
    _, reader_token, _ = new_user(any_stack)
    _, admin_token, _ = new_user(any_stack, admin=True)
    cid = new_category(any_stack)
    tid = new_topic(any_stack, author, cid, replies=1)
    with any_stack.client(admin_token) as client:
        page = client.get(f"/api/topic/{tid}").json()
        pid = page["posts"][1]["pid"]
        assert client.delete(f"/api/v2/posts/{pid}/state").status_code == 200
    hidden = ok(get(any_stack, f"/api/topic/{tid}", reader_token), f"/api/topic/{tid}/x")
    assert hidden["posts"][1]["content"] == "[[topic:post-is-deleted]]"
    assert hidden["posts"][1]["deleted"] == 1
    for token in (author_token, admin_token):
        shown = ok(get(any_stack, f"/api/topic/{tid}", token), f"/api/topic/{tid}/x")
        assert shown["posts"][1]["content"].startswith("<p>Reply number 0")
    refused(get(any_stack, f"/api/v3/posts/{pid}/raw", reader_token), 404)
    with any_stack.client(admin_token) as client:
        assert client.delete(f"/api/v2/topics/{tid}/state").status_code == 200
    refused(get(any_stack, f"/api/topic/{tid}", reader_token), 403, f"/api/topic/{tid}/x")
    assert tid not in [t["tid"] for t in ok(get(any_stack, "/api/recent", reader_token))["topics"]]
    assert ok(get(any_stack, f"/api/topic/{tid}", admin_token), f"/api/topic/{tid}/x")["deleted"]
    assert tid in [t["tid"] for t in ok(get(any_stack, "/api/recent", admin_token))["topics"]]


def test_a_banned_user_reads_what_banned_users_may(any_stack: Stack) -> None:
    uid, token, _ = new_user(any_stack)
    admin, _, _ = new_user(any_stack, admin=True)
    cid = new_category(any_stack)
    tid = new_topic(any_stack, admin, cid)
    with transaction(any_stack.database_url) as session:
        bans.ban(session, admin, uid)
    refused(get(any_stack, f"/api/topic/{tid}", token), 403, f"/api/topic/{tid}/x")
    assert ok(get(any_stack, f"/api/user/uid/{uid}"))["banned"] is True
    assert ok(get(any_stack, f"/api/topic/{tid}"), f"/api/topic/{tid}/x")["tid"] == tid


def test_category_moderators_as_core_lists_them(any_stack: Stack) -> None:
    """Users granted ``moderate`` first, then members of groups granted it; nobody for a
    category that names nothing (core answers 200 there too), or a disabled one."""
    first, _, first_slug = new_user(any_stack)
    # Members who join in the same millisecond are listed by uid: member's is the lower.
    member, _, _ = new_user(any_stack)
    second, _, _ = new_user(any_stack)
    cid = new_category(any_stack)
    path = f"/api/categories/{cid}/moderators"
    assert ok(get(any_stack, path)) == {"moderators": []}
    group = f"mods-{uuid.uuid4().hex[:6]}"
    with transaction(any_stack.database_url) as session:
        create_group(session, None, group)
        add_member(session, group, member)
        add_member(session, group, second)  # also granted directly: listed once
        set_privileges(session, None, cid, ["groups:moderate"], [group], grant=True)
    with any_stack.client(any_stack.admin_token) as admin:
        for uid in (second, first):
            granted = admin.put(f"/api/v3/categories/{cid}/moderator/{uid}")
            assert granted.status_code == 200, granted.text
    listed = ok(get(any_stack, path))["moderators"]
    assert [m["uid"] for m in listed] == [second, first, member]
    assert listed[1]["userslug"] == first_slug
    assert set(listed[1]) == {"uid", "username", "userslug", "displayname", "picture",
                              "icon:text", "icon:bgColor"}  # fmt: skip
    with any_stack.client(any_stack.admin_token) as admin:
        assert admin.delete(f"/api/v3/categories/{cid}/moderator/{second}").status_code == 200
    assert [m["uid"] for m in ok(get(any_stack, path))["moderators"]] == [first, member, second]
    for nothing in ("abc", "-1", "99999999"):
        assert ok(get(any_stack, f"/api/categories/{nothing}/moderators")) == {"moderators": []}
    with transaction(any_stack.database_url) as session:
        set_disabled(session, None, cid, True)
    assert ok(get(any_stack, path)) == {"moderators": []}


# --- credentials and bad input ------------------------------------------------------------


def test_credentials_as_for_writes(stack: Stack) -> None:
    uid, _, _ = new_user(stack)
    me = ok(get(stack, "/api/self", stack.master_token, _uid=uid))
    assert me["uid"] == uid
    claims = jwt.encode({"_uid": uid}, JWT_SECRET, algorithm="HS256")
    assert ok(get(stack, "/api/self", token=claims))["uid"] == uid  # ?token=<jwt>
    bad = refused(get(stack, "/api/recent", "not-a-token"), 401)
    assert bad["status"]["code"] == "not-authorised"
    missing = refused(get(stack, "/api/self", stack.master_token), 400)  # no _uid
    # Core's codes name the status: every 400 is bad-request.
    assert missing["status"]["code"] == "bad-request"


@pytest.mark.parametrize(
    "path",
    ["/api/topic/abc", "/api/topic/-1", "/api/topic/0", "/api/topic/99999999",
     "/api/topic/1/slug/abc", "/api/topic/99999999999999999999", "/api/category/abc",
     "/api/category/99999999", "/api/category/1/slug/x", "/api/post/abc", "/api/post/99999999",
     "/api/user/uid/abc", "/api/user/uid/99999999", "/api/user/no-such-user",
     "/api/user/username/nobody-at-all", "/api/user/email/x@example.com",
     "/api/groups/no-such-group", "/api/topic/teaser/abc", "/api/uid/abc",
     "/api/user/no-such-user/posts"],
)  # fmt: skip
def test_bad_input_is_404_never_500(any_stack: Stack, path: str) -> None:
    found = refused(get(any_stack, path), 404)
    assert found["title"] == "[[global:404.title]]"


@pytest.mark.parametrize(
    "path", ["/api/v3/posts/abc", "/api/v3/posts/99999999", "/api/v3/topics/-3",
             "/api/v3/users/0", "/api/v3/categories/99999999", "/api/v3/posts/1e3/raw"],
)  # fmt: skip
def test_v3_bad_ids_are_404_in_core_envelope(any_stack: Stack, path: str) -> None:
    response = get(any_stack, path)
    assert response.status_code == 404, response.text
    assert response.json()["status"]["code"] == "not-found"


def test_read_routes_are_in_openapi_json(any_stack: Stack) -> None:
    paths = get(any_stack, "/api/openapi.json").json()["paths"]
    for path in ("/api/topic/{tid}/{slug}/{post_index}", "/api/category/{cid}",
                 "/api/user/uid/{uid}", "/api/recent", "/api/v3/posts/{pid}",
                 "/api/v3/categories/{cid}/topics"):  # fmt: skip
        assert "get" in paths[path], path


# --- read-your-writes ---------------------------------------------------------------------


def written(client: httpx.Client, method: str, path: str, **body: object) -> dict:
    """A write's final answer (200), as the plugin's clients wait for it."""
    response = client.request(method, path, json=body or None)
    assert response.status_code == 200, f"{method} {path}: {response.text}"
    return response.json()["payload"]


def test_every_write_is_visible_to_the_next_read(any_stack: Stack) -> None:
    uid, token, slug = new_user(any_stack)
    admin = any_stack.client(any_stack.admin_token)
    author = any_stack.client(token)
    with admin, author:
        cid = written(admin, "POST", "/api/v2/categories", name="Written room")["cid"]
        assert cid in [c["cid"] for c in ok(get(any_stack, "/api/categories"))["categories"]]
        written(admin, "PUT", f"/api/v2/categories/{cid}", name="Renamed room")
        assert ok(get(any_stack, f"/api/v3/categories/{cid}"))["response"]["name"] == "Renamed room"

        created = written(author, "POST", "/api/v2/topics", cid=cid, title="Written topic",
                          content=CONTENT, tags=["written"])  # fmt: skip
        tid, main = created["topicData"]["tid"], created["postData"]["pid"]
        page = ok(get(any_stack, f"/api/topic/{tid}"), f"/api/topic/{tid}/x")
        assert page["titleRaw"] == "Written topic" and page["posts"][0]["pid"] == main
        assert tid == ok(get(any_stack, "/api/recent"))["topics"][0]["tid"]

        pid = written(admin, "POST", f"/api/v2/topics/{tid}", content="A written reply here")["pid"]
        page = ok(get(any_stack, f"/api/topic/{tid}"), f"/api/topic/{tid}/x")
        assert [p["pid"] for p in page["posts"]] == [main, pid] and page["postcount"] == 2

        written(author, "PUT", f"/api/v2/posts/{main}", content="Edited *content* here")
        assert ok(get(any_stack, f"/api/v3/posts/{main}/raw"))["response"]["content"] == (
            "Edited *content* here"
        )
        written(author, "PUT", f"/api/v2/topics/{tid}/tags", tags=["changed"])
        assert [t["value"] for t in ok(get(any_stack, f"/api/topic/{tid}/x"))["tags"]] == [
            "changed"
        ]

        written(author, "POST", f"/api/v2/posts/{pid}/vote", delta=1)
        assert ok(get(any_stack, f"/api/v3/posts/{pid}", token))["response"]["upvoted"] is True
        written(author, "POST", f"/api/v2/posts/{pid}/bookmark")
        marked = ok(get(any_stack, f"/api/user/{slug}/bookmarks", token))["posts"]
        assert [p["pid"] for p in marked] == [pid]
        written(author, "PUT", f"/api/v2/topics/{tid}/follow")
        assert ok(get(any_stack, f"/api/topic/{tid}/x", token))["isFollowing"] is True
        written(author, "PUT", f"/api/v2/users/{any_stack.admin_uid}/follow")
        following = ok(get(any_stack, f"/api/user/{slug}/following"))["users"]
        assert [u["uid"] for u in following] == [any_stack.admin_uid]
        written(author, "PUT", f"/api/v2/users/{uid}", fullname="Written Name")
        assert ok(get(any_stack, f"/api/user/uid/{uid}", token))["fullname"] == "Written Name"

        written(admin, "PUT", f"/api/v2/topics/{tid}/pin")
        assert ok(get(any_stack, f"/api/v3/topics/{tid}"))["response"]["pinned"] == 1
        written(admin, "DELETE", f"/api/v2/posts/{pid}/state")
        shown = ok(get(any_stack, f"/api/topic/{tid}/x"))["posts"][1]
        assert shown["deleted"] == 1 and shown["content"] == "[[topic:post-is-deleted]]"
        written(admin, "PUT", f"/api/v2/posts/{pid}/state")
        assert ok(get(any_stack, f"/api/topic/{tid}/x"))["posts"][1]["deleted"] == 0
        written(admin, "DELETE", f"/api/v2/posts/{pid}")
        refused(get(any_stack, f"/api/v3/posts/{pid}"), 404)
        written(admin, "DELETE", f"/api/v2/topics/{tid}/state")
        refused(get(any_stack, f"/api/topic/{tid}", token), 403, f"/api/topic/{tid}/x")
        written(admin, "PUT", f"/api/v2/topics/{tid}/state")
        ok(get(any_stack, f"/api/topic/{tid}", token), f"/api/topic/{tid}/x")

        group = written(admin, "POST", "/api/v2/groups", name=f"Writers {uuid.uuid4().hex[:6]}")
        slug_of_group = group["slug"]
        written(admin, "PUT", f"/api/v2/groups/{slug_of_group}/membership/{uid}")
        members = ok(get(any_stack, f"/api/groups/{slug_of_group}/members"))["users"]
        assert uid in [m["uid"] for m in members]
        written(admin, "PUT", f"/api/v2/users/{uid}/ban")
        assert ok(get(any_stack, f"/api/user/uid/{uid}"))["banned"] is True
        written(admin, "DELETE", f"/api/v2/topics/{tid}")
        refused(get(any_stack, f"/api/topic/{tid}"), 404)
