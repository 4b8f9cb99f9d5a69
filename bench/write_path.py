"""Benchmark of the write path on the real stack, in one run (issue 3):

(a) accept rate of ``POST /api/v1/topics/{tid}`` with ``Prefer: respond-async`` against a
    bare Starlette JSON POST endpoint served the same way, same load generator (ratio);
(b) replies applied per second end to end with 1 and 2 worker processes;
(c) p50/p99 latency of a synchronous-wait reply (``Prefer: wait=10``) against calling
    ``forum.topics.reply`` directly in a transaction (overhead).

It starts everything itself: a fresh PostgreSQL database (dropped at the end), uvicorn
(``python -m forumq serve``), Celery workers (``python -m forumq worker``) on Redis with
a queue of its own, and the bare baseline (``python -m bench.bare_app``).

Run from the repository root: ``.venv/bin/python -m bench.write_path`` (add ``--profile``
for py-spy profiles; ``--duration 5 --replies 2000 --sync-requests 200`` for a quick run).
"""

import argparse
import asyncio
import json
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg
import redis

from bench import loadgen, profiling, stack
from bench.stack import CONTENT, Machine
from devstack import databases, servers
from devstack.databases import Seed

ACCEPT_TARGET = 0.5
OVERHEAD_TARGET_MS = {50: 5.0, 99: 50.0}


