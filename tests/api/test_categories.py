"""Category routes over HTTP through the queue (admin only): update with a field
whitelist, purge with exact user counters, enable/disable, v2 privileges."""

from sqlalchemy import select

from forum.models import Category, CategoryPrivilege, Post, Topic, User
from forum.privileges import has
from tests.support import Forum, Stack, refusal


def test_update_whitelisted_fields(stack: Stack) -> None:
    forum = Forum(stack)
    cid, user = forum.category(), forum.user()
    with forum.master(user) as client:
        refused = client.put(f"/api/v1/categories/{cid}", json={"name": "Mine now"})
        refused_unknown = client.put("/api/v1/categories/99999999", json={"name": "x"})
    assert refusal(refused)[:2] == (403, "forbidden")
    assert refused_unknown.status_code == 403  # admin check before the existence check
    with forum.admin() as client:
        v1 = client.put(
            f"/api/v1/categories/{cid}",
            json={
                "name": "Renamed",
                "description": "About",
                "bgColor": "#111",
                "color": "#eee",
                "order": 7,
                "icon": "fa-star",
                "class": "c",
            },
        )
        v2 = client.put(f"/api/v2/categories/{cid}", data={"backgroundImage": "/bg.png"})
        unknown = client.put("/api/v1/categories/99999999", json={"name": "x"})
    assert v1.status_code == 200 and v2.status_code == 200, (v1.text, v2.text)
    assert unknown.status_code == 404
    row = forum.row(Category, cid)
    assert (row.name, row.slug, row.description) == ("Renamed", f"{cid}/renamed", "About")
    assert (row.bg_color, row.color, row.order, row.icon, row.css_class) == (
        "#111", "#eee", 7, "fa-star", "c"
    )  # fmt: skip
    assert row.background_image == "/bg.png"


def test_no_mass_assignment(stack: Stack) -> None:
    forum = Forum(stack)
    cid, parent = forum.category(), forum.category()
    with forum.admin() as client:
        counters = client.put(
            f"/api/v2/categories/{cid}", json={"name": "Sneaky", "topic_count": 1000, "cid": 1}
        )
        v1_background = client.put(f"/api/v1/categories/{cid}", json={"backgroundImage": "/x.png"})
        bad_type = client.put(f"/api/v1/categories/{cid}", json={"order": "first"})
        self_parent = client.put(f"/api/v1/categories/{cid}", json={"parentCid": cid})
        blank_name = client.put(f"/api/v1/categories/{cid}", json={"name": "  "})
        moved = client.put(f"/api/v1/categories/{cid}", json={"parentCid": parent})
    assert counters.status_code == 400 and counters.json()["params"] == ["cid", "topic_count"]
    assert v1_background.status_code == 400 and v1_background.json()["params"] == [
        "backgroundImage"
    ]
    assert bad_type.status_code == 400 and bad_type.json()["params"] == ["order"]
    assert refusal(self_parent) == (400, "bad-request", "cant-set-self-as-parent")
    assert blank_name.status_code == 400
    row = forum.row(Category, cid)
    assert row.name.startswith("C ") and row.topic_count == 0 and row.background_image is None
    assert moved.status_code == 200 and forum.row(Category, cid).parent_cid == parent


def test_purge_keeps_user_counters_exact(stack: Stack) -> None:
    forum = Forum(stack)
    cid, author, replier = forum.category(), forum.user(), forum.user()
    child = forum.category(parentCid=cid)
    kept_tid, _ = forum.topic(author)  # in the seeded category: survives
    for _ in range(2):
        tid, _ = forum.topic(author, cid)
        forum.reply(replier, tid)
        forum.reply(author, tid)
    assert forum.row(User, author).postcount == 5 and forum.row(User, author).topiccount == 3
    with forum.master(author) as client:
        refused = client.delete(f"/api/v1/categories/{cid}")
    assert refused.status_code == 403 and forum.row(Category, cid) is not None
    with forum.master(stack.admin_uid) as client:
        purged = client.delete(f"/api/v2/categories/{cid}")
        again = client.delete(f"/api/v1/categories/{cid}")
    assert purged.status_code == 200 and again.status_code == 404
    assert forum.row(Category, cid) is None
    assert forum.count(Topic.cid == cid) == 0
    assert forum.count(CategoryPrivilege.cid == cid) == 0
    author_row, replier_row = forum.row(User, author), forum.row(User, replier)
    assert (author_row.postcount, author_row.topiccount) == (1, 1)
    assert (replier_row.postcount, replier_row.topiccount) == (0, 0)
    assert forum.count(Post.uid == replier) == 0 and forum.row(Topic, kept_tid) is not None
    assert forum.row(Category, child).parent_cid == 0


