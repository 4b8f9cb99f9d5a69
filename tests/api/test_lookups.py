"""api.lookups: short-lived answers, loaded once for all the requests that miss together."""

import asyncio
import threading
import time

import pytest

from api.lookups import Lookups


def test_concurrent_misses_share_one_load() -> None:
    calls: list[int] = []
    release = threading.Event()

    def load() -> str:
        calls.append(1)
        release.wait(5)
        return "owner"

    async def run() -> list[str]:
        lookups: Lookups[str] = Lookups(seconds=60)
        waiting = [asyncio.create_task(lookups.get("key", load)) for _ in range(20)]
        await asyncio.sleep(0.05)
        release.set()
        answers = await asyncio.gather(*waiting)
        assert lookups.cached("key") == (True, "owner")
        return answers

    assert asyncio.run(run()) == ["owner"] * 20
    assert len(calls) == 1


def test_an_answer_expires_and_is_loaded_again() -> None:
    answers = iter(["first", "second"])

    async def run() -> tuple[str, str]:
        lookups: Lookups[str] = Lookups(seconds=0.05)
        first = await lookups.get("key", lambda: next(answers))
        assert await lookups.get("key", lambda: "unused") == "first"
        time.sleep(0.06)
        assert lookups.cached("key") == (False, None)
        return first, await lookups.get("key", lambda: next(answers))

    assert asyncio.run(run()) == ("first", "second")


def test_answers_keep_refuses_are_not_remembered() -> None:
    async def run() -> tuple[bool, bool]:
        lookups: Lookups[tuple[bool, bool]] = Lookups(seconds=60, keep=lambda user: user[0])
        await lookups.get(1, lambda: (False, False))
        await lookups.get(2, lambda: (True, False))
        return lookups.cached(1)[0], lookups.cached(2)[0]

    assert asyncio.run(run()) == (False, True)


def test_a_failed_load_reaches_every_waiter_and_is_not_remembered() -> None:
    release = threading.Event()

    def load() -> str:
        release.wait(5)
        raise ConnectionError("database down")

    async def run() -> None:
        lookups: Lookups[str] = Lookups(seconds=60)
        waiting = [asyncio.create_task(lookups.get("key", load)) for _ in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(o, ConnectionError) for o in outcomes)
        assert lookups.cached("key") == (False, None)
        assert await lookups.get("key", lambda: "back") == "back"

    asyncio.run(run())


def test_waiters_load_themselves_when_the_loading_request_is_cancelled() -> None:
    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "late"

    async def run() -> str:
        lookups: Lookups[str] = Lookups(seconds=60)
        loading = asyncio.create_task(lookups.get("key", slow))
        await asyncio.sleep(0.02)
        waiter = asyncio.create_task(lookups.get("key", lambda: "own"))
        await asyncio.sleep(0.02)
        loading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loading
        release.set()
        return await waiter

    assert asyncio.run(run()) == "own"
