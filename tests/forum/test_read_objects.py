"""``forum.read.objects`` and ``forum.read.access``: NodeBB's object shapes, and who
may read what, on both databases."""

from sqlalchemy import insert

from forum import bans
from forum.db import transaction
from forum.models import Category, CategoryPrivilege, Post, Topic, User
from forum.read import objects
from forum.read.access import load_viewer
from forum.read.render import escape, markdown
from forum.topics import create_topic
from tests.support import new_category, new_user

NOW = 1_700_000_000_000


def test_markdown_and_escaping_as_nodebb() -> None:
    html = markdown("Hello **world**\nnext line, see https://example.com")
    assert html.startswith("<p>Hello <strong>world</strong><br />")
    assert '<a href="https://example.com">https://example.com</a>' in html
    assert "<script>" not in markdown("<script>alert(1)</script>")
    assert escape("<b>\"Tom\" & 'Jerry'</b>") == (
        "&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;&#x2F;b&gt;"
    )


def test_objects_carry_nodebb_fields(db_url: str) -> None:
    cid, uid = new_category(db_url, "Q&A <dev>"), new_user(db_url)
    with transaction(db_url) as session:
        created = create_topic(
            session, uid, cid, "Why <b> & why", "Body with *stress*", tags=["py"]
        )
        tid = created["topicData"]["tid"]  # type: ignore[index]
    with transaction(db_url) as session:
        topic, category = session.get(Topic, tid), session.get(Category, cid)
        user = session.get(User, uid)
        assert topic and category and user
        post = session.get(Post, topic.main_pid)
        assert post
        fields = objects.topic_fields(topic, ["py"])
        assert (
            fields["title"] == "Why &lt;b&gt; &amp; why" and fields["titleRaw"] == "Why <b> & why"
        )
        assert fields["slug"] == f"{tid}/why-b-why" and fields["timestampISO"].endswith("Z")
        assert fields["tags"][0]["value"] == "py" and fields["deleted"] == 0
        assert objects.category_object(category)["name"] == "Q&amp;A &lt;dev&gt;"
        raw = objects.post_fields(post)
        assert raw["content"] == "Body with *stress*" and raw["uid"] == uid
        author = objects.user_summary(user, NOW)
        assert author["uid"] == uid and author["banned"] is False
        assert author["icon:text"] == user.username[0].upper()
        assert author["icon:bgColor"] in objects.ICON_BACKGROUNDS
        shown = objects.post_object(post, index=0, author=author, viewer_uid=0, sees_deleted=False)
        assert shown["content"] == "<p>Body with <em>stress</em></p>\n" and shown["index"] == 0
        post.deleted = True
        hidden = objects.post_object(post, index=0, author=author, viewer_uid=0, sees_deleted=False)
        assert hidden["content"] == objects.DELETED_POST
        own = objects.post_object(post, index=0, author=author, viewer_uid=uid, sees_deleted=False)
        assert own["content"].startswith("<p>Body")
        session.rollback()


def test_viewer_privileges_follow_groups_bans_and_grants(db_url: str) -> None:
    cid, private_cid = new_category(db_url), new_category(db_url, "Staff")
    uid, admin = new_user(db_url), new_user(db_url, admin=True)
    with transaction(db_url) as session:
        session.execute(
            CategoryPrivilege.__table__.delete().where(CategoryPrivilege.cid == private_cid)
        )
        session.execute(
            insert(CategoryPrivilege).values(cid=private_cid, privilege="read", uid=uid)
        )
        session.execute(
            insert(CategoryPrivilege).values(cid=private_cid, privilege="topics:read", uid=uid)
        )
    with transaction(db_url) as session:
        guest, user, root = (load_viewer(session, u) for u in (0, uid, admin))
    assert guest.reads(cid) and not guest.reads(private_cid) and not guest.sees_deleted(cid)
    assert user.reads(cid) and user.reads(private_cid) and not user.moderates(cid)
    assert root.admin and root.reads(private_cid) and root.sees_deleted(cid)
    with transaction(db_url) as session:
        bans.ban(session, admin, uid)
    with transaction(db_url) as session:
        banned = load_viewer(session, uid)
    # A banned user keeps what was granted to them, and loses what registered users hold.
    assert banned.banned and not banned.reads(cid) and banned.reads(private_cid)
