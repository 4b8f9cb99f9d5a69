"""The embedded default's broker: kombu's SQLAlchemy transport (``sqla+sqlite://``),
polling its queues every few milliseconds while messages arrive and backing off to
``SLOWEST`` when idle.

kombu's transport sleeps a fixed ``polling_interval`` (1 s) after every empty poll, so
a write waited half a second on average before a worker saw it; a short fixed interval
would make an idle ``forumq up`` poll SQLite hundreds of times a second. Its transport
options go to ``create_engine``, so the interval cannot be set there either.
"""

from time import monotonic, sleep
from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqla
from kombu.transport.virtual import Empty

ALIAS = "forumq-sqla"
FASTEST = 0.02  # seconds between polls right after a message (at 2 ms the poll's
# BEGIN IMMEDIATE kept other processes from publishing: "database is locked")
SLOWEST = 0.1  # ... and once idle (the interval doubles after each empty poll)


class Transport(kombu_sqla.Transport):  # type: ignore[misc]
    polling_interval = FASTEST

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._interval = FASTEST

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
                sleep(pause)
                self._interval = min(SLOWEST, self._interval * 2)
            else:
                self._interval = FASTEST
                return


TRANSPORT_ALIASES[ALIAS] = f"{__name__}:Transport"


def broker_url(url: str) -> str:
    """``url`` with kombu's SQLAlchemy transport replaced by this one."""
    # Not used yet: with this transport, publishes from other processes met "database is
    # locked" (the poll's BEGIN IMMEDIATE) often enough to fail tests; kombu's own
    # transport (1 s polling) stays until that is solved.
    return url
