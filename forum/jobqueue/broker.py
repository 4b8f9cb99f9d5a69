"""The embedded default's broker: kombu's SQLAlchemy transport on a SQLite file
(``sqla+sqlite://``), made to pick a message up in milliseconds and to cost nothing
when idle, with API, workers and the CLI in separate processes.

kombu's transport polls every second and takes SQLite's write lock
(``BEGIN IMMEDIATE``) at every poll, in the file's default rollback-journal mode: a
publish waited half a second on average to be seen, and polling it faster kept other
processes from publishing ("database is locked"). This transport:

- puts the file in WAL mode, so readers and the one writer never wait for each other,
  and gives writers a long busy timeout, so a publish queues for the lock rather
  than failing;
- polls with a plain read; only when a message is waiting does it take the write lock
  to claim it, deleting it (kombu's keeps every delivered message, invisible);
- rings a doorbell after each publish: every consuming process has a FIFO in
  ``<broker file>-wake/`` and a publisher writes a byte to each, so a worker asleep
  between polls wakes at once. Polling stays as the fallback (a FIFO is missing, the
  platform has none): every ``FASTEST`` seconds right after a message, doubling to
  ``SLOWEST`` while idle.

The messages themselves are kombu's rows in kombu's tables: any kombu SQLAlchemy
client can still read and write the file.
"""

import contextlib
import errno
import os
import select
import sqlite3
import uuid
from collections.abc import Iterator
from json import dumps, loads
from pathlib import Path
from queue import Empty
from time import monotonic, sleep
from typing import Any, ClassVar

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqla
from kombu.transport.virtual import QoS as VirtualQoS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

ALIAS = "forumq-sqla"
FASTEST = 0.005  # seconds between polls right after a message (or a doorbell) ...
SLOWEST = 0.5  # ... doubling after each empty poll up to this while idle (kombu's
# ``polling_interval`` transport option sets it)
BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for SQLite's lock before failing
STOCK_SCHEME = "sqla+sqlite://"

PEEK = "SELECT 1 FROM kombu_message WHERE queue_id = ? AND visible = 1 LIMIT 1"
OLDEST = (
    "SELECT id, payload FROM kombu_message WHERE queue_id = ? AND visible = 1 ORDER BY id LIMIT 1"
)
QUEUE_ID = "SELECT id FROM kombu_queue WHERE name = ?"
COUNT = "SELECT count(*) FROM kombu_message WHERE queue_id = ? AND visible = 1"
INSERT = "INSERT INTO kombu_message (visible, payload, version, queue_id) VALUES (1, ?, 1, ?)"


def broker_url(url: str) -> str:
    """``url`` with kombu's SQLAlchemy transport on SQLite replaced by this one."""
    if url.startswith(STOCK_SCHEME):
        return f"{ALIAS}+sqlite://{url.removeprefix(STOCK_SCHEME)}"
    return url


def wake_directory(database_url: str, suffix: str = "wake") -> Path | None:
    """Where the FIFOs of doorbells about the SQLite file ``database_url`` live,
    ``<file>-<suffix>/`` (None if it is no SQLite file, or the platform has no FIFOs)."""
    url = make_url(database_url)
    path = url.database
    if not url.drivername.startswith("sqlite") or not path or path == ":memory:":
        return None
    if path.startswith("file:") or not hasattr(os, "mkfifo"):
        return None
    return Path(f"{os.path.abspath(path)}-{suffix}")


def ring(directory: Path | None) -> None:
    """Write a byte to every consumer's FIFO in ``directory``; never blocks, never fails
    (a doorbell only saves waiting for the next poll)."""
    if directory is None:
        return
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith("."):  # one being set up
            continue
        path = directory / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # nobody reads it: its process is gone
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        try:
            os.write(fd, b"\0")
        except OSError:
            pass  # full: it has been rung already
        finally:
            os.close(fd)


