"""Maintenance mode: while it is on, only administrators write (every router).

The flag lives in ``forum_settings`` and is set through the queue by
``/api/v2/util/maintenance``; each API process re-reads it at most once per
``TTL_SECONDS``, so a switch reaches every process within about a second.
"""

import logging
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.auth import Principal
from api.errors import unavailable
from forum import settings_store
from forum.db import session_factory

log = logging.getLogger(__name__)
TTL_SECONDS = 1.0
RETRY_AFTER_SECONDS = 30
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class MaintenanceFlag:
    """A short-lived cached read of ``maintenanceMode``, one per API process."""

    def __init__(self, database_url: str) -> None:
        self._sessions = session_factory(database_url)
        self._value = False
        self._expires = 0.0

    def _read(self) -> bool:
        with self._sessions() as session:
            return settings_store.maintenance_mode(session)

    async def enabled(self) -> bool:
        if time.monotonic() >= self._expires:
            try:
                self._value = await run_in_threadpool(self._read)
            except Exception:  # the write itself will meet the database error; keep the last value
                log.exception("could not read maintenanceMode")
            self._expires = time.monotonic() + TTL_SECONDS
        return self._value

    def invalidate(self) -> None:
        """Forget the cached value (this process just switched the mode)."""
        self._expires = 0.0


def flag_of(request: Request) -> MaintenanceFlag:
    state = request.app.state
    flag = getattr(state, "maintenance", None)
    if flag is None:
        flag = state.maintenance = MaintenanceFlag(state.settings.database_url)
    return flag


async def refuse_writes(request: Request, principal: Principal) -> None:
    """503 in the router's envelope for a non-admin write while maintenance is on."""
    if principal.is_admin or request.method in READS:
        return
    if await flag_of(request).enabled():
        raise unavailable("maintenance-mode", RETRY_AFTER_SECONDS)
