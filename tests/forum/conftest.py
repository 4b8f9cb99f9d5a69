"""Domain tests: forum functions on a migrated SQLite file and on PostgreSQL.

No HTTP, no Celery: each test calls the plain functions inside ``forum.db.transaction``.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from forum.db import engine_for
from forum.migrate import upgrade


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("forum") / "forum.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    yield url
    engine_for(url).dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each domain test runs on both databases forumq supports."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
