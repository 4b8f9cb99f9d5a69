"""The embedded default's broker (``forum.jobqueue.broker``): publishes from several
processes never fail, while a worker polls or while they create the file together; a
publish wakes an idle consumer in another process at once, delivered messages leave the
file; and a finished job wakes the API that waits for it (its doorbell)."""

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

from api import waiter
from devstack import servers
from forum.jobqueue import broker
from forum.jobqueue.tasks import APPLY_JOBS, apply_jobs_args, make_celery
from forum.migrate import upgrade

PUBLISHERS = 4
MESSAGES = 100  # each


def _publish(broker_url: str, queue: str, count: int, go: str) -> None:
    """A publishing process (as the API's, the CLI's or a worker's re-publish): ``count``
    ``forumq.apply_jobs`` messages once ``go`` exists; prints what happened as JSON.
    Without Celery's publish retries: no try may fail."""
    app = make_celery(broker_url, queue, f"{queue}.bulk")
    Path(f"{go}.{os.getpid()}").touch()  # ready
    while not Path(go).exists():
        time.sleep(0.01)
    published, failures = 0, []
    for _ in range(count):
        try:
            app.send_task(APPLY_JOBS, args=apply_jobs_args([str(uuid.uuid4())]), queue=queue,
                          ignore_result=True, retry=False)  # fmt: skip
            published += 1
        except Exception as exc:
            failures.append(repr(exc))
    print(json.dumps({"published": published, "failures": failures[:5]}))


def _start_publishers(url: str, queue: str, count: int, go: Path) -> list[subprocess.Popen[bytes]]:
    """``PUBLISHERS`` processes running ``_publish``, each ready and waiting for ``go``."""
    args = (url, queue, count, str(go))
    code = f"from tests.test_embedded_broker import _publish; _publish(*{args!r})"
    publishers = [
        subprocess.Popen([sys.executable, "-c", code], cwd=servers.CHECKOUT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(PUBLISHERS)
    ]  # fmt: skip
    ready = lambda: len(list(go.parent.glob(f"{go.name}.*"))) == PUBLISHERS  # noqa: E731
    servers.wait_until(ready, 60, "the publishers")
    return publishers


def _reports(publishers: list[subprocess.Popen[bytes]], go: Path, timeout: float) -> list[Any]:
    """Start the publishers at once (``go``); what each printed."""
    go.touch()
    reports = []
    for process in publishers:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, err.decode()
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return reports


def _rows(path: Path, where: str = "") -> int:
    with sqlite3.connect(path, timeout=30) as conn:
        return int(conn.execute(f"SELECT count(*) FROM kombu_message {where}").fetchone()[0])


def test_publishes_from_several_processes_while_a_worker_polls(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'forumq.sqlite3'}"
    upgrade(database_url)
    broker_file = tmp_path / "broker.sqlite3"
    queue = f"forumq.test.{uuid.uuid4().hex[:8]}"
    env = {"FORUMQ_DATABASE_URL": database_url, "FORUMQ_BROKER_URL": f"sqla+sqlite:///{broker_file}",
           "FORUMQ_INTERACTIVE_QUEUE": queue, "FORUMQ_BULK_QUEUE": f"{queue}.bulk"}  # fmt: skip
    log = tmp_path / "worker.log"
    go = tmp_path / "go"
    with servers.running_worker(env, log, concurrency=1):
        publishers = _start_publishers(env["FORUMQ_BROKER_URL"], queue, MESSAGES, go)
        reports = _reports(publishers, go, timeout=120)
        assert reports == [{"published": MESSAGES, "failures": []}] * PUBLISHERS
        # Every message delivered once, and gone from the file.
        total = PUBLISHERS * MESSAGES
        done = "forumq.apply_jobs["
        servers.wait_until(lambda: log.read_text().count(done) >= 2 * total, 120, "every task")
        assert _rows(broker_file, "WHERE visible") == 0
    lines = log.read_text().splitlines()
    succeeded = [line for line in lines if done in line and "succeeded" in line]
    assert len(succeeded) == total
    assert "database is locked" not in log.read_text()


def test_processes_that_open_a_new_broker_file_together_all_publish(tmp_path: Path) -> None:
    """``forumq up`` starts the API and the worker on a broker file that does not exist
    yet: whichever creates kombu's tables, the others' first publishes succeed."""
    broker_file = tmp_path / "broker.sqlite3"
    url, queue, go = f"sqla+sqlite:///{broker_file}", "forumq.race", tmp_path / "go"
    publishers = _start_publishers(url, queue, 3, go)
    assert not broker_file.exists()
    reports = _reports(publishers, go, timeout=60)
    assert reports == [{"published": 3, "failures": []}] * PUBLISHERS
    assert _rows(broker_file) == 3 * PUBLISHERS


def _publish_once(url: str, go: str) -> None:
    """A publishing process: one message, stamped with the time it is sent, once ``go``
    exists (everything else is ready before: the moment of the publish is the test's)."""
    queue = Queue("wake", Exchange("wake"), routing_key="wake")
    with Connection(url) as connection:
        producer = connection.Producer()
        producer.declare()
        queue(connection.default_channel).declare()
        print("ready", flush=True)
        while not Path(go).exists():
            time.sleep(0.005)
        producer.publish({"sent": time.time()}, exchange=queue.exchange, routing_key="wake")


def test_a_publish_wakes_an_idle_consumer_in_another_process(tmp_path: Path) -> None:
    """An idle consumer's polls are seconds apart (5 ms, doubling, up to a minute here):
    only the doorbell brings the message within a second or two."""
    url = broker.broker_url(f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}")
    queue = Queue("wake", Exchange("wake"), routing_key="wake")
    wake_directory = tmp_path / "broker.sqlite3-wake"
    go = tmp_path / "go"
    received: list[float] = []
    with Connection(url, transport_options={"polling_interval": 60}) as connection:

        def take(body: dict[str, float], message: object) -> None:
            received.append(time.time() - body["sent"])
            message.ack()  # type: ignore[attr-defined]

        with connection.Consumer(queue, callbacks=[take]):

            def consume() -> None:
                # One long drain: its polls are not cut short by a timeout.
                while not received:
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=60)

            code = f"from tests.test_embedded_broker import _publish_once as p; p{(url, str(go))!r}"
            publisher = subprocess.Popen([sys.executable, "-c", code], cwd=servers.CHECKOUT,
                                         stdout=subprocess.PIPE)  # fmt: skip
            assert publisher.stdout is not None and publisher.stdout.readline() == b"ready\n"
            consumer = threading.Thread(target=consume, daemon=True)
            began = time.monotonic()
            consumer.start()
            servers.wait_until(lambda: any(wake_directory.iterdir()), 10, "the doorbell")
            # The consumer sleeps 5 ms, 10 ms, ... after each empty poll: 6 s after it
            # began, it is in a sleep from ~5.1 s to ~10.2 s.
            time.sleep(max(0.0, 6 - (time.monotonic() - began)))
            go.touch()
            assert publisher.wait(30) == 0
            consumer.join(30)
    assert received, "the message was not delivered"
    assert received[0] < 2, f"delivered {received[0]:.2f} s after it was published"
    assert _rows(tmp_path / "broker.sqlite3") == 0  # taken, not kept invisible
    assert list(wake_directory.iterdir()) == []  # the consumer removed its FIFO


