"""What every page shares: NodeBB's pagination object, breadcrumbs, and the answer
that sends a client elsewhere."""

from dataclasses import dataclass
from urllib.parse import urlencode

from forum.models import Category
from forum.read.objects import JSON
from forum.read.render import escape


class Redirect(Exception):
    """The page lives at ``path``: NodeBB's API answers 200 with the path as a JSON
    string and an ``X-Redirect`` header."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class Window:
    """Rows ``start`` to ``start + count - 1`` of a list, shown as page ``page``."""

    page: int
    start: int
    count: int


def page_window(page: int | None, per_page: int) -> Window:
    """``?page=N`` (NodeBB: ``parseInt(page) || 1``; below 1 is the first page)."""
    current = max(1, page or 1)
    return Window(current, (current - 1) * per_page, per_page)


def page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def pagination(current: int, count: int, query: dict[str, str] | None = None) -> JSON:
    """NodeBB's ``pagination.create``."""
    if count <= 1:
        return {
            "prev": {"page": 1, "active": current > 1},
            "next": {"page": 1, "active": current < count},
            "first": {"page": 1, "active": current == 1},
            "last": {"page": 1, "active": current == count},
            "rel": [], "pages": [], "currentPage": 1, "pageCount": 1,
        }  # fmt: skip
    base = {k: v for k, v in (query or {}).items() if k not in ("_", "page")}

    def qs(page: int) -> str:
        return urlencode({**base, "page": page})

    start = max(1, current - 2)
    if start > count - 5:
        start -= 2 - (count - current)
    shown = sorted(
        {p for p in [1, 2, count - 1, count, *range(start, start + 5)] if 0 < p <= count}
    )
    pages: list[JSON] = [{"page": p, "active": p == current, "qs": qs(p)} for p in shown]
    i = len(pages) - 1
    while i > 0:
        before = pages[i]["page"] - 1
        if pages[i]["page"] - 2 == pages[i - 1]["page"]:
            pages.insert(i, {"page": before, "active": False, "qs": qs(before)})
        elif before != pages[i - 1]["page"]:
            pages.insert(i, {"separator": True})
        i -= 1
    previous, following = max(1, current - 1), min(count, current + 1)
    rel = []
    if current < count:
        rel.append({"rel": "next", "href": f"?{qs(following)}"})
    if current > 1:
        rel.append({"rel": "prev", "href": f"?{qs(previous)}"})
    return {
        "rel": rel,
        "pages": pages,
        "currentPage": current,
        "pageCount": count,
        "prev": {"page": previous, "active": current > 1, "qs": qs(previous)},
        "next": {"page": following, "active": current < count, "qs": qs(following)},
        "first": {"page": 1, "active": current == 1, "qs": qs(1)},
        "last": {"page": count, "active": current == count, "qs": qs(count)},
    }


def breadcrumbs(categories: dict[int, Category], cid: int, last: JSON | None = None) -> list[JSON]:
    """Home, then each enabled category from the top down to ``cid``, then ``last``."""
    chain: list[JSON] = []
    seen: set[int] = set()
    while cid and cid in categories and cid not in seen:
        seen.add(cid)
        category = categories[cid]
        if not category.disabled:
            chain.append(
                {"text": escape(category.name), "url": f"/category/{category.slug}", "cid": cid}
            )
        cid = category.parent_cid
    trail = [{"text": "[[global:home]]", "url": "/"}, *reversed(chain)]
    return [*trail, last] if last else trail
