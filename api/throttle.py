"""The lockout of password guesses (NodeBB's ``loginAttempts`` and ``lockoutDuration``),
per uid and per client address: the password -> token route's ``password`` and the
password change's ``current`` count together.

Every attempt counts before its password is checked; past ``login_attempts`` attempts
for a uid (``login_attempts_per_address`` from one client address) within
``lockout_minutes``, the uid (the address) is answered 429 with ``Retry-After`` for
``lockout_minutes``. A right password takes its attempt back. The counts are shared by
every API process: in Redis when the broker is Redis, else in the forum database; keys
are namespaced by the database, so two forums may share one Redis."""

import hashlib
import math
import time
from typing import Protocol

import redis.asyncio as aioredis
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from forum import login_attempts
from forum.db import transaction
from forumq.settings import Settings

# KEYS: count, lock, count, lock, ...; ARGV: window_ms, lockout_ms, limit, limit, ...
_ATTEMPT = """
local longest = 0
for i = 2, #KEYS, 2 do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl > longest then longest = ttl end
end
if longest > 0 then return longest end
for i = 1, #KEYS, 2 do
  local n = redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
  if n > tonumber(ARGV[2 + (i + 1) / 2]) then
    redis.call('SET', KEYS[i + 1], '1', 'PX', ARGV[2])
    redis.call('DEL', KEYS[i])
    longest = tonumber(ARGV[2])
  end
end
return longest
"""
# KEYS: the count to clear, the count to decrement.
_TAKE_BACK = """
redis.call('DEL', KEYS[1])
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
if n > 0 then redis.call('DECR', KEYS[2]) end
"""


class AttemptStore(Protocol):
    async def attempt(self, limits: dict[str, int], window_ms: int, lockout_ms: int) -> int: ...

    async def take_back(self, cleared: str, decremented: str) -> None: ...

    async def close(self) -> None: ...


class RedisAttempts:
    def __init__(self, url: str, namespace: str) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
        self._prefix = f"forumq:login:{namespace}:"
        self._attempt = self._redis.register_script(_ATTEMPT)
        self._take_back = self._redis.register_script(_TAKE_BACK)

    async def attempt(self, limits: dict[str, int], window_ms: int, lockout_ms: int) -> int:
        keys = [f"{self._prefix}{kind}:{key}" for key in limits for kind in ("n", "lock")]
        return int(await self._attempt(keys, [window_ms, lockout_ms, *limits.values()]))

    async def take_back(self, cleared: str, decremented: str) -> None:
        await self._take_back([f"{self._prefix}n:{cleared}", f"{self._prefix}n:{decremented}"])

    async def close(self) -> None:
        await self._redis.aclose()


class DatabaseAttempts:
    def __init__(self, database_url: str) -> None:
        self._url = database_url

    async def attempt(self, limits: dict[str, int], window_ms: int, lockout_ms: int) -> int:
        def run() -> int:
            now = int(time.time() * 1000)
            with transaction(self._url) as session:
                return login_attempts.attempt(session, limits, window_ms, lockout_ms, now)

        return await run_in_threadpool(run)

    async def take_back(self, cleared: str, decremented: str) -> None:
        def run() -> None:
            with transaction(self._url) as session:
                login_attempts.take_back(session, cleared, decremented)

        await run_in_threadpool(run)

    async def close(self) -> None:
        return None


def store_for(settings: Settings) -> AttemptStore:
    if settings.broker_url.startswith(("redis://", "rediss://")):
        namespace = hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
        return RedisAttempts(settings.broker_url, namespace)
    return DatabaseAttempts(settings.database_url)


class LoginThrottle:
    def __init__(self, settings: Settings) -> None:
        self._store = store_for(settings)
        self._per_uid = settings.login_attempts
        self._per_address = settings.login_attempts_per_address
        self._lockout_ms = int(settings.lockout_minutes * 60_000)

    async def attempt(self, uid: int, address: str) -> None:
        """Count an attempt to log in as ``uid`` from ``address``, or refuse it (429)."""
        limits = {f"uid:{uid}": self._per_uid, f"addr:{address}": self._per_address}
        locked_ms = await self._store.attempt(limits, self._lockout_ms, self._lockout_ms)
        if locked_ms > 0:
            seconds = math.ceil(locked_ms / 1000)
            raise ApiError(429, "too-many-requests", params={"retry_after": seconds},
                           headers={"Retry-After": str(seconds)})  # fmt: skip

    async def succeeded(self, uid: int, address: str) -> None:
        await self._store.take_back(f"uid:{uid}", f"addr:{address}")

    async def close(self) -> None:
        await self._store.close()
