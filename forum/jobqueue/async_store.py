"""Job rows stored from the event loop (the API): groups of jobs committed on long-lived psycopg
``AsyncConnection``s (PostgreSQL), with no thread contending for the GIL.

Durability follows what the answer promises. A group with a job answered 202 at once
is committed synchronously: the 202 promises the job survives a crash. A group whose
callers all wait for their result is committed asynchronously (no fsync of its own):
the worker's commit of the write is synchronous and flushes the WAL past the job row
it read, so every final answer is durable; a wait that runs out calls ``flush`` before
it answers 202. If the server crashes before then, the job is gone with nothing
promised: the caller gets an error, and its message finds no job to apply."""

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from forum.jobqueue import store
from forum.jobqueue.store import DuplicateKey, StoreUnavailable

log = logging.getLogger(__name__)

# A store or publish that takes longer than this is abandoned: its callers get 503.
IO_TIMEOUT_SECONDS = 10.0


def async_store_url(database_url: str) -> str | None:
    """The libpq URL for psycopg's ``AsyncConnection``, or None if the database is not
    PostgreSQL (SQLite keeps the thread path)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncStore:
    """Stores groups of jobs on one long-lived ``AsyncConnection``.

    Used by one group at a time (the API's Submitter), so a group's retries never let a
    later group commit first. A connection lost while a group was being
    stored leaves the group in doubt (the COPY may have committed just before): a new
    connection asks which of its jobs exist, and only the others are stored again. A
    group is answered 503 only when the database cannot be reached, or cannot tell,
    within ``IO_TIMEOUT_SECONDS``."""

    RECONNECT_PAUSE_SECONDS = 0.2

    def __init__(self, url: str) -> None:
        self._url = url
        # One connection per commit mode (durable or not), each set up once.
        self._connections: dict[bool, psycopg.AsyncConnection[Any]] = {}

    async def store(
        self, rows: list[dict[str, Any]], *, durable: bool = True
    ) -> list[Exception | None]:
        """Per row: None (committed), DuplicateKey, or StoreUnavailable. Not ``durable``:
        committed without waiting for the WAL flush (see the module docstring)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IO_TIMEOUT_SECONDS
        outcomes: dict[str, Exception | None] = {}
        pending = rows
        while pending:
            try:
                connection = await self._connect(durable)
            except (psycopg.Error, OSError) as exc:  # nothing was sent: plainly refused
                log.warning("job store unreachable: %r", exc)
                break
            try:
                stored = await asyncio.wait_for(
                    self._copy(connection, pending), max(deadline - loop.time(), 0.1)
                )
            except (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError) as exc:
                await self.close()
                log.warning("job store connection lost storing %d jobs: %r", len(pending), exc)
                committed = await self._committed([row["id"] for row in pending], deadline)
                if committed is None:
                    log.error(
                        "jobs %s may or may not be stored (answered 503; the sweeper "
                        "publishes them if they were)",
                        [row["id"] for row in pending],
                    )
                    break
                outcomes.update(dict.fromkeys(committed))
                pending = [row for row in pending if row["id"] not in committed]
                continue
            except BaseException:
                await self.close()
                raise
            outcomes.update(stored)
            pending = []
        refused = StoreUnavailable("The job store is unreachable.")
        return [outcomes.get(row["id"], refused) for row in rows]

    async def _copy(
        self, connection: psycopg.AsyncConnection[Any], rows: list[dict[str, Any]]
    ) -> dict[str, Exception | None]:
        # Autocommit: each COPY is one transaction, all its rows or none, committed
        # before it returns.
        outcomes: dict[str, Exception | None] = dict.fromkeys(row["id"] for row in rows)
        try:
            await store.insert_jobs_async(connection, rows)
        except psycopg.errors.UniqueViolation:
            # An Idempotency-Key collided: store one by one so only duplicates fail.
            for row in rows:
                try:
                    await store.insert_jobs_async(connection, [row])
                except psycopg.errors.UniqueViolation:
                    outcomes[row["id"]] = DuplicateKey()
        return outcomes

    async def _committed(self, job_ids: list[str], deadline: float) -> set[str] | None:
        """Which of these jobs exist, asked on a new connection; None if the database
        cannot tell before ``deadline``."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection = await self._connect(True)
                cursor = await asyncio.wait_for(
                    connection.execute("SELECT id FROM jobs WHERE id = ANY(%s)", [job_ids]),
                    max(deadline - loop.time(), 0.1),
                )
                return {job_id for (job_id,) in await cursor.fetchall()}
            except (psycopg.Error, OSError, TimeoutError):
                await self.close()
            if loop.time() + self.RECONNECT_PAUSE_SECONDS > deadline:
                return None
            await asyncio.sleep(self.RECONNECT_PAUSE_SECONDS)

    async def flush(self) -> None:
        """Make every job stored so far durable (before a 202 for a job that was stored
        asynchronously). A synchronous commit flushes the WAL up to its own record,
        earlier commits included, but only if its transaction wrote WAL: a transactional
        logical message is the smallest such write (no table, no lock, any wal_level)."""
        try:
            connection = await self._connect(True)
            await asyncio.wait_for(
                connection.execute("SELECT pg_logical_emit_message(true, 'forumq', 'flush')"),
                IO_TIMEOUT_SECONDS,
            )
        except (psycopg.Error, OSError, TimeoutError) as exc:
            await self.close()
            log.warning("could not flush the job store: %r", exc)
            raise StoreUnavailable("The job store is unreachable.") from exc

    async def _connect(self, durable: bool) -> psycopg.AsyncConnection[Any]:
        connection = self._connections.get(durable)
        if connection is not None and not connection.closed:
            return connection
        connection = await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=3
        )
        # Set explicitly, whatever the server's default: a 202 must never rest on an
        # asynchronous commit.
        mode = "on" if durable else "off"
        await connection.execute(f"SET synchronous_commit TO {mode}")
        self._connections[durable] = connection
        return connection

    async def close(self) -> None:
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            with contextlib.suppress(Exception):
                await connection.close()