@dataclass
class Context:
    args: argparse.Namespace
    out: Path
    database_url: str
    seed: Seed
    env: dict[str, str]
    results: dict[str, Any] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.env["FORUMQ_INTERACTIVE_QUEUE"].rsplit(".", 1)[1]

    @property
    def database(self) -> str:
        return self.database_url.rsplit("/", 1)[1]

    def machine(self, server: int | None = None) -> Machine:
        return Machine(self.pids, self.args.pg_admin_url, self.database, server)

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(databases.pg_dsn(self.database_url), autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def reset_jobs(self) -> None:
        """Forget earlier phases' jobs and messages (no worker is running)."""
        databases.purge_queue(self.args.redis_url, self.run_id)
        self.sql("DELETE FROM jobs")

    def headers(self, prefer: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.seed.admin_token}", "Prefer": prefer}


def say(text: str) -> None:
    print(text, flush=True)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


# --- (a) accept rate ---------------------------------------------------------------


def accept_groups(api: str) -> tuple[float, float]:
    """(groups, jobs) the API has stored so far, from its ``forumq_accept_group_size``
    histogram (0, 0 when the metric is missing)."""
    text = httpx.get(f"{api}/metrics").text
    values = {}
    for line in text.splitlines():
        for name in ("forumq_accept_group_size_count", "forumq_accept_group_size_sum"):
            if line.startswith(name + " "):
                values[name] = float(line.split()[1])
    return (values.get("forumq_accept_group_size_count", 0.0),
            values.get("forumq_accept_group_size_sum", 0.0))  # fmt: skip


def accept_rate(ctx: Context, api: str, api_pid: int) -> None:
    args = ctx.args
    tid = ctx.seed.tids[0]
    body = {"content": CONTENT}
    headers = {**ctx.headers("respond-async"), "Content-Type": "application/json"}
    say(f"\n(a) accept rate, {args.connections} connections, {args.duration:g} s after "
        f"{args.warmup:g} s warm-up, no worker running")  # fmt: skip
    bare_log = ctx.out / "bare.log"
    with stack.http_server(["-m", "bench.bare_app"], ctx.env, bare_log) as (bare, bare_pid):
        ctx.pids.append(bare_pid)
        figures: dict[str, Any] = {}
        for name, base, pid in (("bare", bare, bare_pid), ("forumq", api, api_pid)):
            url = f"{base}/api/v1/topics/{tid}"
            loadgen.run_load(url, body, headers, args.warmup, args.connections, args.loadgen)
            groups_before = accept_groups(api)
            with ctx.machine(server=pid) as machine:
                load = loadgen.run_load(url, body, headers, args.duration, args.connections,
                                        args.loadgen)  # fmt: skip
            say(f"  {name:7} {load.describe()}\n          [{machine.describe()}]")
            if name == "forumq":
                groups, stored = (
                    b - a for a, b in zip(groups_before, accept_groups(api), strict=True)
                )
                if groups:
                    # One thread stores and publishes a group at a time: its cycle bounds
                    # the rate at (requests in flight) / (cycle time).
                    cycle_ms = 1000 * load.seconds / groups
                    say(f"          {groups:,.0f} groups stored+published, {stored / groups:.1f} "
                        f"jobs per group, one every {cycle_ms:.1f} ms")  # fmt: skip
                    figures["groups"] = {"count": groups, "mean_size": stored / groups,
                                         "cycle_ms": cycle_ms}  # fmt: skip
            figures[name] = {"load": load, "machine": machine.describe()}
        ctx.pids.remove(bare_pid)
    forumq, bare_load = figures["forumq"]["load"], figures["bare"]["load"]
    time.sleep(1)  # let the submitter store the last group
    stored = ctx.sql("SELECT count(*) FROM jobs")[0][0]
    unexpected = {s: n for s, n in forumq.statuses.items() if s != 202}
    ratio = forumq.rate / bare_load.rate if bare_load.rate else 0.0
    say(
        f"  ratio forumq/bare = {ratio:.2f} (target >= {ACCEPT_TARGET}); jobs stored {stored:,} "
        f"(>= 202s seen, warm-up included); non-202 answers: {unexpected or 'none'}"
    )
    say(f"  load generator: {forumq.command}")
    ctx.results["accept"] = {
        "bare_rps": bare_load.rate, "forumq_rps": forumq.rate, "ratio": ratio,
        "bare_latency_ms": bare_load.latency_ms, "forumq_latency_ms": forumq.latency_ms,
        "forumq_statuses": forumq.statuses, "jobs_stored": stored,
        "machine": {k: figures[k]["machine"] for k in ("bare", "forumq")},
        "groups": figures.get("groups"), "tool": forumq.command,
    }  # fmt: skip
    if args.profile:
        url, seconds = f"{api}/api/v1/topics/{tid}", args.profile_seconds
        raws = {mode: ctx.out / f"profile-api-{mode}.txt" for mode in ("gil", "wall")}
        spies = [profiling.record(api_pid, seconds, raw, mode=mode) for mode, raw in raws.items()]
        loadgen.run_load(url, body, headers, seconds, args.connections, args.loadgen)
        for spy in spies:
            if spy:
                spy.wait()
        cpu = profiling.summarise(raws["gil"], seconds)
        wall = profiling.summarise(raws["wall"], seconds, focus="_store_and_publish")
        say(f"\n  profile of the API process under accept load, CPU ({raws['gil']}):\n{cpu}")
        say(f"\n  same load, wall time of the submitter thread ({raws['wall']}):\n{wall}")
        ctx.results["profile_api"] = {"cpu": cpu, "wall": wall}
        if "groups" in figures:
            size = max(1, round(figures["groups"]["mean_size"]))
            alone = store_ceiling(ctx, size)
            say(
                f"\n  the job store alone (insert_jobs, groups of {size}, one thread, outside the "
                f"API): {alone['group_ms']:.1f} ms per group = {alone['jobs_per_s']:,.0f} jobs/s, "
                f"vs one group every {figures['groups']['cycle_ms']:.1f} ms in the API"
            )
            ctx.results["store_alone"] = alone
    ctx.reset_jobs()


def store_ceiling(ctx: Context, group_size: int, seconds: float = 3.0) -> dict[str, float]:
    """The job store alone: ``forum.jobqueue.store.insert_jobs`` of groups like the API's
    (copies of a stored job row), one transaction per group, from one thread of this
    process. Compared with the API's group cycle, it separates the database's cost from
    the API process's."""
    from forum.db import transaction
    from forum.jobqueue import store

    columns = ("kind", "router", "actor_uid", "command", "state", "request_hash", "created_at",
               "enqueued_at", "ordering_key", "attempts")  # fmt: skip
    with psycopg.connect(databases.pg_dsn(ctx.database_url)) as conn:
        row = conn.execute(f"SELECT {', '.join(columns)} FROM jobs LIMIT 1").fetchone()
    template = dict(zip(columns, row or (), strict=True))
    groups, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        rows = [{**template, "id": uuid.uuid4().hex} for _ in range(group_size)]
        with transaction(ctx.database_url) as session:
            store.insert_jobs(session, rows)
        groups += 1
    elapsed = time.perf_counter() - began
    return {"group_ms": 1000 * elapsed / groups, "jobs_per_s": groups * group_size / elapsed}


# --- (b) replies applied per second -------------------------------------------------


def wait_finished(ctx: Context, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    finished = 0
    while time.monotonic() < deadline:
        finished = ctx.sql("SELECT count(*) FROM jobs WHERE state IN ('succeeded', 'failed')")[0][0]
        if finished >= expected:
            break
        time.sleep(0.05)
    return finished


def enqueue(ctx: Context, api: str, count: int) -> tuple[dict[int, int], float]:
    urls = [f"{api}/api/v1/topics/{tid}" for tid in ctx.seed.tids]
    headers = ctx.headers("respond-async")
    return asyncio.run(
        loadgen.post_many(urls, {"content": CONTENT}, headers, count, ctx.args.connections)
    )


def warm_up_worker(ctx: Context, api: str, workers: int) -> None:
    """A few replies first, so the pool's processes have imported and connected."""
    statuses, _ = enqueue(ctx, api, 10 * workers)
    wait_finished(ctx, statuses.get(202, 0), ctx.args.drain_timeout)
    ctx.sql("DELETE FROM jobs")


def pace(finished_at: list[int], part: float = 0.2) -> tuple[float, float]:
    """Jobs per second over the first and the last ``part`` of the jobs, in finishing order:
    a falling rate means each job costs more as jobs accumulate."""
    stamps = sorted(finished_at)
    size = max(2, int(len(stamps) * part))
    if len(stamps) < 2 * size:
        return float("nan"), float("nan")

    def rate(window: list[int]) -> float:
        return 1000 * (len(window) - 1) / max(1, window[-1] - window[0])

    return rate(stamps[:size]), rate(stamps[-size:])


def applied_rate(ctx: Context, api: str, workers: int) -> None:
    count = ctx.args.replies
    worker_log = ctx.out / f"worker-{workers}.log"
    tids = ctx.seed.tids
    with stack.celery_worker(ctx.env, worker_log, workers, ctx.args.worker_pool) as worker_pid:
        ctx.pids.append(worker_pid)
        warm_up_worker(ctx, api, workers)
        posts_before = ctx.sql("SELECT count(*) FROM posts WHERE tid = ANY(%s)", tids)[0][0]
        with ctx.machine() as machine:
            began = time.perf_counter()
            statuses, enqueue_seconds = enqueue(ctx, api, count)
            accepted = statuses.get(202, 0)
            finished = wait_finished(ctx, accepted, ctx.args.drain_timeout)
            elapsed = time.perf_counter() - began
        ctx.pids.remove(worker_pid)
    failed, first_start, last_finish = ctx.sql(
        "SELECT count(*) FILTER (WHERE state = 'failed'), min(started_at), max(finished_at) "
        "FROM jobs"
    )[0]
    posts_after = ctx.sql("SELECT count(*) FROM posts WHERE tid = ANY(%s)", tids)[0][0]
    first, last = pace([row[0] for row in ctx.sql("SELECT finished_at FROM jobs")])
    window = ((last_finish or 0) - (first_start or 0)) / 1000 or float("nan")
    rate = finished / elapsed
    say(f"  {workers} worker process(es): {rate:,.0f} replies/s end to end ({finished:,} of "
        f"{count:,} finished in {elapsed:.1f} s; enqueued in {enqueue_seconds:.1f} s = "
        f"{accepted / enqueue_seconds:,.0f}/s; worker window {finished / window:,.0f}/s); "
        f"failed {failed}, posts +{posts_after - posts_before:,}, answers {statuses}; "
        f"pace first/last 20% of jobs {first:,.0f}/s -> {last:,.0f}/s\n"
        f"          [{machine.describe()}]")  # fmt: skip
    ok = failed == 0 and finished == count and posts_after - posts_before == count
    if not ok:
        say("  !! not every reply was applied exactly once: see the worker log " + str(worker_log))
    ctx.results.setdefault("applied", {})[workers] = {
        "rate": rate, "finished": finished, "failed": failed, "seconds": elapsed,
        "enqueue_rate": accepted / enqueue_seconds, "worker_window_rate": finished / window,
        "posts_added": posts_after - posts_before, "ok": ok, "machine": machine.describe(),
        "pace_first_last": (first, last),
    }  # fmt: skip
    ctx.reset_jobs()


def profile_workers(ctx: Context, api: str) -> None:
    """A 1-process worker draining replies: where its CPU goes (GIL samples of the pool
    process) and where a task's wall time goes (all samples inside the task)."""
    seconds = ctx.args.profile_seconds
    with stack.celery_worker(
        ctx.env, ctx.out / "worker-profile.log", 1, ctx.args.worker_pool
    ) as worker_pid:
        warm_up_worker(ctx, api, 1)
        raws = {mode: ctx.out / f"profile-worker-{mode}.txt" for mode in ("gil", "wall")}
        spies = [profiling.record(worker_pid, seconds, raw, True, mode=mode)
                 for mode, raw in raws.items()]  # fmt: skip
        # Enough backlog to keep the worker busy while sampling; the rest is purged after.
        enqueue(ctx, api, ctx.args.replies)
        for spy in spies:
            if spy:
                spy.wait()
    cpu = profiling.summarise(raws["gil"], seconds)
    wall = profiling.summarise(raws["wall"], seconds, focus="apply_jobs")
    say(f"\n  profile of a 1-process worker draining replies, CPU ({raws['gil']}):\n{cpu}")
    say(f"\n  same worker, wall time inside the task ({raws['wall']}):\n{wall}")
    ctx.results["profile_worker"] = {"cpu": cpu, "wall": wall}
    ctx.reset_jobs()


# --- (c) synchronous-wait latency ----------------------------------------------------


def sync_latency(ctx: Context, api: str) -> None:
    from forum.db import transaction
    from forum.topics import reply

    n, seed = ctx.args.sync_requests, ctx.seed
    tid = seed.tids[0]
    pool = ctx.args.worker_pool
    say(
        f"\n(c) synchronous reply latency, {n} sequential requests (Prefer: wait=10) against "
        f"forum.topics.reply in a transaction, interleaved; 1 worker process, {pool} pool"
    )

    def direct() -> float:
        began = time.perf_counter()
        with transaction(ctx.database_url) as session:
            reply(session, seed.admin_uid, tid, CONTENT)
        return time.perf_counter() - began

    bare_log = ctx.out / "bare-sync.log"
    with (
        stack.celery_worker(
            ctx.env, ctx.out / "worker-sync.log", 1, ctx.args.worker_pool
        ) as worker_pid,
        stack.http_server(["-m", "bench.bare_app"], ctx.env, bare_log) as (bare, bare_pid),
        httpx.Client(headers=ctx.headers("wait=10"), timeout=30) as client,
    ):
        ctx.pids.extend([worker_pid, bare_pid])
        url, bare_url = f"{api}/api/v1/topics/{tid}", f"{bare}/api/v1/topics/{tid}"
        for _ in range(20):  # warm-up: connections, caches, worker
            client.post(url, json={"content": CONTENT})
            client.post(bare_url, json={"content": CONTENT})
            direct()
        ctx.sql("DELETE FROM jobs")
        http, floor, domain, stamps, statuses = [], [], [], [], {}
        with ctx.machine() as machine:
            for _ in range(n):
                sent = time.time()
                began = time.perf_counter()
                response = client.post(url, json={"content": CONTENT})
                http.append(time.perf_counter() - began)
                stamps.append((sent, time.time()))
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                began = time.perf_counter()
                client.post(bare_url, json={"content": CONTENT})
                floor.append(time.perf_counter() - began)
                domain.append(direct())
        ctx.pids.remove(worker_pid)
        ctx.pids.remove(bare_pid)
    rows = ctx.sql(
        "SELECT created_at, started_at, finished_at, state FROM jobs ORDER BY created_at"
    )

    def ms(values: list[float], pct: float) -> float:
        return 1000 * percentile(values, pct)

    figures: dict[str, Any] = {"statuses": statuses, "machine": machine.describe()}
    for pct in (50, 99):
        overhead = ms(http, pct) - ms(domain, pct)
        figures[f"p{pct}"] = {"http_ms": ms(http, pct), "direct_ms": ms(domain, pct),
                              "overhead_ms": overhead, "bare_http_ms": ms(floor, pct)}  # fmt: skip
        say(f"  p{pct}: sync reply {ms(http, pct):6.1f} ms, direct {ms(domain, pct):5.1f} ms, "
            f"overhead {overhead:5.1f} ms (target < {OVERHEAD_TARGET_MS[pct]:g}); "
            f"bare endpoint round trip {ms(floor, pct):4.1f} ms")  # fmt: skip
    say(
        f"  answers {statuses}; mean sync {1000 * statistics.mean(http):.1f} ms, "
        f"mean direct {1000 * statistics.mean(domain):.1f} ms\n          [{machine.describe()}]"
    )
    if len(rows) == n:
        # Where a synchronous reply spends its time (ms timestamps: medians are indicative).
        # created_at is stamped when the API has built the job, before it is stored.
        names = ("client -> job built (API)", "built -> worker started",
                 "worker: apply + commit", "finished -> client has answer")  # fmt: skip
        stages: dict[str, list[float]] = {name: [] for name in names}
        for (sent, received), (created, started, finished, _state) in zip(
            stamps, rows, strict=True
        ):
            values = [sent * 1000, created, started, finished, received * 1000]
            for name, a, b in zip(stages, values, values[1:], strict=False):
                stages[name].append(b - a)
        say("  where the time goes (from the jobs table's ms timestamps):")
        for name, values in stages.items():
            p50, p99 = percentile(values, 50), percentile(values, 99)
            say(f"    {name:30} p50 {p50:5.1f} ms  p99 {p99:6.1f} ms")
        figures["stages_ms"] = {k: {"p50": percentile(v, 50), "p99": percentile(v, 99)}
                                for k, v in stages.items()}  # fmt: skip
    ctx.results["sync"] = figures


# --- single writes at queue speed (issue 14) ------------------------------------------
#
# Targets: drain >= 2x the bare-Celery no-op rate, for one topic and for a spread mix;
# sync reply p50 <= 10 ms, p99 <= 25 ms; 8 sync clients >= 600 replies/s; embedded sync
# p50 <= 50 ms, drain >= 100/s, idle < 2% of a core; CPU <= 2 ms per write, all processes.
SPEED_TARGETS = {"drain_vs_noop": 2.0, "sync_p50_ms": 10.0, "sync_p99_ms": 25.0,
                 "sync8_rps": 600.0, "embedded_p50_ms": 50.0, "embedded_drain": 100.0,
                 "embedded_idle_pct": 2.0, "cpu_ms_per_write": 2.0}  # fmt: skip
Request = tuple[str, dict[str, object]]
Call = tuple[str, str, dict[str, object]]  # method, url, body
DEFAULT_WORKER = ["-m", "forumq", "worker"]  # its defaults: prefork, a process per core


def cpu_text(per_write: dict[str, float]) -> str:
    parts = ", ".join(f"{role} {ms:.2f}" for role, ms in per_write.items())
    return f"CPU ms per write: {parts}; total {sum(per_write.values()):.2f}"


async def _post_all(requests: list[Request] | list[Call], headers: dict[str, str],
                    connections: int) -> tuple[dict[int, int], float]:  # fmt: skip
    """Send ``requests`` (POSTs, or ``Call``: any method), ``connections`` at a time."""
    statuses: dict[int, int] = {}
    remaining = iter(requests)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:

        async def one_connection() -> None:
            for request in remaining:
                method, url, body = request if len(request) == 3 else ("POST", *request)
                response = await client.request(method, url, json=body)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        return statuses, time.perf_counter() - began


def noop_drain(ctx: Context) -> None:
    """A bare Celery app (``bench.noop_app``, Celery's defaults) draining pre-queued no-op
    tasks: the per-message floor of the broker and machine."""
    n = ctx.args.noop_tasks
    queue = f"forumq.bench.noop.{ctx.run_id}"
    env = {**ctx.env, "FORUMQ_BROKER_URL": ctx.args.redis_url}
    log = ctx.out / "noop.log"
    say(f"\n(noop) bare Celery app draining {n:,} pre-queued no-op tasks (Celery defaults)")
    servers.start(["-m", "bench.noop_app", "publish", queue, str(n)], env, log).wait()
    client = redis.Redis.from_url(ctx.args.redis_url)
    argv = ["-m", "bench.noop_app", "worker", queue]
    with stack.started(argv, env, log):
        deadline = time.monotonic() + ctx.args.drain_timeout
        while client.llen(queue) >= n and time.monotonic() < deadline:
            time.sleep(0.005)
        began = time.perf_counter()
        while client.llen(queue) > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        seconds = time.perf_counter() - began
    rate = n / seconds
    say(f"  {rate:,.0f} tasks/s ({n:,} in {seconds:.2f} s)")
    ctx.results["noop"] = {"rate": rate, "tasks": n}
    databases.purge_queue(ctx.args.redis_url, queue)


def mixed_requests(ctx: Context, api: str, count: int, spread: bool) -> list[Request]:
    """Replies into the first topic, or (``spread``) one topic create in five and replies
    round-robin over every seeded topic."""
    tids = ctx.seed.tids if spread else ctx.seed.tids[:1]
    requests: list[Request] = []
    for i in range(count):
        if spread and i % 5 == 0:
            body = {"cid": ctx.seed.cid, "title": f"Bench topic {i}", "content": CONTENT}
            requests.append((f"{api}/api/v1/topics", body))
        else:
            requests.append((f"{api}/api/v1/topics/{tids[i % len(tids)]}", {"content": CONTENT}))
    return requests


def action_requests(ctx: Context, api: str, count: int) -> list[Call]:
    """Edits, votes, bookmarks, follows and tag changes on the seeded topics' main posts,
    by 50 members (the master token's ``_uid``): in ten, four votes (up and down, the
    same post by many users, a user's vote changed), two bookmarks, two edits (by the
    administrator, who wrote the posts), a follow and a tag change."""
    from forum.db import transaction
    from forum.users import create_user

    with transaction(ctx.database_url) as session:
        users = [create_user(session, None, f"m{ctx.run_id}{i}").uid for i in range(50)]
    mains = ctx.sql("SELECT tid, main_pid FROM topics WHERE tid = ANY(%s) ORDER BY tid",
                    ctx.seed.tids)  # fmt: skip
    admin, calls, marks = ctx.seed.admin_uid, [], 0
    for i in range(count):
        uid, (tid, pid) = users[i % len(users)], mains[i * 7 % len(mains)]
        step = i % 10
        if step < 4:
            body: dict[str, object] = {"delta": 1 if i % 3 else -1, "_uid": uid}
            calls.append(("POST", f"{api}/api/v1/posts/{pid}/vote", body))
        elif step < 6:  # every (user, post) pair once: none is refused as a repeat
            uid, pid = users[marks % len(users)], mains[marks // len(users) % len(mains)][1]
            marks += 1
            calls.append(("POST", f"{api}/api/v2/posts/{pid}/bookmark", {"_uid": uid}))
        elif step < 8:
            calls.append(("PUT", f"{api}/api/v1/posts/{pid}",
                          {"content": f"{CONTENT} edit {i}", "_uid": admin}))  # fmt: skip
        elif step == 8:
            calls.append(("POST", f"{api}/api/v1/topics/{tid}/follow", {"_uid": uid}))
        else:
            body = {"tags": [f"tag{i % 7}", "bench"], "_uid": admin}
            calls.append(("POST", f"{api}/api/v1/topics/{tid}/tags", body))
    return calls


def drain(ctx: Context, api: str, api_pid: int, spread: bool, *, actions: bool = False) -> None:
    """Writes queued with no worker running, then one ``forumq worker`` with its defaults.
    ``actions``: a mix of edits, votes, bookmarks, follows and tag changes instead."""
    ctx.reset_jobs()
    n = ctx.args.drain_writes
    name = "actions" if actions else "spread" if spread else "one-topic"
    what = (f"topic creates + replies over {len(ctx.seed.tids)} topics" if spread
            else "replies into one topic")  # fmt: skip
    requests: list[Request] | list[Call] = mixed_requests(ctx, api, n, spread)
    headers = ctx.headers("respond-async")
    if actions:
        what = f"edits, votes, bookmarks, follows and tag changes on {len(ctx.seed.tids)} topics"
        requests = action_requests(ctx, api, n)
        headers["Authorization"] = f"Bearer {ctx.seed.master_token}"
    say(f"\n(drain, {name}) {n:,} {what} queued (respond-async, {ctx.args.connections} "
        "in flight, no worker), then one `forumq worker` with its defaults")  # fmt: skip
    with stack.RoleCPU({"api": [api_pid]}, ctx.args.pg_admin_url, ctx.database) as accept_cpu:
        statuses, seconds = asyncio.run(_post_all(requests, headers, ctx.args.connections))
    accepted = statuses.get(202, 0)
    say(f"  accepted {accepted:,} in {seconds:.1f} s = {accepted / seconds:,.0f}/s, answers "
        f"{statuses}; {cpu_text(accept_cpu.per(accepted))}")  # fmt: skip
    log = ctx.out / f"worker-drain-{name}.log"
    with stack.started(DEFAULT_WORKER, ctx.env, log) as worker_pid:
        roles = {"api": [api_pid], "worker": [worker_pid]}
        with stack.RoleCPU(roles, ctx.args.pg_admin_url, ctx.database) as drain_cpu:
            finished = wait_finished(ctx, accepted, ctx.args.drain_timeout)
    failed, first_start, last_finish = ctx.sql(
        "SELECT count(*) FILTER (WHERE state = 'failed'), min(started_at), max(finished_at) "
        "FROM jobs"
    )[0]
    window = max(1, (last_finish or 0) - (first_start or 0)) / 1000
    rate = finished / window
    per_write = drain_cpu.per(finished)
    # The API's share is its accept work; the rest is what applying costs.
    total = {role: accept_cpu.per(accepted).get(role, 0) + per_write.get(role, 0)
             for role in ("api", "worker", "postgres", "redis")}  # fmt: skip
    noop = ctx.results.get("noop", {}).get("rate")
    versus = f", {rate / noop:.2f}x the no-op drain" if noop else ""
    say(
        f"  drained {finished:,} (failed {failed}) in {window:.2f} s = {rate:,.0f} writes/s"
        f"{versus}; {cpu_text(per_write)}\n  accept + drain together: {cpu_text(total)}"
    )
    ctx.results.setdefault("drain", {})[name] = {
        "accepted": accepted, "accept_rate": accepted / seconds, "finished": finished,
        "failed": failed, "rate": rate, "vs_noop": rate / noop if noop else None,
        "cpu_ms_per_write": total, "cpu_drain_ms_per_write": per_write,
    }  # fmt: skip
    ctx.reset_jobs()


def sync_clients(ctx: Context, api: str, api_pid: int) -> None:
    """Replies into one topic with the default wait (no Prefer header): one client in
    sequence (p50/p99), then 8 clients at once (replies/s); one `forumq worker`."""
    n, seconds = ctx.args.sync_requests, ctx.args.sync_seconds
    url = f"{api}/api/v1/topics/{ctx.seed.tids[0]}"
    headers = {"Authorization": f"Bearer {ctx.seed.admin_token}"}
    say(f"\n(sync) replies with the default wait: 1 client x {n}, then 8 clients x {seconds:g} s")
    with (
        stack.started(DEFAULT_WORKER, ctx.env, ctx.out / "worker-sync1.log") as worker_pid,
        httpx.Client(headers=headers, timeout=30) as client,
    ):
        for _ in range(20):
            client.post(url, json={"content": CONTENT})
        latencies, statuses = [], {}
        for _ in range(n):
            began = time.perf_counter()
            status = client.post(url, json={"content": CONTENT}).status_code
            latencies.append(1000 * (time.perf_counter() - began))
            statuses[status] = statuses.get(status, 0) + 1
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        say(
            f"  1 client: p50 {p50:.1f} ms, p99 {p99:.1f} ms (targets <= "
            f"{SPEED_TARGETS['sync_p50_ms']:g} / {SPEED_TARGETS['sync_p99_ms']:g}); {statuses}"
        )
        roles = {"api": [api_pid], "worker": [worker_pid]}
        with stack.RoleCPU(roles, ctx.args.pg_admin_url, ctx.database) as cpu:
            many = loadgen.run_load(url, {"content": CONTENT}, headers, seconds, 8, "httpx")
    ok = many.statuses.get(200, 0)
    say(
        f"  8 clients: {ok / many.seconds:,.0f} replies/s answered 200 (target >= "
        f"{SPEED_TARGETS['sync8_rps']:g}); {many.describe()}; {cpu_text(cpu.per(ok))}"
    )
    ctx.results["sync_clients"] = {"p50_ms": p50, "p99_ms": p99, "statuses": statuses,
                                   "eight_rps": ok / many.seconds,
                                   "eight_cpu_ms_per_write": cpu.per(ok)}  # fmt: skip
    ctx.reset_jobs()


# Longer than the embedded broker's slowest poll (forum.jobqueue.broker.SLOWEST): a
# write after this pause finds the worker asleep.
EMBEDDED_IDLE_PAUSE = 1.0


def embedded(ctx: Context) -> None:
    """The embedded default as the README runs it (``forumq up``, nothing configured):
    idle CPU, sync reply p50; then its API alone with writes queued and one worker as
    ``up`` starts it (``--concurrency=1``) draining them."""
    home = Path(tempfile.mkdtemp(prefix="forumq-embedded-", dir=ctx.out))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUMQ_")}
    env["PYTHONPATH"] = str(servers.CHECKOUT)
    port = servers.free_port()
    base = f"http://127.0.0.1:{port}"
    say(f"\n(embedded) `forumq up` in {home}")
    out = (home / "up.out").open("wb")
    up = subprocess.Popen([sys.executable, "-m", "forumq", "up", "--port", str(port)], cwd=home,
                          env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        servers.wait_until(lambda: httpx.get(f"{base}/api/health").status_code == 200, 90, "up")
        token = next(line for line in (home / "up.out").read_text().splitlines()
                     if len(line) == 36 and line.count("-") == 4)  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(headers=headers, timeout=30) as client:
            category = {"_uid": 1, "name": "Bench"}
            cid = client.post(f"{base}/api/v1/categories", json=category).json()["payload"]["cid"]
            topic = {"_uid": 1, "cid": cid, "title": "Bench topic", "content": CONTENT}
            created = client.post(f"{base}/api/v1/topics", json=topic).json()["payload"]
            tid = created.get("tid") or created["topicData"]["tid"]
            url = f"{base}/api/v1/topics/{tid}"
            for _ in range(5):
                client.post(url, json={"_uid": 1, "content": CONTENT})
            time.sleep(3)
            idle_seconds = ctx.args.idle_seconds
            with stack.RoleCPU({"up": [up.pid]}) as idle:
                time.sleep(idle_seconds)
            idle_pct = 100 * idle.ms["up"] / 1000 / idle_seconds

            def sync_replies(count: int, pause: float) -> list[float]:
                latencies = []
                for _ in range(count):
                    time.sleep(pause)
                    began = time.perf_counter()
                    answer = client.post(url, json={"_uid": 1, "content": CONTENT})
                    latencies.append(1000 * (time.perf_counter() - began))
                    assert answer.status_code == 200, answer.text
                return latencies

            # The common case first: each write finds the stack idle (the broker's
            # consumer polling at its slowest), then writes back to back.
            alone = sync_replies(ctx.args.embedded_sync_idle, EMBEDDED_IDLE_PAUSE)
            in_a_row = sync_replies(ctx.args.embedded_sync, 0)
        p50, p99 = percentile(alone, 50), percentile(alone, 99)
        row_p50, row_p99 = percentile(in_a_row, 50), percentile(in_a_row, 99)
        say(f"  idle: {idle_pct:.2f}% of a core over {idle_seconds:g} s (target < "
            f"{SPEED_TARGETS['embedded_idle_pct']:g}%)\n"
            f"  sync reply on an idle stack ({len(alone)}, {EMBEDDED_IDLE_PAUSE:g} s apart): "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p50 <= "
            f"{SPEED_TARGETS['embedded_p50_ms']:g}); back to back ({len(in_a_row)}): "
            f"p50 {row_p50:.1f} ms, p99 {row_p99:.1f} ms")  # fmt: skip
    finally:
        up.send_signal(2)
        try:
            up.wait(40)
        except subprocess.TimeoutExpired:
            up.kill()
        out.close()
    n = ctx.args.embedded_drain
    log = home / "serve.log"
    api = servers.start(["-m", "forumq", "serve", "--port", str(port)], env, log)
    try:
        servers.wait_until(lambda: httpx.get(f"{base}/api/health").status_code == 200, 60, "API")
        database = home / "forumq.sqlite3"

        def sqlite(query: str, *params: object) -> tuple[Any, ...]:
            with sqlite3.connect(database, timeout=30) as conn:
                return conn.execute(query, params).fetchone()

        base_seq = sqlite("SELECT max(seq) FROM jobs")[0]
        requests = [(url, {"_uid": 1, "content": CONTENT})] * n
        statuses, _ = asyncio.run(_post_all(requests, {**headers, "Prefer": "respond-async"}, 8))
        accepted = statuses.get(202, 0)
        finished = "SELECT count(*) FROM jobs WHERE seq > ? AND state IN ('succeeded', 'failed')"
        worker_argv = ["-m", "forumq", "worker", "--concurrency=1"]
        with stack.started(worker_argv, env, home / "worker.log"):
            deadline = time.monotonic() + ctx.args.drain_timeout
            while sqlite(finished, base_seq)[0] < accepted and time.monotonic() < deadline:
                time.sleep(0.1)
        done, first, last = sqlite(
            "SELECT count(*), min(started_at), max(finished_at) FROM jobs "
            "WHERE seq > ? AND finished_at IS NOT NULL",
            base_seq,
        )
        rate = done / max(0.001, ((last or 0) - (first or 0)) / 1000)
        say(f"  drain: {done:,} of {accepted:,} queued replies applied at {rate:,.0f}/s (target >= "
            f"{SPEED_TARGETS['embedded_drain']:g}); answers {statuses}")  # fmt: skip
    finally:
        servers.stop(api)
    ctx.results["embedded"] = {"idle_pct": idle_pct, "sync_p50_ms": p50, "sync_p99_ms": p99,
                               "sync_in_a_row_p50_ms": row_p50,
                               "drain_rate": rate, "accepted": accepted}  # fmt: skip


def speed_summary(ctx: Context) -> None:
    r = ctx.results
    rows = []
    if "noop" in r:
        rows.append(("bare Celery no-op drain", f"{r['noop']['rate']:,.0f} tasks/s", ""))
    for name, d in r.get("drain", {}).items():
        rows.append((f"accept rate ({name})", f"{d['accept_rate']:,.0f}/s", ""))
        vs = f" ({d['vs_noop']:.2f}x no-op)" if d["vs_noop"] else ""
        rows.append((f"drain, {name}", f"{d['rate']:,.0f} writes/s{vs}", ">= 2x no-op"))
        total = sum(d["cpu_ms_per_write"].values())
        parts = ", ".join(f"{k} {v:.2f}" for k, v in d["cpu_ms_per_write"].items())
        rows.append((f"CPU ms/write, {name}", f"{total:.2f} ({parts})", "<= 2"))
    if "sync_clients" in r:
        s = r["sync_clients"]
        rows.append(("sync reply, 1 client", f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms",
                     "<= 10 / 25 ms"))  # fmt: skip
        rows.append(("sync replies, 8 clients", f"{s['eight_rps']:,.0f}/s", ">= 600/s"))
    if "embedded" in r:
        e = r["embedded"]
        rows.append(("embedded sync, idle stack", f"p50 {e['sync_p50_ms']:.1f} ms",
                     "<= 50 ms"))  # fmt: skip
        rows.append(("embedded sync, back to back",
                     f"p50 {e['sync_in_a_row_p50_ms']:.1f} ms", ""))  # fmt: skip
        rows.append(("embedded drain", f"{e['drain_rate']:,.0f} writes/s", ">= 100/s"))
        rows.append(("embedded idle CPU", f"{e['idle_pct']:.2f}% of a core", "< 2%"))
    for figure, value, target in rows:
        say(f"{figure:32} {value:44} {target}")


# --- the run -------------------------------------------------------------------------


def versions() -> str:
    names = ["starlette", "uvicorn", "uvloop", "httptools", "celery", "kombu", "redis", "psycopg",
             "sqlalchemy"]  # fmt: skip
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}, " + ", ".join(found)


def machine_description(args: argparse.Namespace) -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    with psycopg.connect(databases.pg_dsn(args.pg_admin_url)) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    redis_version = redis.Redis.from_url(args.redis_url).info()["redis_version"]
    wrk = "none"
    if loadgen.has_wrk():
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0]
    return (f"{os.cpu_count()} cores ({cpu}), {platform.platform()}; PostgreSQL {pg}, "
            f"Redis {redis_version}, wrk {wrk.strip()}")  # fmt: skip


# Runs ``forumq serve`` after setting the interpreter's GIL switch interval (an experiment:
# how much of the API's time is threads waiting for the GIL).
SWITCH_INTERVAL_SERVE = (
    "import sys; sys.setswitchinterval(float(sys.argv[1])); from forumq.cli import app; "
    "app(['serve', *sys.argv[2:]], prog_name='forumq')"
)


def api_argv(args: argparse.Namespace) -> list[str]:
    if args.api_switch_interval is None:
        return ["-m", "forumq", "serve"]
    return ["-c", SWITCH_INTERVAL_SERVE, str(args.api_switch_interval)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds of load in (a)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up in (a)")
    parser.add_argument("--connections", type=int, default=32, help="requests in flight")
    parser.add_argument("--replies", type=int, default=5000, help="replies enqueued in (b)")
    parser.add_argument("--workers", default="1,2", help="worker process counts for (b)")
    parser.add_argument("--topics", type=int, default=1, help="topics the replies of (b) go to")
    parser.add_argument("--sync-requests", type=int, default=500, help="requests in (c)")
    parser.add_argument("--drain-timeout", type=float, default=300, help="max seconds in (b)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--profile", action="store_true", help="py-spy the API and a worker")
    parser.add_argument("--profile-seconds", type=float, default=8)
    parser.add_argument(
        "--worker-pool",
        choices=["prefork", "threads", "solo"],
        default="prefork",
        help="the Celery pool of the workers (forumq worker's default: prefork)",
    )
    parser.add_argument(
        "--only",
        default="noop,drain,actions,sync,embedded",
        help="which benchmarks to run: noop, drain, actions, sync, embedded (issue 14) "
        "and a, b, c (issue 3), e.g. 'noop,drain'",
    )
    parser.add_argument("--noop-tasks", type=int, default=10000, help="tasks in (noop)")
    parser.add_argument("--drain-writes", type=int, default=10000, help="writes in (drain)")
    parser.add_argument("--sync-seconds", type=float, default=10, help="8-client sync load")
    parser.add_argument("--idle-seconds", type=float, default=10, help="embedded idle CPU")
    parser.add_argument("--embedded-sync", type=int, default=50,
                        help="embedded sync replies, back to back")  # fmt: skip
    parser.add_argument("--embedded-sync-idle", type=int, default=20,
                        help="embedded sync replies, each after the stack idled")  # fmt: skip
    parser.add_argument("--embedded-drain", type=int, default=500, help="embedded drain")
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "FORUMQ_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))  # fmt: skip
    parser.add_argument("--redis-url", default=os.environ.get(
        "FORUMQ_TEST_REDIS", "redis://127.0.0.1:6379/0"))  # fmt: skip
    parser.add_argument(
        "--api-switch-interval",
        type=float,
        metavar="SECONDS",
        help="experiment: sys.setswitchinterval() in the API (default 0.005)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def summary(ctx: Context, command: str) -> None:
    results = ctx.results
    say("\n=== summary ===")
    say(f"command: {command}")
    speed_summary(ctx)
    if "accept" in results:
        a = results["accept"]
        say(f"(a) accept: forumq {a['forumq_rps']:,.0f} req/s vs bare {a['bare_rps']:,.0f} req/s "
            f"-> ratio {a['ratio']:.2f} (target >= {ACCEPT_TARGET})")  # fmt: skip
    for workers, b in results.get("applied", {}).items():
        say(f"(b) applied with {workers} worker process(es): {b['rate']:,.0f} replies/s end to end "
            f"(worker window {b['worker_window_rate']:,.0f}/s), failed {b['failed']}, "
            f"{'all applied once' if b['ok'] else 'MISMATCH'}")  # fmt: skip
    if "sync" in results:
        s = results["sync"]
        for pct in (50, 99):
            p = s[f"p{pct}"]
            say(
                f"(c) p{pct}: sync {p['http_ms']:.1f} ms vs direct {p['direct_ms']:.1f} ms -> "
                f"overhead {p['overhead_ms']:.1f} ms (target < {OVERHEAD_TARGET_MS[pct]:g} ms)"
            )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = shlex.join([Path(sys.executable).name, "-m", "bench.write_path", *sys.argv[1:]])
    only = set(args.only.split(","))
    out = Path(tempfile.mkdtemp(prefix="forumq-bench-"))
    say(f"machine: {machine_description(args)}\nversions: {versions()}\nlogs: {out}")
    run_id = uuid.uuid4().hex[:8]
    queue = f"forumq.bench.{run_id}"
    with databases.fresh_database(
        args.pg_admin_url, prefix="forumq_bench", keep=args.keep_db
    ) as database_url:
        topics = 100 if only & {"drain", "actions"} else args.topics
        seed = databases.seed(database_url, max(1, topics))
        env = {
            "FORUMQ_DATABASE_URL": database_url,
            "FORUMQ_BROKER_URL": args.redis_url,
            "FORUMQ_INTERACTIVE_QUEUE": queue,
            # Workers consume the bulk queue too: never the shared default one.
            "FORUMQ_BULK_QUEUE": f"forumq.bench.bulk.{run_id}",
            "FORUMQ_JWT_SECRET": "forumq-bench-jwt-secret-0123456789abcdef",
        }
        say(f"database {database_url.rsplit('/', 1)[1]}, queue {queue}, topics {seed.tids}")
        try:
            with stack.http_server(api_argv(args), env, out / "api.log") as (api, pid):
                ctx = Context(args, out, database_url, seed, env, pids=[pid])
                if "a" in only:
                    accept_rate(ctx, api, pid)
                if "b" in only:
                    say(
                        f"\n(b) replies applied per second: {args.replies:,} replies enqueued "
                        f"with respond-async ({args.connections} in flight) to "
                        f"{len(seed.tids)} topic(s), timed until every job finished"
                    )
                    for workers in (int(w) for w in args.workers.split(",")):
                        applied_rate(ctx, api, workers)
                    if args.profile:
                        profile_workers(ctx, api)
                if "c" in only:
                    sync_latency(ctx, api)
                if "noop" in only:
                    noop_drain(ctx)
                if "drain" in only:
                    drain(ctx, api, pid, spread=False)
                    drain(ctx, api, pid, spread=True)
                if "actions" in only:
                    drain(ctx, api, pid, spread=True, actions=True)
                if "sync" in only:
                    sync_clients(ctx, api, pid)
                if "embedded" in only:
                    embedded(ctx)
        finally:
            databases.purge_queue(args.redis_url, run_id)
    summary(ctx, command)
    if args.json:
        args.json.write_text(json.dumps(ctx.results, indent=2, default=str))


if __name__ == "__main__":
    main()
