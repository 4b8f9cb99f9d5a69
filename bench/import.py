"""Bulk import end to end: ``python bench/import.py N [--replies R]``.

Generates a synthetic forum (users, categories, N topics each with R replies) as
NDJSON, imports it with ``forumq import`` (the real client) through the real stack
(uvicorn, Redis, Celery workers, PostgreSQL; a fresh database), and prints topics/s
and posts/s end to end, the peak RSS of the API and worker processes, and, in the
same run on the same rows, the raw ceiling of PostgreSQL COPY and the ratio: the
import's topic and post rows (same authors, categories, times and ids), written to COPY
text files first and then loaded from them, so that only PostgreSQL's work is timed,
with foreign keys checked as the import checks them (per-row triggers off, the parents
locked once; ``--trigger-ceiling`` also times the COPY with per-row triggers).

``--own-postgres`` runs everything (import and COPY ceiling) on a PostgreSQL server
the script starts itself (initdb in a temporary directory, a free port) with the
settings README recommends for bulk imports (``BULK_SETTINGS``), instead of the
server at ``FORUMQ_BENCH_PG``; the machine's server is left as it is.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import orjson
import psycopg
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import Machine, celery_worker, http_server
from devstack.databases import fresh_database, pg_dsn, purge_queue
from devstack.servers import free_port
from forumq.importer import IN_FLIGHT

PG_ADMIN_URL = os.environ.get(
    "FORUMQ_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FORUMQ_BENCH_REDIS", "redis://127.0.0.1:6379/0")
CONTENT = "Imported benchmark content, long enough to look like a real post body."
T0 = 1_400_000_000_000
# A server for bulk imports (README, "Bulk import"): room for the tables and indexes an
# import writes, and checkpoints far enough apart that one does not start every few
# seconds (each one makes the next write to every page log a full-page image).
BULK_SETTINGS = {
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "min_wal_size": "1GB",
    "checkpoint_timeout": "30min",
    "wal_buffers": "64MB",
    "wal_init_zero": "off",
}


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else shutil.which(name) or name


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def own_postgres() -> Iterator[str]:
    """A PostgreSQL server with ``BULK_SETTINGS`` in a temporary directory; yields its
    admin URL (database ``postgres``), stops and removes it after."""
    root = Path(tempfile.mkdtemp(prefix="forumq-bench-pg-"))
    data, port = root / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres",
                                 "-A", "trust", "--no-sync"]),
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    options = [f"-c {key}={value}" for key, value in BULK_SETTINGS.items()]
    options += ["-c listen_addresses=127.0.0.1", f"-c port={port}",
                f"-c unix_socket_directories={root}"]  # fmt: skip
    subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-l", str(root / "log"),
                                 "-o", " ".join(options), "-w", "start"]),
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        yield url  # pg_ctl -w returned once the server accepts connections
    finally:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast",
                                     "stop"]), stdout=subprocess.DEVNULL)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def generate(path: Path, topics: int, replies: int, users: int, categories: int) -> None:
    """Users, categories, then each topic followed by its replies (times increasing)."""
    with path.open("wb") as out:
        for u in range(users):
            out.write(orjson.dumps({"type": "user", "external_id": f"u{u}",
                                    "username": f"user{u}", "timestamp": T0}) + b"\n")  # fmt: skip
        for c in range(categories):
            out.write(orjson.dumps({"type": "category", "external_id": f"c{c}",
                                    "name": f"Category {c}"}) + b"\n")  # fmt: skip
        ts = T0 + 1000
        for t in range(topics):
            ts += 10
            out.write(orjson.dumps({
                "type": "topic", "external_id": f"t{t}", "category": f"c{t % categories}",
                "user": f"u{t % users}", "title": f"Imported topic number {t}",
                "content": CONTENT, "timestamp": ts,
            }) + b"\n")  # fmt: skip
            for r in range(replies):
                out.write(orjson.dumps({
                    "type": "reply", "external_id": f"t{t}r{r}", "topic": f"t{t}",
                    "user": f"u{(t + r + 1) % users}", "content": CONTENT, "timestamp": ts + r + 1,
                }) + b"\n")  # fmt: skip


class PeakRss:
    """Samples VmRSS of processes and their children; keeps the peak per role, and
    the CPU seconds each role's processes used since the first sample."""

    def __init__(self, roles: dict[str, int]) -> None:
        self.roles = roles
        self.peak = dict.fromkeys(roles, 0)
        self._ticks: dict[str, dict[int, tuple[int, int]]] = {role: {} for role in roles}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _family(pid: int) -> list[int]:
        found = [pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == pid:
                    found.append(int(entry.name))
        return found

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    @staticmethod
    def _cpu_ticks(pid: int) -> int:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return -1
        return int(fields[11]) + int(fields[12])  # utime + stime

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for role, pid in self.roles.items():
                family = self._family(pid)
                biggest = max(self._rss_kb(p) for p in family)
                self.peak[role] = max(self.peak[role], biggest)
                for p in family:
                    ticks = self._cpu_ticks(p)
                    if ticks >= 0:
                        first, _ = self._ticks[role].get(p, (ticks, ticks))
                        self._ticks[role][p] = (first, ticks)

    def cpu_seconds(self, role: str) -> float:
        """CPU used by ``role`` while sampled (to 0.2 s; processes seen at least once)."""
        hz = os.sysconf("SC_CLK_TCK")
        return sum(last - first for first, last in self._ticks[role].values()) / hz

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _copy_text(values: tuple[object, ...]) -> str:
    """One row in COPY's text format (the benchmark's values hold no tab or backslash)."""
    fields = ("\\N" if v is None else ("t" if v else "f") if isinstance(v, bool) else str(v)
              for v in values)  # fmt: skip
    return "\t".join(fields) + "\n"


def write_copy_files(folder: Path, topics: int, replies: int, users: int,
                     categories: int) -> tuple[Path, Path]:  # fmt: skip
    """``generate``'s topics and posts as COPY text files: the same authors, categories,
    titles and times, with the ids the import gives them."""
    topic_file, post_file = folder / "topics.copy", folder / "posts.copy"
    with topic_file.open("w") as topic_out, post_file.open("w") as post_out:
        for t in range(topics):
            ts, main_pid = T0 + 1000 + 10 * (t + 1), t * (replies + 1) + 1
            topic_out.write(_copy_text((
                t + 1, t % categories + 1, t % users + 1, f"Imported topic number {t}",
                f"{t + 1}/imported-topic-number-{t}", main_pid, ts, ts + replies, replies + 1,
                0, min(replies, users) + 1, main_pid + replies if replies else None, False,
                False, False, 0, 0, 0, 0, 0, f"t{t}",
            )))  # fmt: skip
            post_out.write(_copy_text((main_pid, t + 1, t % users + 1, CONTENT, ts, None, 0,
                                       None, False, 0, 0, 0, 0, 0, None)))  # fmt: skip
            for r in range(replies):
                post_out.write(_copy_text((
                    main_pid + r + 1, t + 1, (t + r + 1) % users + 1, CONTENT, ts + r + 1, None,
                    0, None, False, 0, 0, 0, 0, 0, f"t{t}r{r}",
                )))  # fmt: skip
    return topic_file, post_file


TOPIC_COLUMNS = (
    "tid, cid, uid, title, slug, main_pid, timestamp, lastposttime, postcount, viewcount, "
    "postercount, teaser_pid, locked, pinned, deleted, upvotes, downvotes, followercount, "
    "deleter_uid, deleted_timestamp, external_id"
)
POST_COLUMNS = ("pid, tid, uid, content, timestamp, to_pid, edited, editor, deleted, upvotes, "
                "downvotes, replies, bookmarks, deleter_uid, external_id")  # fmt: skip


def copy_ceiling(admin_url: str, files: tuple[Path, Path], users: int, categories: int,
                 row_triggers: bool = False) -> float:  # fmt: skip
    """Seconds PostgreSQL takes to COPY the import's topic and post rows (``files``, made
    beforehand: no client work is timed) into a fresh database, in one transaction. Their
    users and categories are loaded first, untimed, so foreign keys and indexes cost what
    they cost the import: checked as the import checks them (per-row triggers off, the
    parents locked once), or by PostgreSQL's per-row triggers with ``row_triggers``."""
    from forum.db import transaction
    from forum.models import Category, User

    with fresh_database(admin_url, prefix="forumq_bench") as url:
        with transaction(url) as session:
            session.add_all(User(uid=u + 1, username=f"user{u}", userslug=f"user{u}",
                                 joindate=T0, lastonline=T0) for u in range(users))  # fmt: skip
            session.add_all(Category(cid=c + 1, name=f"Category {c}", slug=f"{c + 1}/category-{c}")
                            for c in range(categories))  # fmt: skip
        started = time.perf_counter()
        with psycopg.connect(pg_dsn(url)) as conn, conn.cursor() as cur:
            if not row_triggers:
                cur.execute("SET LOCAL session_replication_role = replica")
            for table, columns, path in (("topics", TOPIC_COLUMNS, files[0]),
                                         ("posts", POST_COLUMNS, files[1])):  # fmt: skip
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy, path.open("rb") as f:
                    while block := f.read(1 << 20):
                        copy.write(block)
            if not row_triggers:
                for table, key in (("users", "uid"), ("categories", "cid")):
                    cur.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} ORDER BY {key} "
                                "FOR KEY SHARE) AS locked")  # fmt: skip
            conn.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("topics", type=int)
    parser.add_argument("--replies", type=int, default=2)
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument("--users", type=int, default=0, help="default: topics / 20, >= 50")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--in-flight", type=int, default=IN_FLIGHT,
                        help="batches the client keeps sent (forumq import's default)")  # fmt: skip
    parser.add_argument("--own-postgres", action="store_true",
                        help="run on a PostgreSQL server started with BULK_SETTINGS")  # fmt: skip
    parser.add_argument("--trigger-ceiling", action="store_true",
                        help="also time the COPY with PostgreSQL's per-row foreign-key "
                             "triggers (FORUMQ_BULK_SKIP_ROW_TRIGGERS=false)")  # fmt: skip
    args = parser.parse_args()
    with own_postgres() if args.own_postgres else nullcontext(PG_ADMIN_URL) as admin_url:
        run(args, admin_url)


