"""Pure rules: NodeBB's slugify, tag cleaning, visible length; the Prefer header and
form bodies. No database."""

import pytest

from api.inputs import parse_form
from api.prefer import Preference, parse_prefer, wait_seconds
from forum.text import clean_tags, slugify, visible_length


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Hello World", "hello-world"),
        ("  Trim  Me  ", "trim-me"),
        ("UPPER CASE", "upper-case"),
        ("12345", "12345"),
        ("a---b", "a-b"),
        ("-edge-", "edge"),
        ("Hello, World!", "hello-world"),
        ("some@mail.com", "some@mail.com"),
        ("snake_case_name", "snake_case_name"),
        ("Ünïcödé Title", "ünïcödé-title"),
        ("日本語のタイトル", "日本語のタイトル"),
        ("Crème brûlée & café", "crème-brûlée-café"),
        ("C++ / C#", "c-c"),
        (".", ""),
        ("..", ""),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_slugify_like_nodebb(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_clean_tags_like_nodebb_filter_tags() -> None:
    assert clean_tags(["Python", "python", " PYTHON "], 3, 15) == ["python"]
    assert clean_tags(["#tag!", "a,b;c", "(x)yz?"], 3, 15) == ["tag", "abc", "xyz"]
    assert clean_tags(["..dots..", "--dash--", "ok"], 3, 15) == ["dots", "dash"]
    assert clean_tags(["abcdefghijklmnopqrstuvwxyz"], 3, 15) == ["abcdefghijklmno"]
    assert clean_tags(["\u202eevil"], 3, 15) == ["evil"]
    # NodeBB trims before it strips leading/trailing dots and dashes.
    assert clean_tags(["( -abc"], 3, 15) == ["abc"]
    assert clean_tags([], 3, 15) == []


def test_visible_length() -> None:
    assert visible_length("  hello  ") == 5
    assert visible_length("<p>hi <b>there</b></p>") == 8
    assert visible_length("<br><br>") == 0
    assert visible_length("😀") == 2  # UTF-16 code units, as JavaScript counts
    assert visible_length("é") == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Preference()),
        ("", Preference()),
        ("respond-async", Preference(respond_async=True)),
        ("Respond-Async, wait=5", Preference(respond_async=True, wait=5.0)),
        ("wait=2.5", Preference(wait=2.5)),
        ("wait=-3", Preference(wait=0.0)),
        ("wait=abc", Preference()),
        ("handling=lenient; x=1, respond-async; foo", Preference(respond_async=True)),
    ],
)
def test_parse_prefer(header: str | None, expected: Preference) -> None:
    assert parse_prefer(header) == expected


def test_wait_seconds_caps_and_async() -> None:
    assert wait_seconds(Preference(), 10, 60) == 10
    assert wait_seconds(Preference(wait=120), 10, 60) == 60
    assert wait_seconds(Preference(wait=0), 10, 60) == 0
    assert wait_seconds(Preference(respond_async=True, wait=5), 10, 60) == 0
    assert wait_seconds(Preference(wait=float("inf")), 10, 60) == 60


def test_parse_form() -> None:
    assert parse_form("title=T&content=C&cid=1") == {"title": "T", "content": "C", "cid": "1"}
    assert parse_form("tags=a&tags=b&tags=c") == {"tags": ["a", "b", "c"]}
    assert parse_form("tags[]=a") == {"tags": ["a"]}
    assert parse_form("tags[]=a&tags[]=b") == {"tags": ["a", "b"]}
    assert parse_form("a=&b") == {"a": "", "b": ""}
    assert parse_form("content=a%20b+c%26d") == {"content": "a b c&d"}
    assert parse_form("") == {}
