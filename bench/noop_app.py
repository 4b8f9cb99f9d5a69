"""The drain baseline: a bare Celery app with one no-op task, on the broker the benchmark
uses (``FORUMQ_BROKER_URL``), Celery's defaults otherwise (prefork, one process per core).

Publish: ``python -m bench.noop_app publish QUEUE COUNT``; drain: ``python -m bench.noop_app
worker QUEUE`` (prints ``ready.`` like any Celery worker).
"""

import os
import sys

from celery import Celery
from kombu import Exchange, Queue

app = Celery("noop", broker=os.environ["FORUMQ_BROKER_URL"])
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False)


@app.task(name="bench.noop")
def noop() -> None:
    return None


def _queue(name: str) -> Queue:
    return Queue(name, Exchange(name), routing_key=name)


def main(argv: list[str]) -> None:
    action, queue = argv[0], argv[1]
    app.conf.task_queues = [_queue(queue)]
    app.conf.task_default_queue = queue
    if action == "publish":
        with app.producer_or_acquire() as producer:
            for _ in range(int(argv[2])):
                noop.apply_async(queue=queue, producer=producer)
    else:
        app.worker_main(["worker", "--loglevel=INFO", f"--queues={queue}"])


if __name__ == "__main__":
    main(sys.argv[1:])
