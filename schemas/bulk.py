"""Bulk import items (``POST /api/v2/bulk``, spec README "Bulk import").

Each item has a ``type`` and an importer-chosen ``external_id`` (unique per type);
items refer to each other by external id (``user``, ``category``, ``topic``, ``to``)
or to existing rows by forum id (``uid``, ``cid``, ``tid``, ``toPid``). Unknown keys
are ignored, as on every write route. Items are not commands: the command is the
``BulkImport`` job that carries them.
"""

from typing import Annotated, Any, ClassVar, Literal, NotRequired

import orjson
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    RootModel,
    TypeAdapter,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from schemas.commands import Command, Id, NonEmpty, Text, Timestamp

# Exporters often key by the old numeric id: a number is taken as its decimal string
# (a field-level coercion, not a Python validator, so items validate in pydantic-core).
ExternalId = Annotated[str, Field(min_length=1, max_length=255, coerce_numbers_to_str=True)]
Tag = Annotated[str, Field(max_length=255)]
# Items are TypedDicts, not models: the validated dict IS the item as stored and
# queued (field names, not wire aliases; a field left out stays out), with no model
# instance to build and dump again. The worker reads optional fields with .get().
ITEM_CONFIG = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)


class Item(TypedDict):
    external_id: ExternalId


def _one_of(item: Item, by_external: str, by_id: str, wire_id: str) -> None:
    if (item.get(by_external) is None) == (item.get(by_id) is None):
        raise ValueError(f"give exactly one of {by_external!r} or {wire_id!r}")


@with_config(ITEM_CONFIG)
class UserItem(Item):
    type: Literal["user"]
    username: Annotated[NonEmpty, Field(max_length=255)]
    email: NotRequired[Annotated[str, Field(max_length=255)] | None]
    password: NotRequired[Annotated[str, Field(max_length=512)] | None]
    timestamp: NotRequired[Timestamp | None]
    admin: NotRequired[bool]


@with_config(ITEM_CONFIG)
class CategoryItem(Item):
    type: Literal["category"]
    name: Annotated[NonEmpty, Field(max_length=255)]
    description: NotRequired[Annotated[str, Field(max_length=65535)]]
    parent: NotRequired[ExternalId | None]
    parent_cid: NotRequired[Annotated[Id | None, Field(alias="parentCid")]]
    order: NotRequired[int | None]


@with_config(ITEM_CONFIG)
class TopicItem(Item):
    type: Literal["topic"]
    category: NotRequired[ExternalId | None]
    cid: NotRequired[Id | None]
    user: NotRequired[ExternalId | None]
    uid: NotRequired[Id | None]
    title: Annotated[NonEmpty, Field(max_length=1024)]
    content: Text
    timestamp: NotRequired[Timestamp | None]
    tags: NotRequired[Annotated[tuple[Tag, ...], Field(max_length=100)]]
    locked: NotRequired[bool]
    pinned: NotRequired[bool]
    deleted: NotRequired[bool]
    viewcount: NotRequired[Annotated[int, Field(ge=0, lt=2**31)]]


def _topic_references(item: TopicItem) -> TopicItem:
    _one_of(item, "category", "cid", "cid")
    _one_of(item, "user", "uid", "uid")
    return item


@with_config(ITEM_CONFIG)
class ReplyItem(Item):
    type: Literal["reply"]
    topic: NotRequired[ExternalId | None]
    tid: NotRequired[Id | None]
    user: NotRequired[ExternalId | None]
    uid: NotRequired[Id | None]
    content: Text
    timestamp: NotRequired[Timestamp | None]
    to: NotRequired[ExternalId | None]
    to_pid: NotRequired[Annotated[Id | None, Field(alias="toPid")]]
    deleted: NotRequired[bool]
    votes: NotRequired[Annotated[int, Field(gt=-(2**31), lt=2**31)]]


def _reply_references(item: ReplyItem) -> ReplyItem:
    _one_of(item, "topic", "tid", "tid")
    _one_of(item, "user", "uid", "uid")
    if item.get("to") is not None and item.get("to_pid") is not None:
        raise ValueError("give at most one of 'to' or 'toPid'")
    return item


