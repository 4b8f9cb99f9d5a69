"""A forumq worker for fault tests (``python -m tests.faults.poison_worker worker ...``,
the arguments of ``forumq worker``): applying a bulk chunk that holds the item whose
external id is ``$FORUMQ_TEST_POISON_ID`` kills the pool process (``os._exit``, like a
segfault or an OOM kill) when ``$FORUMQ_TEST_POISON`` is ``exit``, and raises when it
is ``raise``.

The fault strikes while the chunk is applied, as a real one would: a fault at
``task_prerun`` would also strike the delivery that counts the crash and splits the
chunk, which a real poison item never does."""

import os
from typing import Any

from celery.concurrency import asynpool

from forum import bulk
from forumq.cli import app
from workers import bulk as bulk_worker  # the task, and what it calls: forum.bulk
from workers.celery_app import celery_app

POISON_ID = os.environ["FORUMQ_TEST_POISON_ID"]
POISON = os.environ.get("FORUMQ_TEST_POISON", "exit")
_apply_items = bulk.apply_items


def apply_items(session: Any, actor_uid: int | None, items: Any, **options: Any) -> Any:
    if any(item.get("external_id") == POISON_ID for _, item in items):
        if POISON == "exit":
            os._exit(1)  # nothing after this runs: no rollback, no ack
        raise RuntimeError(f"the poison item {POISON_ID}")
    return _apply_items(session, actor_uid, items, **options)


# Set in the main process, before the pool forks its children.
assert bulk_worker.bulk is bulk
bulk.apply_items = apply_items
# How long Celery waits for a dead pool process's result before it declares the worker
# lost (10 s by default): every death of the test waits it out. A poisoned process
# exits before it sends any result.
celery_app.conf.worker_lost_wait = 0.25
# After that wait, the job is declared lost at the pool's next maintenance, which runs
# every 5 s: every death would wait for it too.
asynpool.AsynPool.timers = property(lambda pool: {pool.maintain_pool: 0.25})

if __name__ == "__main__":
    app()
