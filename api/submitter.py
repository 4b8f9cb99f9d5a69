"""Storing and enqueueing single writes in groups.

Requests that arrive while earlier groups are being stored share one database
transaction and one broker message, so the accept path pays the broker's
per-message cost once per group, not once per write. A job is committed before it is
published; if publishing fails, the group's jobs are withdrawn again and the callers
get 503: nothing acknowledged is left behind (``forum.jobqueue.intake``).
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from api.errors import ApiError, unavailable
from api.metrics import ACCEPT_GROUP_SIZE, JOBS_ACCEPTED
from forum.jobqueue.intake import Intake
from forum.jobqueue.store import StoreUnavailable

log = logging.getLogger(__name__)


@dataclass
class Draft:
    row: dict[str, Any]
    durable: bool
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Submitter:
    """Groups pending jobs, stores each group in one transaction, then publishes it.

    Two stages overlap: while one group is being published, the next one is being
    stored. Groups are stored one at a time, so ``seq`` order is commit order: the
    worker's ordering rule never misses an earlier job still being committed.
    Publishing order does not matter (jobs on one object apply in ``seq`` order)."""

    def __init__(self, intake: Intake, max_batch: int) -> None:
        self._intake = intake
        self._max_batch = max_batch
        self._pending: asyncio.Queue[Draft] = asyncio.Queue()
        self._storing = asyncio.Semaphore(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def submit(self, row: dict[str, Any], durable: bool = True) -> None:
        """Store and enqueue one job; raises DuplicateKey or ApiError (503).

        ``durable=False`` is for a caller that waits for the job's result: its job may
        be committed without an fsync of its own, and ``flush`` must run before it is
        answered 202."""
        draft = Draft(row, durable)
        await self._pending.put(draft)
        await draft.done

    async def flush(self) -> None:
        """Make the jobs stored so far durable (raises ApiError 503 if it cannot)."""
        try:
            await self._intake.flush()
        except StoreUnavailable as exc:
            raise unavailable(str(exc)) from exc

    async def _run(self) -> None:
        while True:
            group = [await self._pending.get()]
            await self._storing.acquire()
            # Whatever arrived while the previous group was being stored joins the group.
            while len(group) < self._max_batch and not self._pending.empty():
                group.append(self._pending.get_nowait())
            task = asyncio.create_task(self._accept(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _accept(self, group: list[Draft]) -> None:
        rows = [d.row for d in group]
        try:
            try:
                durable = any(d.durable for d in group)
                outcomes = await self._intake.store(rows, durable=durable)
            finally:
                self._storing.release()
            outcomes = await self._publish(rows, outcomes)
        except Exception as exc:  # the database or broker is unreachable
            log.warning("could not accept %d jobs: %r", len(group), exc)
            outcomes = [unavailable("The job store or broker is unreachable.")] * len(group)
        for draft, outcome in zip(group, outcomes, strict=True):
            if draft.done.done():
                continue
            if outcome is None:
                draft.done.set_result(None)
            elif isinstance(outcome, StoreUnavailable):
                draft.done.set_exception(unavailable(str(outcome)))
            else:
                draft.done.set_exception(outcome)

    async def _publish(
        self, rows: list[dict[str, Any]], outcomes: list[Exception | None]
    ) -> list[Exception | None]:
        stored = [row["id"] for row, o in zip(rows, outcomes, strict=True) if o is None]
        if not stored:
            return outcomes
        ACCEPT_GROUP_SIZE.observe(len(stored))
        try:
            await self._intake.publish_jobs(stored)
        except Exception as exc:
            log.warning("broker refused %d jobs: %r", len(stored), exc)
            await self._intake.withdraw(stored)
            error: ApiError = unavailable("The message broker is unreachable.")
            return [o if o is not None else error for o in outcomes]
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome is None:
                JOBS_ACCEPTED.labels(row["kind"]).inc()
        return outcomes
