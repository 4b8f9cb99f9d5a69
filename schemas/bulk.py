"""Bulk import items (``POST /api/v2/bulk``, spec README "Bulk import").

Each item has a ``type`` and an importer-chosen ``external_id`` (unique per type);
items refer to each other by external id (``user``, ``category``, ``topic``, ``to``)
or to existing rows by forum id (``uid``, ``cid``, ``tid``, ``toPid``). Unknown keys
are ignored, as on every write route. Items are not commands: the command is the
``BulkImport`` job that carries them.
"""

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from schemas.commands import Command, Id, NonEmpty, Text, Timestamp

# Exporters often key by the old numeric id: a number is taken as its decimal string
# (a field-level coercion, not a Python validator, so items validate in pydantic-core).
ExternalId = Annotated[str, Field(min_length=1, max_length=255, coerce_numbers_to_str=True)]
Tag = Annotated[str, Field(max_length=255)]


class Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    external_id: ExternalId


def _one_of(item: BaseModel, by_external: str, by_id: str, wire_id: str) -> None:
    if (getattr(item, by_external) is None) == (getattr(item, by_id) is None):
        raise ValueError(f"give exactly one of {by_external!r} or {wire_id!r}")


class UserItem(Item):
    type: Literal["user"]
    username: Annotated[NonEmpty, Field(max_length=255)]
    email: Annotated[str, Field(max_length=255)] | None = None
    password: Annotated[str, Field(max_length=512)] | None = None
    timestamp: Timestamp | None = None
    admin: bool = False


class CategoryItem(Item):
    type: Literal["category"]
    name: Annotated[NonEmpty, Field(max_length=255)]
    description: Annotated[str, Field(max_length=65535)] = ""
    parent: ExternalId | None = None
    parent_cid: Annotated[Id | None, Field(alias="parentCid")] = None
    order: int | None = None


class TopicItem(Item):
    type: Literal["topic"]
    category: ExternalId | None = None
    cid: Id | None = None
    user: ExternalId | None = None
    uid: Id | None = None
    title: Annotated[NonEmpty, Field(max_length=1024)]
    content: Text
    timestamp: Timestamp | None = None
    tags: Annotated[tuple[Tag, ...], Field(max_length=100)] = ()
    locked: bool = False
    pinned: bool = False
    deleted: bool = False
    viewcount: Annotated[int, Field(ge=0, lt=2**31)] = 0

    @model_validator(mode="after")
    def _references(self) -> "TopicItem":
        _one_of(self, "category", "cid", "cid")
        _one_of(self, "user", "uid", "uid")
        return self


class ReplyItem(Item):
    type: Literal["reply"]
    topic: ExternalId | None = None
    tid: Id | None = None
    user: ExternalId | None = None
    uid: Id | None = None
    content: Text
    timestamp: Timestamp | None = None
    to: ExternalId | None = None
    to_pid: Annotated[Id | None, Field(alias="toPid")] = None
    deleted: bool = False
    votes: Annotated[int, Field(gt=-(2**31), lt=2**31)] = 0

    @model_validator(mode="after")
    def _references(self) -> "ReplyItem":
        _one_of(self, "topic", "tid", "tid")
        _one_of(self, "user", "uid", "uid")
        if self.to is not None and self.to_pid is not None:
            raise ValueError("give at most one of 'to' or 'toPid'")
        return self


AnyItem = Annotated[UserItem | CategoryItem | TopicItem | ReplyItem, Field(discriminator="type")]
item_adapter: TypeAdapter[Item] = TypeAdapter(AnyItem)
TYPES = ("user", "category", "topic", "reply")
# An input the API could not read as an item (a malformed NDJSON line, a missing
# field): stored as {"type": "invalid", "error": {...}} so it fails alone, in place.
INVALID = "invalid"


class BulkImport(Command):
    """One bulk request as stored: its items in input order, in packed chunks.

    Each chunk is ``forum.bulk.jobs.pack`` of ``(index, item)`` pairs, an item being
    a dumped item (validated once, by the API) or an invalid marker. Packed text keeps
    the job row small: loading it never parses thousands of items."""

    kind: Literal["bulk.import"] = "bulk.import"
    job_id: Annotated[str, Field(max_length=36)]
    chunks: list[str]


def dump_item(item: Item) -> dict[str, Any]:
    """The item as stored and queued: field names, defaults left out."""
    return item.model_dump(mode="json", exclude_defaults=True) | {"type": item.type}  # type: ignore[attr-defined]


def dump_item_json(item: Item) -> bytes:
    """``dump_item`` as JSON text, built by pydantic-core (no Python dict)."""
    return item_adapter.dump_json(item, exclude_defaults=True)


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
        return dump_item(item_adapter.validate_python(data))
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


def parse_json_item(raw: bytes, *, line: int | None = None) -> bytes:
    """One item's JSON text as its stored JSON text; a bad one as an invalid marker.

    The good path stays in pydantic-core (parse, validate, dump); only a bad item
    pays for the detailed error of ``parse_item``."""
    try:
        return dump_item_json(item_adapter.validate_json(raw))
    except ValidationError:
        pass
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return orjson.dumps(invalid("invalid-json", [f"line {line}"], line=line))
    return orjson.dumps(parse_item(data, line=line))


def parse_line(raw: bytes, line: int) -> dict[str, Any]:
    """One NDJSON line (1-based ``line``) as a stored item or an invalid marker."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return invalid("invalid-json", [f"line {line}"], line=line)
    return parse_item(data, line=line)