AnyItem = Annotated[
    UserItem
    | CategoryItem
    | Annotated[TopicItem, AfterValidator(_topic_references)]
    | Annotated[ReplyItem, AfterValidator(_reply_references)],
    Field(discriminator="type"),
]
item_adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(AnyItem)
# pydantic-core's validator, called directly: TypeAdapter's Python wrapper around it
# costs some 15% of validating a typical item.
_validate_json = item_adapter.validator.validate_json
_validate_python = item_adapter.validator.validate_python
TYPES = ("user", "category", "topic", "reply")
# An input the API could not read as an item (a malformed NDJSON line, a missing
# field): stored as {"type": "invalid", "error": {...}} so it fails alone, in place.
INVALID = "invalid"


class BulkItems(RootModel[list[AnyItem]]):
    """``POST /api/v2/bulk``'s body as the OpenAPI document shows it: a JSON array of
    items (NDJSON, ``application/x-ndjson``, sends the same items one per line).
    api.bulk parses it itself."""

    media_types: ClassVar[tuple[str, ...]] = ("application/json",)


class BulkImport(Command):
    """One bulk request as stored: its items in input order, in packed chunks.

    Each chunk is ``forum.jobqueue.chunks.pack`` of ``(index, item)`` pairs, an item being
    a validated item (validated once, by the API) or an invalid marker. Packed text keeps
    the job row small: loading it never parses thousands of items."""

    kind: Literal["bulk.import"] = "bulk.import"
    job_id: Annotated[str, Field(max_length=36)]
    chunks: list[str]


def invalid(key: str, args: list[str], *, line: int | None = None,
            data: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The marker for an input that is not a valid item: it fails alone, in place."""
    message = f"[[error:{key}, {', '.join(args)}]]" if args else f"[[error:{key}]]"
    error: dict[str, Any] = {"kind": "bad-request", "key": key, "message": message, "args": args}
    if line is not None:
        error["line"] = line
    marker: dict[str, Any] = {"type": INVALID, "error": error}
    if data is not None:  # keep what identifies the item in the per-item results
        if isinstance(data.get("type"), str):
            marker["item_type"] = data["type"][:16]
        if isinstance(data.get("external_id"), str | int):
            marker["external_id"] = str(data["external_id"])[:255]
    return marker


def parse_item(data: object, *, line: int | None = None) -> dict[str, Any]:
    """A decoded JSON value as a stored item, or an invalid marker naming the fields."""
    if not isinstance(data, dict):
        return invalid("invalid-item", ["not a JSON object"], line=line)
    try:
        return _validate_python(data)
    except ValidationError as exc:
        errors = exc.errors()
        missing = sorted({str(e["loc"][1]) for e in errors
                          if e["type"] == "missing" and len(e["loc"]) > 1})  # fmt: skip
        if missing:
            return invalid("params-missing", missing, line=line, data=data)
        fields = sorted({str(e["loc"][1]) if len(e["loc"]) > 1 else str(e["loc"][0])
                         for e in errors if e["loc"]})  # fmt: skip
        detail = "; ".join(e["msg"] for e in errors)
        return invalid("invalid-data", [*fields, detail], line=line, data=data)


# How JSON text writes U+0000 (a raw NUL byte is not valid JSON): only an input that
# holds it needs its items' texts checked for the character PostgreSQL cannot store.
NUL_ESCAPE = b"\\u0000"


def without_nul(item: dict[str, Any], *, line: int | None = None) -> dict[str, Any]:
    """``item``, or an invalid marker if one of its texts holds U+0000: it would fail
    in the worker, where the database refuses it; the API says why, with the line."""
    fields = sorted(
        name for name, value in item.items()
        if (isinstance(value, str) and "\x00" in value)
        or (isinstance(value, tuple) and any("\x00" in tag for tag in value))
    )  # fmt: skip
    if not fields or item["type"] == INVALID:
        return item
    return invalid("invalid-data", [*fields, "text must not contain NUL (U+0000)"],
                   line=line, data=item)  # fmt: skip


def parse_line(raw: bytes, line: int) -> dict[str, Any]:
    """One NDJSON line (1-based ``line``) as a stored item or an invalid marker.

    A good line is parsed and validated in one pydantic-core call; only a bad one
    is decoded again for its detailed error."""
    try:
        item = _validate_json(raw)
        return without_nul(item, line=line) if NUL_ESCAPE in raw else item
    except ValidationError:
        pass
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return invalid("invalid-json", [f"line {line}"], line=line)
    return without_nul(parse_item(data, line=line), line=line)
