"""Bulk items as the API stores them (``schemas.bulk``): the one-call fast path of an
NDJSON line must accept, store and reject exactly what the detailed path does."""

from typing import Any

import orjson
import pytest

from api.bulk import ArraySplitter, NdjsonReader, parse_items
from api.errors import ApiError
from forum.jobqueue.chunks import unpack
from forumq.settings import Settings
from schemas.bulk import parse_item, parse_line

CONTENT = "Imported content"
LINES = [
    # good: aliases, numbers as external ids, stripped names, unknown keys, explicit defaults
    {"type": "user", "external_id": 12, "username": "  bob ", "admin": False, "x": 1},
    {"type": "category", "external_id": "c", "name": "Cat", "parentCid": 3},
    {"type": "category", "external_id": "c2", "name": "Cat", "parent_cid": 3, "order": 0},
    {"type": "topic", "external_id": "t", "cid": 2, "uid": 1, "title": "T", "content": CONTENT,
     "tags": ["a", "b"], "locked": True, "viewcount": 0},
    {"type": "reply", "external_id": "r", "topic": "t", "user": "u", "content": CONTENT,
     "toPid": 5, "votes": -2, "timestamp": None},
    # bad: missing fields, one-of rules, types and bounds, the discriminator
    {"type": "reply", "external_id": 9, "topic": "t1"},
    {"type": "topic", "external_id": "t1", "cid": 3, "category": "c", "user": "u",
     "title": "T", "content": CONTENT},
    {"type": "topic", "external_id": "t1", "category": "c", "title": "T", "content": CONTENT},
    {"type": "reply", "external_id": "r", "tid": 1, "uid": 1, "content": CONTENT, "to": "a",
     "toPid": 2},
    {"type": "user", "external_id": "u", "username": "  ", "admin": "maybe"},
    {"type": "topic", "external_id": "", "cid": 1, "uid": 1, "title": "T", "content": "  ",
     "tags": ["x"] * 101, "viewcount": -1},
    {"type": "nope", "external_id": "n"},
    {"external_id": "n"},
    [1],
    "text",
]  # fmt: skip


@pytest.mark.parametrize("data", LINES)
def test_a_line_is_stored_as_its_decoded_value_would_be(data: Any) -> None:
    # The fast path (validate_json) and the detailed one (decode, validate_python)
    # give the same stored item, or the same invalid marker with the line number.
    assert parse_line(orjson.dumps(data), 7) == parse_item(data, line=7)


def test_a_stored_item_has_field_names_and_only_what_was_given() -> None:
    category = parse_line(orjson.dumps(LINES[1]), 1)
    assert category == {"type": "category", "external_id": "c", "name": "Cat", "parent_cid": 3}
    user = parse_line(orjson.dumps(LINES[0]), 1)
    assert user == {"type": "user", "external_id": "12", "username": "bob", "admin": False}
    reply = parse_line(orjson.dumps(LINES[4]), 1)
    assert reply["to_pid"] == 5 and "toPid" not in reply and reply["votes"] == -2


def test_bad_lines_keep_their_error_envelopes() -> None:
    assert parse_line(b"{not json", 4) == {"type": "invalid", "error": {
        "kind": "bad-request", "key": "invalid-json", "message": "[[error:invalid-json, line 4]]",
        "args": ["line 4"], "line": 4}}  # fmt: skip
    assert parse_line(orjson.dumps(LINES[5]), 4) == {"type": "invalid", "error": {
        "kind": "bad-request", "key": "params-missing", "args": ["content"], "line": 4,
        "message": "[[error:params-missing, content]]"}, "item_type": "reply",
        "external_id": "9"}  # fmt: skip
    detail = "Value error, give exactly one of 'category' or 'cid'"
    assert parse_line(orjson.dumps(LINES[6]), 4) == {"type": "invalid", "error": {
        "kind": "bad-request", "key": "invalid-data",
        "message": f"[[error:invalid-data, topic, {detail}]]", "args": ["topic", detail],
        "line": 4}, "item_type": "topic", "external_id": "t1"}  # fmt: skip
    detail = "Value error, give at most one of 'to' or 'toPid'"
    assert parse_line(orjson.dumps(LINES[8]), 4)["error"]["args"] == ["reply", detail]
    assert parse_line(b"[1]", 4)["error"]["key"] == "invalid-item"


