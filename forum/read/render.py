"""Text as NodeBB sends it: Markdown rendered to HTML, titles escaped.

Markdown is rendered by cmark-gfm (GitHub's reference implementation, through
``cmarkgfm``, as Warehouse renders READMEs): the GitHub dialect NodeBB's markdown
plugin speaks (tables, strikethrough, bare links), newlines kept as ``<br />``. It
renders a post in tens of microseconds where a pure-Python renderer takes ten times
that, and a topic page renders twenty. Raw HTML in a post is never passed through:
cmark-gfm leaves it out where NodeBB's plugin shows it escaped (docs/read-api.md)."""

from functools import lru_cache

import cmarkgfm
from cmarkgfm.cmark import Options

_OPTIONS = Options.CMARK_OPT_HARDBREAKS | Options.CMARK_OPT_VALIDATE_UTF8

# validator.escape, which NodeBB applies to titles, tags and category names.
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "/": "&#x2F;",
     "\\": "&#x5C;", "`": "&#96;"}
)  # fmt: skip


@lru_cache(maxsize=4096)
def markdown(text: str) -> str:
    """A post's content as HTML (the same text renders the same: busy pages repeat)."""
    return cmarkgfm.github_flavored_markdown_to_html(text, options=_OPTIONS)


def escape(text: str) -> str:
    return text.translate(_ESCAPES)