class Doorbell:
    """A waiting process's FIFO in a directory that ``ring`` rings."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, exist_ok=True)
        self._pid = os.getpid()
        name = f"{self._pid}-{uuid.uuid4().hex[:12]}"
        hidden, self.path = directory / f".{name}", directory / name
        os.mkfifo(hidden, 0o600)
        flags = os.O_NONBLOCK | os.O_CLOEXEC
        self._read = os.open(hidden, os.O_RDONLY | flags)
        # Held open so that the FIFO never reads as closed (which select reports as
        # readable, forever) between two publishers' writes.
        self._write = os.open(hidden, os.O_WRONLY | flags)
        # Published only once it has a reader: a publisher unlinks a FIFO without one.
        os.rename(hidden, self.path)

    def fileno(self) -> int:
        """Readable once rung (for an event loop's reader; ``clear`` it then)."""
        return self._read

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass

    def wait(self, timeout: float) -> bool:
        """Sleep until rung or ``timeout`` seconds passed; True if rung."""
        readable, _, _ = select.select([self._read], [], [], max(0.0, timeout))
        if not readable:
            return False
        self.clear()
        return True

    def ring(self) -> None:
        """Wake this process's own wait (from another thread)."""
        with contextlib.suppress(OSError):
            os.write(self._write, b"\0")

    def close(self) -> None:
        if os.getpid() == self._pid:  # not in a forked child (a worker's pool)
            with contextlib.suppress(OSError):
                self.path.unlink()
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def _tune(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # WAL: a poll (a read) and publishes in other processes (writes) never wait for each
    # other. A commit is not synced at once (NORMAL): a message lost with the machine's
    # power is published again by the sweeper, since its job is in the jobs table.
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _create_tables(engine: Any) -> None:
    """Create kombu's tables if missing, holding SQLite's write lock: the API and the
    workers start together on a new file, and kombu's unlocked check-then-create let a
    second process fail with "table kombu_queue already exists"."""
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            kombu_sqla.metadata.create_all(connection)
            # kombu's transport left delivered messages in the table, invisible.
            connection.exec_driver_sql("DELETE FROM kombu_message WHERE visible = 0")
            connection.exec_driver_sql("COMMIT")
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise


class QoS(VirtualQoS):  # type: ignore[misc]
    """A message acknowledged (or rejected) frees prefetch room: the consumer polls again
    now rather than at its next poll."""

    def ack(self, delivery_tag: Any) -> None:
        super().ack(delivery_tag)
        self.channel.connection.wake()

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().reject(delivery_tag, requeue=requeue)
        self.channel.connection.wake()


class Channel(kombu_sqla.Channel):  # type: ignore[misc]
    QoS = QoS
    _engines: ClassVar[dict[str, Any]] = {}  # not kombu's: a process may use both transports

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self._queue_ids: dict[str, int] = {}
        self._wake_directory = wake_directory(self.connection.client.hostname)

    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        options = {k: v for k, v in conninfo.transport_options.items()
                   if k not in _NOT_ENGINE_OPTIONS}  # fmt: skip
        # Autocommit: this module begins its own transactions; a lone INSERT is one.
        connect_args = {"timeout": BUSY_TIMEOUT_MS / 1000, "isolation_level": None}
        engine = create_engine(conninfo.hostname, connect_args=connect_args, **options)
        event.listen(engine, "connect", _tune)
        return engine

    def _open(self) -> Any:
        hostname = self.connection.client.hostname
        with kombu_sqla._MUTEX:
            if hostname not in self._engines:
                engine = self._engine_from_config()
                _create_tables(engine)
                self._engines[hostname] = engine, sessionmaker(bind=engine)
        return self._engines[hostname]

    @contextlib.contextmanager
    def _raw(self, engine: Any = None) -> Iterator[sqlite3.Connection]:
        connection = (engine or self._open()[0]).raw_connection()
        try:
            yield connection.driver_connection
        finally:
            connection.close()  # back to the pool

    def _queue_id(self, queue: str) -> int:
        queue_id = self._queue_ids.get(queue)
        if queue_id is None:
            with self._raw() as conn:
                row = conn.execute(QUEUE_ID, (queue,)).fetchone()
                if row is None:
                    conn.execute("INSERT OR IGNORE INTO kombu_queue (name) VALUES (?)", (queue,))
                    row = conn.execute(QUEUE_ID, (queue,)).fetchone()
            queue_id = self._queue_ids[queue] = int(row[0])
        return queue_id

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        self._queue_id(queue)

    def _size(self, queue: str) -> int:
        with self._raw() as conn:
            (count,) = conn.execute(COUNT, (self._queue_id(queue),)).fetchone()
        return int(count)

    def _purge(self, queue: str) -> int:
        queue_id = self._queue_id(queue)
        with self._raw() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                (count,) = conn.execute(COUNT, (queue_id,)).fetchone()
                conn.execute("DELETE FROM kombu_message WHERE queue_id = ?", (queue_id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return int(count)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        queue_id = self._queue_id(queue)
        with self._raw() as conn:
            conn.execute(INSERT, (dumps(payload), queue_id))
        ring(self._wake_directory)

    def _get(self, queue: str) -> Any:
        queue_id = self._queue_id(queue)
        with self._raw() as conn:
            # A plain read first: an empty poll never takes the write lock.
            if conn.execute(PEEK, (queue_id,)).fetchone() is None:
                raise Empty()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(OLDEST, (queue_id,)).fetchone()
                if row is not None:
                    conn.execute("DELETE FROM kombu_message WHERE id = ?", (row[0],))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if row is None:  # another consumer took it
            raise Empty()
        return loads(row[1])


_NOT_ENGINE_OPTIONS = {"queue_tablename", "message_tablename", "callback", "errback",
                       "max_retries", "interval_start", "interval_step", "interval_max",
                       "retry_errors", "polling_interval"}  # fmt: skip


class Transport(kombu_sqla.Transport):  # type: ignore[misc]
    Channel = Channel
    polling_interval = SLOWEST
    connection_errors = (*kombu_sqla.Transport.connection_errors, sqlite3.OperationalError)

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._interval = FASTEST
        self._doorbell: Doorbell | None = None
        self._listening = False

    def wake(self) -> None:
        if self._doorbell is not None:
            self._doorbell.ring()

    def _sleep(self, seconds: float) -> bool:
        """Sleep until the doorbell rings or ``seconds`` passed; True if it rang."""
        if not self._listening:  # the first wait of a consuming process
            self._listening = True
            directory = wake_directory(self.client.hostname)
            if directory is not None:
                with contextlib.suppress(OSError):  # (then it polls)
                    self._doorbell = Doorbell(directory)
        if self._doorbell is None:
            sleep(seconds)
            return False
        return self._doorbell.wait(seconds)

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        started = monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
            except Empty:
                waited = monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise TimeoutError() from None
                pause = self._interval
                if timeout is not None:
                    pause = min(pause, timeout - waited)
                if self._sleep(pause):
                    self._interval = FASTEST
                else:
                    self._interval = min(self.polling_interval, self._interval * 2)
            else:
                self._interval = FASTEST
                return

    def close_connection(self, connection: Any) -> None:
        super().close_connection(connection)
        if self._doorbell is not None:
            self._doorbell.close()
            self._doorbell = None
        self._listening = False


TRANSPORT_ALIASES[ALIAS] = f"{__name__}:Transport"
