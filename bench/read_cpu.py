"""A read page's CPU in the API process, no HTTP: ``python bench/read_cpu.py``.

Writes a small forum (``--topics`` topics of ``--posts`` posts, ``--users`` authors) with
forumq's own domain functions into a fresh database (PostgreSQL at ``FORUMQ_BENCH_PG``, or
``--sqlite``), then serves ``--pages`` topic pages in a loop the way the API's endpoint
does (a read session, the viewer, ``forum.read.topics.topic_page``, ``orjson.dumps``),
a different topic each time, as a guest and as a user. Prints the process's CPU time per
page (``time.process_time``: the load of other processes moves it far less than a rate)
and the wall time, best of ``--rounds``. ``--profile FILE`` writes a pyinstrument HTML
profile of one round instead. Under ``valgrind --tool=callgrind`` (``--rounds 1``), the
instruction count of the loop is the load-insensitive figure."""

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.databases import fresh_database

PG_ADMIN_URL = os.environ.get(
    "FORUMQ_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONTENT = "Some **content** that is long enough, with a [link](https://example.com) and `code`."


@contextmanager
def database(sqlite: bool, keep: bool) -> Iterator[str]:
    if not sqlite:
        with fresh_database(PG_ADMIN_URL, prefix="forumq_bench", keep=keep) as url:
            yield url
        return
    from forum.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/forum.db"
        upgrade(url)
        yield url


def seed(url: str, topics: int, posts: int, users: int) -> tuple[list[int], int]:
    """The topics' ids and a user's uid."""
    from forum.categories import create_category
    from forum.db import transaction
    from forum.topics import create_topic, reply
    from forum.users import create_user

    with transaction(url) as session:
        uids = [create_user(session, None, f"Bench reader {n}").uid for n in range(users)]
        cid = create_category(session, None, "Bench category").cid
    tids = []
    for n in range(topics):
        with transaction(url) as session:
            created = create_topic(session, uids[n % users], cid, f"Bench topic {n}", CONTENT)
            tid = int(created["topicData"]["tid"])  # type: ignore[index]
            for r in range(posts - 1):
                reply(session, uids[(n + r + 1) % users], tid, f"{CONTENT} {r}", timestamp=None)
        tids.append(tid)
    return tids, uids[0]


def existing(url: str) -> tuple[list[int], int]:
    """A forum seeded by an earlier run (``--keep``): its topics and its first user."""
    from sqlalchemy import select

    from forum.db import transaction
    from forum.models import Topic, User

    with transaction(url) as session:
        tids = list(session.scalars(select(Topic.tid).order_by(Topic.tid)))
        return tids, session.scalars(select(User.uid).order_by(User.uid)).first() or 0


def page_loop(url: str, tids: list[int], uid: int, pages: int) -> Callable[[], None]:
    from forum.db import read_session_factory
    from forum.read.access import load_viewer
    from forum.read.topics import topic_page

    sessions = read_session_factory(url)

    def loop() -> None:
        for n in range(pages):
            with sessions() as session:
                viewer = load_viewer(session, uid)
                tid, now = tids[n % len(tids)], int(time.time() * 1000)
                shown: Any = topic_page(session, viewer, tid, post_index=None, page=None,
                                        per_page=20, now=now)  # fmt: skip
                orjson.dumps(shown)

    return loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--keep", action="store_true", help="keep the database (PostgreSQL)")
    parser.add_argument("--database-url", help="a forum seeded by an earlier --keep run")
    args = parser.parse_args()
    if args.database_url:
        run(args, args.database_url, *existing(args.database_url))
        return
    with database(args.sqlite, args.keep) as url:
        run(args, url, *seed(url, args.topics, args.posts, args.users))


def run(args: argparse.Namespace, url: str, tids: list[int], uid: int) -> None:
    for who, caller in (("guest", 0), ("user", uid)):
        loop = page_loop(url, tids, caller, args.pages)
        loop()  # warm: caches, pool, compiled statements
        if args.profile:
            from pyinstrument import Profiler

            with Profiler(interval=0.0005) as profiler:
                loop()
            Path(f"{who}-{args.profile}").write_text(profiler.output_html())
            print(profiler.output_text(color=False, show_all=False))
            continue
        cpu, wall = [], []
        for _ in range(args.rounds):
            began, began_cpu = time.perf_counter(), time.process_time()
            loop()
            cpu.append((time.process_time() - began_cpu) / args.pages * 1000)
            wall.append((time.perf_counter() - began) / args.pages * 1000)
        where = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        print(f"topic page ({who}, {where}): CPU {min(cpu):.2f} ms per page "
              f"(rounds {', '.join(f'{c:.2f}' for c in cpu)}), wall {min(wall):.2f} ms, "
              f"load {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