def test_enable_and_disable(stack: Stack) -> None:
    forum = Forum(stack)
    cid = forum.category()
    with forum.admin() as client:
        assert client.delete(f"/api/v1/categories/{cid}/state").status_code == 200
        assert forum.row(Category, cid).disabled
        assert client.put(f"/api/v2/categories/{cid}/state").status_code == 200
        assert client.put("/api/v2/categories/99999999/state").status_code == 404
    assert not forum.row(Category, cid).disabled
    with forum.master(forum.user()) as client:
        assert client.delete(f"/api/v1/categories/{cid}/state").status_code == 403
    assert not forum.row(Category, cid).disabled


def test_v2_privileges(stack: Stack) -> None:
    forum = Forum(stack)
    cid, user = forum.category(), forum.user()

    def holds(privilege: str, on: int) -> bool:
        with stack.session() as session:
            return has(session, user, privilege, on)

    with forum.admin() as client:
        granted = client.put(
            f"/api/v2/categories/{cid}/privileges",
            json={"privileges": ["moderate", "purge"], "groups": [user]},
        )
        assert granted.status_code == 200, granted.text
        assert holds("moderate", cid) and holds("purge", cid)
        group_grant = client.put(
            "/api/v2/categories/0/privileges",
            data={"privileges": "groups:upload:post:file", "groups": "registered-users"},
        )
        assert group_grant.status_code == 200 and holds("upload:post:file", 0)
        revoked = client.request(
            "DELETE",
            f"/api/v2/categories/{cid}/privileges",
            json={"privileges": "moderate", "groups": str(user)},
        )
        client.request(
            "DELETE",
            "/api/v2/categories/0/privileges",
            json={"privileges": ["groups:upload:post:file"], "groups": ["registered-users"]},
        )
        missing = client.put(f"/api/v2/categories/{cid}/privileges", json={"groups": [user]})
        empty = client.put(
            f"/api/v2/categories/{cid}/privileges", json={"privileges": [], "groups": [user]}
        )
        bad_name = client.put(
            f"/api/v2/categories/{cid}/privileges", json={"privileges": ["fly"], "groups": [user]}
        )
        no_group = client.put(
            f"/api/v2/categories/{cid}/privileges",
            json={"privileges": ["groups:read"], "groups": ["no such group"]},
        )
        unknown = client.put(
            "/api/v2/categories/99999999/privileges",
            json={"privileges": ["read"], "groups": [user]},
        )
        v1 = client.put(
            f"/api/v1/categories/{cid}/privileges", json={"privileges": ["read"], "groups": [user]}
        )
    assert revoked.status_code == 200
    assert not holds("moderate", cid) and holds("purge", cid) and not holds("upload:post:file", 0)
    assert missing.status_code == 400 and missing.json()["params"] == ["privileges"]
    assert empty.status_code == 400 and empty.json()["params"] == ["privileges"]
    assert refusal(bad_name) == (400, "bad-request", "invalid-privilege")
    assert refusal(no_group) == (400, "bad-request", "no-group")
    assert unknown.status_code == 404 and v1.status_code == 404
    with forum.master(user) as client:
        refused = client.put(
            f"/api/v2/categories/{cid}/privileges",
            json={"privileges": ["moderate"], "groups": [user]},
        )
    assert refused.status_code == 403 and not holds("moderate", cid)
    with stack.session() as session:
        rows = session.scalars(
            select(CategoryPrivilege.privilege).where(
                CategoryPrivilege.cid == cid, CategoryPrivilege.uid == user
            )
        ).all()
    assert rows == ["purge"]
