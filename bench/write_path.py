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
from devstack import databases
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
    parser.add_argument("--only", default="a,b,c", help="which benchmarks to run, e.g. 'a,c'")
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
        seed = databases.seed(database_url, max(1, args.topics))
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
        finally:
            databases.purge_queue(args.redis_url, run_id)
    summary(ctx, command)
    if args.json:
        args.json.write_text(json.dumps(ctx.results, indent=2, default=str))


if __name__ == "__main__":
    main()
