"""The token route's lockout store (api.throttle) on each backend the API shares it
through: Redis, PostgreSQL and SQLite. The HTTP side is in test_users_tokens.py."""

import asyncio
import time
import uuid

import pytest

from api.errors import ApiError
from api.throttle import LoginThrottle
from forum.migrate import upgrade
from forumq.settings import Settings


@pytest.fixture(params=["redis", "postgres", "sqlite"])
def settings(request: pytest.FixtureRequest) -> Settings:
    """Two attempts per uid, three per address, locked for one second."""
    limits = {"login_attempts": 2, "login_attempts_per_address": 3, "lockout_minutes": 1 / 60}
    if request.param == "redis":
        # Namespaced by the database URL: a fresh one gives fresh counts.
        return Settings(broker_url=request.getfixturevalue("redis_url"),
                        database_url=f"sqlite:///unused-{uuid.uuid4().hex}", **limits)  # fmt: skip
    if request.param == "postgres":
        database_url = request.getfixturevalue("pg_url")
    else:
        database_url = f"sqlite:///{request.getfixturevalue('tmp_path') / 'forum.sqlite3'}"
        upgrade(database_url)
    return Settings(database_url=database_url, broker_url="memory://", **limits)


async def refused(throttle: LoginThrottle, uid: int, address: str) -> int | None:
    """The Retry-After of a refused attempt, or None when it was counted."""
    try:
        await throttle.attempt(uid, address)
    except ApiError as exc:
        assert exc.status == 429 and exc.code == "too-many-requests"
        assert exc.headers["Retry-After"] == str(exc.params["retry_after"])
        return exc.params["retry_after"]
    return None


def test_a_uid_is_locked_past_its_attempts_then_freed(settings: Settings) -> None:
    async def run() -> None:
        throttle = LoginThrottle(settings)
        uid = int(time.time() * 1000) % 10**9
        addresses = iter(f"198.51.100.{n}" for n in range(1, 10))  # not the address limit
        assert [await refused(throttle, uid, next(addresses)) for _ in range(2)] == [None, None]
        assert await refused(throttle, uid, next(addresses)) == 1
        assert await refused(throttle, uid, next(addresses)) == 1  # locked, from any address
        assert await refused(throttle, uid + 1, next(addresses)) is None  # another uid is not
        await asyncio.sleep(1.1)
        assert await refused(throttle, uid, next(addresses)) is None
        await throttle.close()

    asyncio.run(run())


def test_a_right_password_takes_its_attempt_back(settings: Settings) -> None:
    async def run() -> None:
        throttle = LoginThrottle(settings)
        uid = int(time.time() * 1000) % 10**9
        for _ in range(4):  # more than either limit, each followed by a success
            assert await refused(throttle, uid, "192.0.2.7") is None
            await throttle.succeeded(uid, "192.0.2.7")
        await throttle.close()

    asyncio.run(run())


def test_an_address_is_locked_past_its_attempts(settings: Settings) -> None:
    async def run() -> None:
        throttle = LoginThrottle(settings)
        first = int(time.time() * 1000) % 10**9
        address = f"203.0.113.{first % 250}"
        counted = [await refused(throttle, first + n, address) for n in range(3)]
        assert counted == [None, None, None]
        assert await refused(throttle, first + 3, address) == 1  # a fourth uid, same address
        assert await refused(throttle, first + 3, "203.0.113.251") is None
        await throttle.close()

    asyncio.run(run())
