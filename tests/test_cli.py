"""The ``forumq`` command line as an operator runs it: a real subprocess on a SQLite file."""

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from celery import Celery
from sqlalchemy import text
from starlette.testclient import TestClient

from api.app import create_app
from devstack import servers
from forum import tokens
from forum.db import session_factory, transaction
from forum.migrate import head_revision, upgrade
from forum.models import Job, User
from forum.privileges import is_admin
from forumq.settings import Settings


def forumq(
    cwd: Path, *args: str, columns: int = 200, **settings: str
) -> subprocess.CompletedProcess[str]:
    """``forumq ARGS`` on the directory's SQLite file; ``settings`` as FORUMQ_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUMQ_")}
    env["FORUMQ_DATABASE_URL"] = f"sqlite:///{cwd / 'cli.sqlite3'}"
    env.update({f"FORUMQ_{name.upper()}": value for name, value in settings.items()})
    env["COLUMNS"] = str(columns)  # rich wraps tables at the terminal's width
    return subprocess.run(
        [sys.executable, "-m", "forumq", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a migrated database."""
    path = tmp_path_factory.mktemp("cli")
    migrated = forumq(path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout == ""  # the chatter goes to stderr; stdout is for values
    return path


def database_url(home: Path) -> str:
    return f"sqlite:///{home / 'cli.sqlite3'}"


def test_migrate_is_idempotent(home: Path) -> None:
    again = forumq(home, "migrate")
    assert again.returncode == 0, again.stderr


def test_user_create_prints_the_uid(home: Path) -> None:
    admin = forumq(home, "user", "create", "Chief", "--password", "secret-pass", "--admin")
    plain = forumq(home, "user", "create", "Plain", "--password", "secret-pass",
                   "--email", "plain@example.com")  # fmt: skip
    assert admin.returncode == 0 and plain.returncode == 0, admin.stderr + plain.stderr
    admin_uid, plain_uid = int(admin.stdout), int(plain.stdout)
    assert admin.stdout == f"{admin_uid}\n"
    with session_factory(database_url(home))() as session:
        chief = session.get(User, admin_uid)
        assert chief is not None and chief.username == "Chief" and chief.password_hash
        assert is_admin(session, admin_uid)
        other = session.get(User, plain_uid)
        assert other is not None and other.email == "plain@example.com"
        assert not is_admin(session, plain_uid)


def test_token_create_prints_only_a_working_token(home: Path) -> None:
    uid = int(forumq(home, "user", "create", "Tokened", "--password", "secret-pass").stdout)
    master = forumq(home, "token", "create", "--master")
    own = forumq(home, "token", "create", "--uid", str(uid))
    assert master.returncode == 0 and own.returncode == 0, master.stderr + own.stderr
    master_secret, own_secret = master.stdout.strip(), own.stdout.strip()
    assert master.stdout == master_secret + "\n" and len(master_secret) == 36
    assert own.stdout == own_secret + "\n" and len(own_secret) == 36
    # Both authenticate against the API on the same database.
    settings = Settings(database_url=database_url(home), broker_url="memory://")
    with TestClient(create_app(settings)) as client:
        as_user = client.post("/api/v1/ping", headers={"Authorization": f"Bearer {own_secret}"})
        as_master = client.post(
            f"/api/v1/ping?_uid={uid}", headers={"Authorization": f"Bearer {master_secret}"}
        )
    assert as_user.status_code == 200 and as_user.json()["params"] == {"uid": uid}
    assert as_master.status_code == 200 and as_master.json()["params"] == {"uid": uid}
    with session_factory(database_url(home))() as session:
        found = tokens.lookup(session, master_secret)
        assert found is not None and found.is_master


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("token", "create"), "exactly one of --master or --uid"),
        (("token", "create", "--master", "--uid", "1"), "exactly one of --master or --uid"),
        (("token", "create", "--uid", "987654"), "no-user"),
        (("token", "create", "--uid", "abc"), "--uid"),
        (("user", "create", "Shorty", "--password", "123"), "password-too-short"),
        (("user", "create", "Mailer", "--password", "secret-pass", "--email", "nope"),
         "invalid-email"),
        (("user", "create"), "Missing argument"),
    ],
)  # fmt: skip
def test_bad_usage_fails_clearly(home: Path, args: tuple[str, ...], message: str) -> None:
    result = forumq(home, *args)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_commands_before_migrate_say_so(tmp_path: Path) -> None:
    result = forumq(tmp_path, "user", "create", "Early", "--password", "secret-pass")
    assert result.returncode != 0
    assert "forumq migrate" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_refused_migration_says_what_to_fix_without_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade(url, "0006")  # before e-mail addresses became unique in any case
    with transaction(url) as session:
        for n, email in enumerate(["Ann@example.org", "ann@EXAMPLE.org"]):
            session.execute(
                text(
                    "INSERT INTO users (username, userslug, email, joindate, lastonline,"
                    " lastposttime, postcount, topiccount, reputation, banned, banned_until,"
                    " ban_reason, follower_count, following_count, profile)"
                    " VALUES (:name, :name, :email, 0, 0, 0, 0, 0, 0, 0, 0, '', 0, 0, '{}')"
                ),
                {"name": f"ann{n}", "email": email},
            )
    refused = forumq(tmp_path, "migrate")
    assert refused.returncode == 1
    assert "migration refused" in refused.stderr and "Ann@example.org (uid 1)" in refused.stderr
    assert "Traceback" not in refused.stderr, refused.stderr
    with transaction(url) as session:
        session.execute(text("UPDATE users SET email = NULL WHERE uid = 2"))
    assert forumq(tmp_path, "migrate").returncode == 0


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed (and it printed no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_version(tmp_path: Path) -> None:
    result = forumq(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout == "forumq 0.1.0\n"


@pytest.mark.parametrize(
    ("command", "variable", "value", "says"),
    [
        ("migrate", "DATABASE_URL", "not a url", "is not a database URL (e.g. postgresql+psycopg://"),
        ("up", "DATABASE_URL", ":port", "is not a database URL (e.g. postgresql+psycopg://"),
        ("serve", "DATABASE_URL", "postgres://", "names no driver forumq ships: use postgresql+"),
        ("migrate", "DATABASE_URL", "postgresql+psycopg://db-host", "names no database (e.g."),
        ("worker", "BROKER_URL", "redsi://h:1/0", "No such transport: redsi.  Did you mean redis?"),
        ("up", "BROKER_URL", "localhost:6379", "is not a broker URL (e.g. redis://"),
        ("serve", "NOTIFY_URL", "localhost", "is not a Redis URL"),
    ],
)  # fmt: skip
def test_a_malformed_url_is_one_line(
    tmp_path: Path, command: str, variable: str, value: str, says: str
) -> None:
    result = forumq(tmp_path, command, **{variable.lower(): value})
    assert result.returncode == 2
    line = error_line(result)
    assert line.startswith(f"error: FORUMQ_{variable}: {value!r}"), line
    assert says in line, line
    assert not (tmp_path / "forumq.sqlite3").exists()  # nothing started


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = forumq(tmp_path, "--debug", "migrate", database_url="not a url")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "not a database URL" in result.stderr


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    closed = f"postgresql+psycopg://forumq:secret@127.0.0.1:{servers.free_port()}/forumq"
    result = forumq(tmp_path, "migrate", database_url=closed)
    assert result.returncode == 2
    line = error_line(result)
    assert line.startswith("error: cannot reach the database postgresql+psycopg://forumq:***@127")
    assert "Connection refused" in line and "set FORUMQ_DATABASE_URL" in line
    assert "secret" not in line


def test_an_unwritable_directory_is_one_line(tmp_path: Path) -> None:
    # The database file's directory cannot be created or written (it is a file).
    (tmp_path / "blocked").write_text("")
    url = f"sqlite:///{tmp_path / 'blocked' / 'forumq.sqlite3'}"
    result = forumq(tmp_path, "up", "--port", str(servers.free_port()),
                    database_url=url)  # fmt: skip
    assert result.returncode == 2
    line = error_line(result)
    assert "cannot open the SQLite database" in line and "writable" in line


def test_user_create_refuses_a_taken_username(home: Path) -> None:
    first = forumq(home, "user", "create", "bob", "--password", "secret-pass")
    assert first.returncode == 0, first.stderr
    again = forumq(home, "user", "create", "Bob", "--password", "secret-pass")
    assert again.returncode == 1
    assert error_line(again) == "error: username-taken"
    with session_factory(database_url(home))() as session:
        slugs = session.scalars(text("SELECT userslug FROM users WHERE userslug LIKE 'bob%'"))
        assert list(slugs) == ["bob"]


def test_migrate_says_what_it_did(tmp_path: Path) -> None:
    (tmp_path / "fresh").mkdir()
    created = forumq(tmp_path / "fresh", "migrate")
    assert created.returncode == 0, created.stderr
    head = head_revision()
    assert created.stderr == f"created the database schema (revision {head})\n"
    again = forumq(tmp_path / "fresh", "migrate")
    assert again.stderr == f"database is up to date (revision {head})\n"
    upgrade(f"sqlite:///{tmp_path / 'cli.sqlite3'}", "0006")
    migrated = forumq(tmp_path, "migrate")
    assert migrated.stderr == f"migrated the database from revision 0006 to {head}\n"


def test_jobs_list_refuses_an_unknown_state(home: Path) -> None:
    result = forumq(home, "jobs", "list", "--state", "bogus")
    assert result.returncode == 1
    assert error_line(result) == (
        "error: no state 'bogus': give one of queued, running, succeeded, failed"
    )


def test_jobs_list_shows_whole_ids_that_retry_takes_by_prefix(home: Path) -> None:
    ids = [f"{prefix}-0000-4000-8000-000000000000" for prefix in ("aaaa1111", "aaaa2222")]
    with transaction(database_url(home)) as session:
        for job_id in ids:
            session.add(Job(id=job_id, kind="topic.create", router="v2", actor_uid=1, command={},
                            state="failed", created_at=0, enqueued_at=0, attempts=1,
                            error={"key": "no-topic"}))  # fmt: skip
    listed = forumq(home, "jobs", "list", "--state", "failed", columns=80)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines() if line.startswith("aaaa")]
    # Whole cells on 80 columns: what `jobs retry` takes, and what failed and why.
    assert sorted(rows) == [[job_id, "topic.create", "failed", "1", "no-topic"] for job_id in ids]
    ambiguous = forumq(home, "jobs", "retry", "aaaa")
    assert ambiguous.returncode == 1
    assert (
        error_line(ambiguous) == "error: aaaa is the start of more than one job id: give more of it"
    )
    unknown = forumq(home, "jobs", "retry", "ffff")
    assert error_line(unknown) == "error: no job ffff"


def test_serve_and_up_on_a_port_in_use_exit_at_once(tmp_path: Path, redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        expected = (
            f"error: cannot listen on 127.0.0.1:{port}: in use. Stop what uses it, or pass --port"
        )
        # The production shape (Redis notifications) and the embedded default.
        served = forumq(tmp_path, "serve", "--port", str(port), broker_url=redis_url)
        upped = forumq(tmp_path, "up", "--port", str(port))
    for result in (served, upped):
        assert result.returncode == 2
        assert error_line(result) == expected
    assert "is up" not in upped.stderr and not (tmp_path / "forumq.sqlite3").exists()


def test_a_worker_whose_database_is_down_logs_a_line_per_retry(
    tmp_path: Path, redis_url: str
) -> None:
    queue = f"forumq.test.down.{os.getpid()}"
    env = {
        "FORUMQ_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{servers.free_port()}/x",
        "FORUMQ_BROKER_URL": redis_url,
        "FORUMQ_INTERACTIVE_QUEUE": queue,
        "FORUMQ_BULK_QUEUE": f"{queue}.bulk",
        "FORUMQ_SWEEP_INTERVAL_SECONDS": "0.5",
    }
    log = tmp_path / "worker.log"
    with servers.running_worker(env, log, 1):
        sender = Celery(broker=redis_url)
        sender.send_task("forumq.apply_jobs", args=[[str(uuid.uuid4())]], queue=queue)
        servers.wait_until(lambda: log.read_text().count("retry: Retry in") >= 3, 30, "retries")
        sender.close()
    text = log.read_text()
    assert "Traceback" not in text, text
    failed = [line for line in text.splitlines() if "sweep failed" in line]
    assert len(failed) >= 2 and all("Connection refused" in line for line in failed), text


SERVER_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # never reached


@pytest.mark.parametrize("secret", ["change-me", "secret", "CHANGEME", "s" * 31, "é" * 15])
def test_serve_refuses_a_weak_jwt_secret_on_a_server_database(tmp_path: Path, secret: str) -> None:
    refused = forumq(tmp_path, "serve", database_url=SERVER_DATABASE, jwt_secret=secret)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "FORUMQ_JWT_SECRET" in lines[0], refused.stderr
    assert "forumq secret" in lines[0]


def test_forumq_secret_prints_a_strong_secret(tmp_path: Path) -> None:
    from api.auth import jwt_secret_weakness

    printed = [forumq(tmp_path, "secret") for _ in range(2)]
    values = [result.stdout.strip() for result in printed]
    assert all(result.returncode == 0 for result in printed)
    assert values[0] != values[1] and all(len(value.encode()) >= 48 for value in values)
    assert [jwt_secret_weakness(value) for value in values] == [None, None]


def test_serve_on_the_embedded_default_warns_of_a_weak_secret(tmp_path: Path) -> None:
    from devstack import servers

    assert forumq(tmp_path, "migrate").returncode == 0
    log = tmp_path / "serve.log"
    env = {"FORUMQ_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
           "FORUMQ_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
           "FORUMQ_JWT_SECRET": "secret"}  # fmt: skip
    with servers.running_api(env, log) as base_url:
        ping = httpx.get(f"{base_url}/api/health")
    assert ping.status_code == 200
    assert "warning: FORUMQ_JWT_SECRET is a well-known value" in log.read_text()


def test_bootstrap_creates_the_first_admin_once(tmp_path: Path) -> None:
    assert forumq(tmp_path, "migrate").returncode == 0
    first = forumq(tmp_path, "bootstrap")
    again = forumq(tmp_path, "bootstrap")
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    token = first.stdout.strip()
    assert first.stdout == token + "\n" and len(token) == 36
    assert "Created user 'admin' (uid 1)" in first.stderr
    assert again.stdout == "" and "nothing to do" in again.stderr
    with session_factory(database_url(tmp_path))() as session:
        found = tokens.lookup(session, token)
        assert found is not None and found.is_master and is_admin(session, 1)
