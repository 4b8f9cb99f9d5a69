"""Time as NodeBB stores it: integer milliseconds since the epoch."""

import time
from datetime import UTC, datetime
from functools import lru_cache


def now_ms() -> int:
    return int(time.time() * 1000)


# Pages show the same times again and again (authors' join dates, busy topics' posts).
@lru_cache(maxsize=65536)
def iso(ms: int | None) -> str:
    if not ms:
        return ""
    return (
        datetime.fromtimestamp(ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
