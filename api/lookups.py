"""Short-lived answers to the API's per-request lookups (tokens, users), loaded once.

An answer is kept for a few seconds, so a revocation lands fast. When it expires
under load, every request in flight misses at once: without coordination each one
would start its own database lookup (a thread hop and a query each, a burst of
latency every few seconds). Here the first miss loads, and the others await it."""

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

Value = TypeVar("Value")

MAX_ENTRIES = 10_000


class Lookups(Generic[Value]):
    def __init__(self, seconds: float, keep: Callable[[Value], bool] = lambda _: True) -> None:
        """``keep``: which answers may be remembered (e.g. not "no such user", so a
        user created a moment ago is found at once)."""
        self._seconds = seconds
        self._keep = keep
        self._answers: dict[Hashable, tuple[Value, float]] = {}
        self._loading: dict[Hashable, asyncio.Future[Value]] = {}

    def cached(self, key: Hashable) -> tuple[bool, Value | None]:
        """``(True, answer)`` while a remembered answer is fresh, else ``(False, None)``;
        on the event loop, no await: the common case costs a dict lookup."""
        entry = self._answers.get(key)
        if entry is not None and entry[1] > time.monotonic():
            return True, entry[0]
        return False, None

    async def get(self, key: Hashable, load: Callable[[], Value]) -> Value:
        """The fresh answer for ``key``, or ``load()`` run once in a thread for all the
        requests that miss it together."""
        found, answer = self.cached(key)
        if found:
            return answer  # type: ignore[return-value]
        loading = self._loading.get(key)
        if loading is not None:
            try:
                return await asyncio.shield(loading)
            except asyncio.CancelledError:
                if not loading.cancelled():
                    raise  # this request was cancelled
                return await run_in_threadpool(load)  # the loading request was
        future: asyncio.Future[Value] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            answer = await run_in_threadpool(load)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._loading[key]
        future.set_result(answer)
        self.remember(key, answer)
        return answer

    def remember(self, key: Hashable, answer: Value) -> None:
        if not self._keep(answer):
            return
        if len(self._answers) >= MAX_ENTRIES:
            self._answers.clear()
        self._answers[key] = (answer, time.monotonic() + self._seconds)
