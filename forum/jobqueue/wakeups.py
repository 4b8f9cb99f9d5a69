"""At most one wake-up pending per queue on a Redis broker.

A ``forumq.apply_jobs`` message only wakes a worker: the worker claims the oldest queued
jobs, whichever requests stored them (``claims``). So the API publishes a group's
message only if no other wake-up is pending on the queue (``PENDING`` set, with its
message, in one atomic step); if one is, it pushes a kick instead (a list holding at
most one), which the worker holding the mark waits on. The worker that wakes leaves the
mark in place while its claims find jobs, and after a claim that found none it waits
for a kick a little while (``LINGER``, in ``workers.apply``): a request that follows
closely is claimed at once, with no message. Then it takes the mark away and claims
once more. A group stored while the mark is there is claimed by that worker: its rows
were committed before its kick, and before the mark was removed.
Under a backlog, thousands of requests then cost a few messages instead of one each.
The mark expires by itself (``TTL_SECONDS``), should its message be lost with a broker
restart; the sweeper publishes what such a loss leaves queued.
"""

import contextlib

import redis

TTL_SECONDS = 5
# KEYS: the mark, the queue, the kicks; ARGV: the message, the mark's TTL. 1 if the
# message was pushed, 0 if a kick was.
PUSH_IF_NONE_PENDING = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
redis.call('LPUSH', KEYS[3], '1')
redis.call('LTRIM', KEYS[3], 0, 0)
redis.call('EXPIRE', KEYS[3], ARGV[2])
return 0
"""


def pending_key(queue: str) -> str:
    return f"forumq.wakeup.{queue}"


def kick_key(queue: str) -> str:
    return f"forumq.wakeup.kick.{queue}"


class Wakeups:
    """The worker's end: takes a queue's mark away before its last claim."""

    def __init__(self, redis_url: str | None) -> None:
        self._client = redis.Redis.from_url(redis_url) if redis_url else None

    @property
    def marked(self) -> bool:
        """Do publishers leave a mark (a Redis broker)?"""
        return self._client is not None

    def taken(self, queue: str) -> None:
        if self._client is None:
            return
        # A broker that fails here: the mark expires by itself.
        with contextlib.suppress(redis.RedisError):
            self._client.delete(pending_key(queue), kick_key(queue))

    def kicked(self, queue: str, seconds: float) -> bool:
        """Wait up to ``seconds`` for a kick: True if a request stored jobs meanwhile
        (or earlier, since the last kick was taken)."""
        if self._client is None:
            return False
        try:
            return self._client.blpop([kick_key(queue)], timeout=seconds) is not None
        except redis.RedisError:
            return False

    def mark(self, queue: str) -> bool:
        """Set the queue's mark again, unless a publisher has (and pushed a wake-up):
        requests stored from now on publish nothing. True if this call set it."""
        if self._client is None:
            return False
        try:
            return bool(self._client.set(pending_key(queue), "1", nx=True, ex=TTL_SECONDS))
        except redis.RedisError:
            return False