def run(args: argparse.Namespace, admin_url: str) -> None:
    users = args.users or max(50, args.topics // 20)
    console = Console(stderr=True)
    from forumq.importer import run_http

    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        fresh_database(admin_url, prefix="forumq_bench") as url,
    ):
        tmp = Path(tmp_dir)
        export = tmp / "forum.ndjson"
        generate(export, args.topics, args.replies, users, args.categories)
        items = users + args.categories + args.topics * (1 + args.replies)
        from forum import tokens
        from forum.db import transaction
        from forum.users import create_user

        with transaction(url) as session:
            admin = create_user(session, None, "bench-admin", admin=True)
            token = tokens.issue_user_token(session, admin.uid)
        tag = uuid.uuid4().hex[:8]
        env = {
            "FORUMQ_DATABASE_URL": url,
            "FORUMQ_BROKER_URL": REDIS_URL,
            "FORUMQ_INTERACTIVE_QUEUE": f"forumq.bench.{tag}",
            "FORUMQ_BULK_QUEUE": f"forumq.bench.bulk.{tag}",
            "FORUMQ_BULK_MAX_ITEMS": str(max(args.batch, 10_000)),
            "FORUMQ_BULK_CHUNK_SIZE": str(args.chunk),
        }
        try:
            with (
                celery_worker(env, tmp / "worker.log", args.concurrency) as worker_pid,
                http_server(["-m", "forumq", "serve"], env, tmp / "api.log") as (base, api_pid),
                PeakRss({"api": api_pid, "worker": worker_pid}) as rss,
                Machine([api_pid, worker_pid], admin_url, url.rsplit("/", 1)[1]) as machine,
            ):
                started, client_cpu = time.perf_counter(), time.process_time()
                summary = run_http(export, base, token, None, args.batch, False, console,
                                   in_flight=args.in_flight)  # fmt: skip
                elapsed = time.perf_counter() - started
                client_cpu = time.process_time() - client_cpu
        finally:
            purge_queue(REDIS_URL, env["FORUMQ_INTERACTIVE_QUEUE"])
            purge_queue(REDIS_URL, env["FORUMQ_BULK_QUEUE"])
        posts = args.topics * (1 + args.replies)
        files = write_copy_files(tmp, args.topics, args.replies, users, args.categories)
        ceiling = copy_ceiling(admin_url, files, users, args.categories)
        size_mb = export.stat().st_size / 1e6
        print(f"bulk import: {args.topics:,} topics x {args.replies} replies, {users:,} users, "
              f"{args.categories} categories = {items:,} items ({size_mb:.0f} MB), "
              f"batch {args.batch}, chunk {args.chunk}, worker -c {args.concurrency}"
              + (", own PostgreSQL (bulk settings)" if args.own_postgres else ""))  # fmt: skip
        print(f"  end to end: {elapsed:.1f} s, {args.topics / elapsed:,.0f} topics/s, "
              f"{posts / elapsed:,.0f} posts/s, {summary.failed} failed")  # fmt: skip
        print(f"  peak RSS: api {rss.peak['api'] / 1024:.0f} MB, "
              f"worker (largest process) {rss.peak['worker'] / 1024:.0f} MB")  # fmt: skip
        print(f"  COPY ceiling (topics + posts from files, one transaction, parents locked "
              f"once): {ceiling:.1f} s, {args.topics / ceiling:,.0f} topics/s; end to end = "
              f"{100 * ceiling / elapsed:.0f}% of it")  # fmt: skip
        if args.trigger_ceiling:
            slow = copy_ceiling(admin_url, files, users, args.categories, row_triggers=True)
            print(f"  COPY with per-row foreign-key triggers: {slow:.1f} s, "
                  f"{args.topics / slow:,.0f} topics/s")  # fmt: skip
        client = client_cpu
        print(f"  CPU seconds: api {rss.cpu_seconds('api'):.1f}, worker "
              f"{rss.cpu_seconds('worker'):.1f}, client (this process) {client:.1f}")  # fmt: skip
        print(f"  {machine.describe()}")


if __name__ == "__main__":
    main()
