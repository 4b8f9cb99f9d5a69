"""A forumq worker for the shutdown test (``python -m tests.faults.slow_worker worker ...``,
the arguments of ``forumq worker``): a claim takes at most ``$FORUMQ_TEST_CLAIM_MAX_JOBS``
jobs and applies them ``$FORUMQ_TEST_APPLY_SECONDS`` slower, inside its transaction.

A task claims for up to ``workers.apply.LOOP_SECONDS``, so it then applies a bounded
number of jobs however fast the machine is: a small backlog is still queued when
SIGTERM lands, and the signal lands while a batch is in hand."""

import os
import time
from typing import Any

from forumq.cli import app
from workers import apply

CLAIM_MAX_JOBS = int(os.environ["FORUMQ_TEST_CLAIM_MAX_JOBS"])
APPLY_SECONDS = float(os.environ["FORUMQ_TEST_APPLY_SECONDS"])
_apply_in_order = apply.apply_in_order


def apply_in_order(*args: Any, **kwargs: Any) -> None:
    time.sleep(APPLY_SECONDS)  # the batch's rows are locked meanwhile
    _apply_in_order(*args, **kwargs)


# Set in the main process, before the pool forks its children.
apply.CLAIM_MAX_JOBS = CLAIM_MAX_JOBS
apply.apply_in_order = apply_in_order

if __name__ == "__main__":
    app()