def test_a_dead_consumers_doorbell_is_removed_by_the_next_publish(tmp_path: Path) -> None:
    directory = tmp_path / "broker.sqlite3-wake"
    code = ("import sys, time; from pathlib import Path; from forum.jobqueue import broker; "
            f"broker.Doorbell(Path({str(directory)!r})); print('ready', flush=True); "
            "time.sleep(60)")  # fmt: skip
    process = subprocess.Popen([sys.executable, "-c", code], cwd=servers.CHECKOUT,
                               stdout=subprocess.PIPE)  # fmt: skip
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(list(directory.iterdir())) == 1
    broker.ring(directory)
    assert list(directory.iterdir()) == []


def test_a_worker_rings_the_waiting_api_when_its_job_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Redis the API reads finished jobs from the database: at once when a worker
    (another process) rings, its timer being a minute here."""
    database_url = f"sqlite:///{tmp_path / 'forumq.sqlite3'}"
    upgrade(database_url)
    monkeypatch.setattr(waiter, "RUNG_POLL_INTERVAL", 60)
    job_id = uuid.uuid4().hex
    with sqlite3.connect(tmp_path / "forumq.sqlite3") as conn:
        conn.execute(
            "INSERT INTO jobs (id, kind, router, actor_uid, command, state, created_at, "
            "enqueued_at, attempts) VALUES (?, 'topics.reply', 'v3', 1, '{}', 'queued', 0, 0, 0)",
            (job_id,),
        )
    finish = (
        "import sqlite3, sys; from forum.jobqueue.notices import Notifier; "
        f"c = sqlite3.connect({str(tmp_path / 'forumq.sqlite3')!r}); "
        f"c.execute(\"UPDATE jobs SET state = 'succeeded' WHERE id = '{job_id}'\"); c.commit(); "
        f"Notifier(None, {database_url!r}).job_finished([{job_id!r}])"
    )

    async def scenario() -> float:
        waiting = waiter.Waiter(None, database_url)
        await waiting.start()
        try:
            expected = waiting.expect(job_id)
            await asyncio.sleep(0.5)  # past its first poll: the next is a minute away
            began = time.monotonic()
            await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", finish], cwd=servers.CHECKOUT, check=True
            )
            await waiting.wait(job_id, 30, expected)
            return time.monotonic() - began
        finally:
            await waiting.stop()

    took = asyncio.run(scenario())
    assert took < 10, f"the wait ended {took:.1f} s after the job finished"
    assert list((tmp_path / "forumq.sqlite3-done").iterdir()) == []  # the API removed its FIFO