def parse_ndjson(raw: bytes, limit: int) -> list[dict[str, Any]]:
    """The items an NDJSON body is stored as, read in one block (as JSON: tuples are
    lists once packed)."""
    reader = NdjsonReader(Settings(database_url="sqlite://", bulk_max_items=limit))
    reader.block(raw)
    return [item for packed in reader.packer.finish() for _, item in unpack(packed)]


def test_ndjson_and_array_bodies_store_the_same_items() -> None:
    ndjson = b"\n".join(orjson.dumps(data) for data in LINES) + b"\n"
    by_line = parse_ndjson(ndjson, 100)
    by_array = parse_items(orjson.dumps(LINES), 100)
    for n, (line_item, array_item) in enumerate(zip(by_line, by_array, strict=True), 1):
        if line_item["type"] == "invalid":
            assert line_item["error"].pop("line") == n
        assert line_item == orjson.loads(orjson.dumps(array_item))


NUL_DETAIL = "text must not contain NUL (U+0000)"


def test_a_nul_in_a_text_fails_its_item_naming_the_fields() -> None:
    # PostgreSQL cannot store U+0000: refused here, item by item, not by the worker.
    in_content = {"type": "topic", "external_id": "t", "cid": 1, "uid": 1, "title": "T",
                  "content": "a\x00b"}  # fmt: skip
    in_title_and_tag = {**in_content, "title": "T\x00", "content": CONTENT,
                        "tags": ["ok", "b\x00d"]}  # fmt: skip
    # A backslash before "u0000" is six characters of text, not a NUL.
    escaped = {**in_content, "content": "\\u0000 is how JSON writes it"}
    body = [in_content, in_title_and_tag, escaped]
    by_line = parse_ndjson(b"\n".join(orjson.dumps(item) for item in body), 10)
    assert by_line[0] == {"type": "invalid", "error": {
        "kind": "bad-request", "key": "invalid-data", "args": ["content", NUL_DETAIL],
        "message": f"[[error:invalid-data, content, {NUL_DETAIL}]]", "line": 1},
        "item_type": "topic", "external_id": "t"}  # fmt: skip
    assert by_line[1]["error"]["args"] == ["tags", "title", NUL_DETAIL]
    assert by_line[1]["error"]["line"] == 2
    assert by_line[2]["content"] == "\\u0000 is how JSON writes it"
    by_array = parse_items(orjson.dumps(body), 10)
    for line_item, array_item in zip(by_line, by_array, strict=True):
        if line_item["type"] == "invalid":
            line_item["error"].pop("line")
        assert line_item == orjson.loads(orjson.dumps(array_item))
    # A line that is invalid for another reason keeps that reason.
    missing = parse_line(orjson.dumps({"type": "reply", "external_id": "r\x00"}), 5)
    assert missing["error"]["key"] == "params-missing"


def split(raw: bytes, piece: int) -> list[bytes]:
    """A JSON array body's elements, fed ``piece`` bytes at a time."""
    splitter = ArraySplitter()
    found = [e for at in range(0, len(raw), piece) for e in splitter.feed(raw[at : at + piece])]
    splitter.finish()
    return found


# Strings holding what the splitter follows (quotes, escapes, brackets, commas).
TRICKY = ['a\\"]}[{,', "\\", '"', "é\u2028\x7f", "\\u0000", {"k,]": [1, [2, {"c": "}"}]]},
          [], {}, [[[]]], None, 1.5e3, True]  # fmt: skip


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1 << 20])
def test_a_json_array_fed_in_pieces_splits_into_its_elements(piece: int) -> None:
    for body in ([], [LINES[0]], LINES, TRICKY, [TRICKY, TRICKY]):
        for raw in (orjson.dumps(body), b" \n" + orjson.dumps(body, option=orjson.OPT_INDENT_2)):
            assert [orjson.loads(element) for element in split(raw, piece)] == body


NOT_ARRAYS = [b"", b"  ", b"[", b'["a]', b"[1,]", b"[,1]", b"[1,,2]", b"[1 2]", b"[1}",
              b"[{]}]", b"[1] x", b"[1][2]", b"{}", b'"x"', b"nul", b'[{"a": 1]']  # fmt: skip


@pytest.mark.parametrize("raw", NOT_ARRAYS)
def test_a_body_that_is_not_a_json_array_is_refused(raw: bytes) -> None:
    with pytest.raises(ApiError) as refused:
        parse_items(raw, 10)
    assert refused.value.status == 400
    for piece in (1, 3):  # fed in pieces: refused too, by the splitter or by orjson
        with pytest.raises((ApiError, orjson.JSONDecodeError)):
            [orjson.loads(element) for element in split(raw, piece)]
