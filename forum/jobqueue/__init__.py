"""The job queue: everything about a job's state and its messages, in one package.

A write is a row before it is a message. The API stores job rows and publishes them
(``store``, ``async_store``, ``publishing``); workers claim, apply and finish them
(``store``, ``chunks`` for bulk jobs) and announce finished jobs (``notices``); the
sweeper re-publishes jobs whose message was lost (``sweep``). Tasks are named by string
(``tasks``), so a publisher needs no worker code: ``api/`` imports this package, never
``workers/``.

- ``store``: job rows: store / withdraw, read, lock, finish (one or many), expire.
- ``claims``: a worker's batch: the oldest queued jobs, in order per object.
- ``broker``: the embedded default's SQLite broker: WAL, reads before it claims, a doorbell.
- ``async_store``: storing groups of job rows from the API's event loop (PostgreSQL).
- ``chunks``: a bulk job's packed items, per-item results and progress.
- ``tasks``: task names, message arguments and the Celery app's configuration.
- ``publishing``: publishing task messages (Celery, or one Redis LPUSH each).
- ``notices``: the completion-notice protocol between workers and waiting requests.
- ``sweep``: re-publishing stale jobs and expiring old ones.
"""
