"""Text rules shared by NodeBB: slugs, tags, lengths."""

import re
import unicodedata

from forum.errors import bad_request

_LATIN_ONLY = re.compile(r"^[\w\s\d.,\-@]+$", re.ASCII)
_NOT_SLUG_LATIN = re.compile(r"[^\w\s\d\-_@.]", re.ASCII)
_NOT_SLUG_UNICODE = re.compile(r"[^\w\s\-_@.]")
_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"-+")
_TAG_STRIP = re.compile(r"[,/#!$^*;:{}=_`<>'\"~()?|\u202a-\u202e\u2066-\u2069]")
_HTML_TAG = re.compile(r"<[^>]*>")


def slugify(text: str) -> str:
    """NodeBB's slugify (``nodebb-core.md`` §3.7)."""
    text = text.strip()
    pattern = _NOT_SLUG_LATIN if _LATIN_ONLY.match(text) else _NOT_SLUG_UNICODE
    text = pattern.sub("-", text).lower()
    text = _DASHES.sub("-", _SPACES.sub("-", text))
    text = text.removeprefix("-").removesuffix("-")
    return "" if text in {".", ".."} else text


def visible_length(text: str) -> int:
    """Length as NodeBB measures it: tags stripped, trimmed, in UTF-16 code units."""
    stripped = _HTML_TAG.sub("", text).strip()
    return len(stripped.encode("utf-16-le")) // 2


def clean_tags(tags: list[str], min_length: int, max_length: int) -> list[str]:
    """Normalise tags as NodeBB's ``filterTags``: unique, cleaned, short ones dropped."""
    cleaned: list[str] = []
    for raw in tags:
        tag = unicodedata.normalize("NFC", _TAG_STRIP.sub("", raw.lower().strip()))
        # As cleanUpTag: cut, trim, then drop leading/trailing dots and dashes.
        tag = tag[:max_length].strip().strip(".-")
        if len(tag) >= min_length and tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def check_length(text: str, minimum: int, maximum: int, what: str) -> None:
    length = visible_length(text)
    if length < minimum:
        raise bad_request(f"{what}-too-short", minimum)
    if length > maximum:
        raise bad_request(f"{what}-too-long", maximum)
