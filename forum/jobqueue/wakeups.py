"""At most one wake-up pending per queue on a Redis broker.

A ``forumq.apply_jobs`` message only wakes a worker: the worker claims the oldest queued
jobs, whichever requests stored them (``claims``). So the API publishes a group's
message only if no other wake-up is pending on the queue (``PENDING`` set, with its
message, in one atomic step). The worker that wakes leaves the mark in place while its
claims find jobs, and takes it away before its last claim. A group stored while the
mark is there is claimed by that worker: its rows were committed before it found the
mark, and the mark is removed before the last claim.
Under a backlog, thousands of requests then cost a few messages instead of one each.
The mark expires by itself (``TTL_SECONDS``), should its message be lost with a broker
restart; the sweeper publishes what such a loss leaves queued.
"""

import contextlib

import redis

TTL_SECONDS = 5
# KEYS: the mark, the queue; ARGV: the message, the mark's TTL. 1 if the message was pushed.
PUSH_IF_NONE_PENDING = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


def pending_key(queue: str) -> str:
    return f"forumq.wakeup.{queue}"


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
            self._client.delete(pending_key(queue))

    def mark(self, queue: str) -> bool:
        """Set the queue's mark again, unless a publisher has (and pushed a wake-up):
        requests stored from now on publish nothing. True if this call set it."""
        if self._client is None:
            return False
        try:
            return bool(self._client.set(pending_key(queue), "1", nx=True, ex=TTL_SECONDS))
        except redis.RedisError:
            return False
