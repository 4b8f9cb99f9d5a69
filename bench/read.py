"""Read API throughput: ``python bench/read.py [--topics N] [--replies R]``.

Imports a synthetic forum with the bulk path (``forumq import`` through the real stack:
uvicorn, Redis, Celery workers, PostgreSQL; a fresh database), then serves it from one
API process (``forumq serve``, no worker) and keeps ``--clients`` GETs in flight for
``--seconds`` on each page in turn: a topic page (20 posts, a different topic each
request), a category page, a user page, ``/api/recent``, and, in the same run, the bare
Starlette endpoint served the same way (``bench/bare_app.py``: ``GET /api/health``).
Prints requests/s and p50/p99 per page and the topic page's rate as a share of the bare
one's. ``--small-topics`` imports a second, small forum and measures it the same way, to
show that pages stay as fast as the forum grows (the issue's 10k posts against 1M).
``--own-postgres`` runs on a PostgreSQL server the script starts itself (bench/import.py's),
not on the shared one at ``FORUMQ_BENCH_PG``."""

import argparse
import importlib
import os
import random
import sys
import tempfile
import uuid
from contextlib import nullcontext
from pathlib import Path

import psycopg
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import Load, get_load
from bench.stack import Machine, celery_worker, cpu_ms, http_server
from devstack.databases import fresh_database, pg_dsn, purge_queue

bulk = importlib.import_module("bench.import")  # "import" is a keyword
PG_ADMIN_URL = os.environ.get(
    "FORUMQ_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FORUMQ_BENCH_REDIS", "redis://127.0.0.1:6379/0")
SAMPLE = 2000  # distinct pages each load cycles through


def import_forum(url: str, tmp: Path, topics: int, replies: int, categories: int) -> None:
    """The forum, imported through the real stack with ``forumq import``."""
    from forum import tokens
    from forum.db import transaction
    from forum.users import create_user
    from forumq.importer import run_http

    users = max(50, topics // 20)
    export = tmp / "forum.ndjson"
    bulk.generate(export, topics, replies, users, categories)
    with transaction(url) as session:
        admin = create_user(session, None, "bench-admin", admin=True)
        token = tokens.issue_user_token(session, admin.uid)
    tag = uuid.uuid4().hex[:8]
    env = {"FORUMQ_DATABASE_URL": url, "FORUMQ_BROKER_URL": REDIS_URL,
           "FORUMQ_INTERACTIVE_QUEUE": f"forumq.bench.{tag}",
           "FORUMQ_BULK_QUEUE": f"forumq.bench.bulk.{tag}"}  # fmt: skip
    try:
        with (
            celery_worker(env, tmp / "worker.log", 2),
            http_server(["-m", "forumq", "serve"], env, tmp / "import-api.log") as (base, _),
        ):
            summary = run_http(export, base, token, None, 10_000, False, Console(stderr=True))
            assert summary.failed == 0, summary
    finally:
        purge_queue(REDIS_URL, tag)
    with psycopg.connect(pg_dsn(url)) as conn:
        conn.execute("ANALYZE")


def pages(url: str, base: str) -> dict[str, list[str]]:
    """A sample of each page's URLs, in a random order."""
    with psycopg.connect(pg_dsn(url)) as conn:
        tids = [r[0] for r in conn.execute(
            "SELECT tid FROM topics ORDER BY random() LIMIT %s", (SAMPLE,))]  # fmt: skip
        slugs = [r[0] for r in conn.execute(
            "SELECT userslug FROM users ORDER BY random() LIMIT %s", (SAMPLE,))]  # fmt: skip
        cids = [r[0] for r in conn.execute("SELECT cid FROM categories")]
    return {
        "topic page": [f"{base}/api/topic/{tid}" for tid in tids],
        "category page": [f"{base}/api/category/{random.choice(cids)}" for _ in range(SAMPLE)],
        "user page": [f"{base}/api/user/{slug}" for slug in slugs],
        "/api/recent": [f"{base}/api/recent"],
    }


def measure(
    urls: list[str], args: argparse.Namespace, machine_of: Machine, server: int
) -> tuple[Load, str]:
    """The load, and where the CPU went: the server's CPU per 2xx answer (less sensitive
    to other processes than a rate) and the load generator's share of a core."""
    # The client: this process, and wrk once reaped (not the servers it started).
    server_before, client_before = cpu_ms([server]), cpu_ms([os.getpid()], family=False)
    with machine_of as machine:
        load = get_load(urls, {}, args.seconds, args.clients, args.loadgen)
    server_used, client_used = (
        cpu_ms([server]) - server_before,
        cpu_ms([os.getpid()], family=False) - client_before,
    )
    per_answer = server_used / max(1, load.ok)
    client_share = client_used / 10 / load.seconds
    return load, (f"{machine.describe()}; server CPU {per_answer:.2f} ms per answer; load "
                  f"generator ({load.tool}) {client_share:.0f}% of a core")  # fmt: skip


def serve_and_measure(
    admin_url: str, url: str, tmp: Path, args: argparse.Namespace, label: str
) -> None:
    database = url.rsplit("/", 1)[1]
    env = {"FORUMQ_DATABASE_URL": url, "FORUMQ_BROKER_URL": REDIS_URL}
    results: dict[str, Load] = {}
    with http_server(["-m", "bench.bare_app"], env, tmp / "bare.log") as (bare, bare_pid):
        load, where = measure([f"{bare}/api/health"], args, Machine([bare_pid], admin_url,
                              database, server=bare_pid), bare_pid)  # fmt: skip
        results["bare Starlette GET"] = load
        print(f"  {label} bare Starlette GET /api/health: {load.describe()}\n    {where}")
    with http_server(["-m", "forumq", "serve"], env, tmp / "api.log") as (base, api_pid):
        for name, urls in pages(url, base).items():
            get_load(
                urls[:50], {}, 2, args.clients, args.loadgen
            )  # warm the pool and the page cache
            load, where = measure(urls, args, Machine([api_pid], admin_url, database,
                                                      server=api_pid), api_pid)  # fmt: skip
            results[name] = load
            print(f"  {label} {name}: {load.describe()}\n    {where}")
    share = results["topic page"].rate / max(1.0, results["bare Starlette GET"].rate)
    print(f"  {label} topic page / bare: {share:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--replies", type=int, default=9)
    parser.add_argument("--small-topics", type=int, default=1_000)
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--loadgen", choices=("auto", "wrk", "httpx"), default="auto",
                        help="auto: wrk when installed, else asyncio + httpx")  # fmt: skip
    parser.add_argument("--own-postgres", action="store_true",
                        help="a PostgreSQL server of its own (bench/import.py)")  # fmt: skip
    args = parser.parse_args()
    with bulk.own_postgres() if args.own_postgres else nullcontext(PG_ADMIN_URL) as admin_url:
        run(args, admin_url)


def run(args: argparse.Namespace, admin_url: str) -> None:
    forums = [(args.small_topics, "small"), (args.topics, "large")] if args.small_topics else [
        (args.topics, "large")]  # fmt: skip
    for topics, label in forums:
        posts = topics * (1 + args.replies)
        with tempfile.TemporaryDirectory() as tmp_dir, fresh_database(admin_url) as url:
            tmp = Path(tmp_dir)
            import_forum(url, tmp, topics, args.replies, args.categories)
            print(f"{label} forum: {topics:,} topics, {posts:,} posts, {args.categories} "
                  f"categories, imported with the bulk path; one API process, "
                  f"{args.clients} clients, {args.seconds:g} s per page")  # fmt: skip
            serve_and_measure(admin_url, url, tmp, args, label)


if __name__ == "__main__":
    main()
