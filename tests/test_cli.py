"""The ``forumq`` command line as an operator runs it: a real subprocess on a SQLite file."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from api.app import create_app
from forum import tokens
from forum.db import session_factory, transaction
from forum.migrate import upgrade
from forum.models import User
from forum.privileges import is_admin
from forumq.settings import Settings


def forumq(cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """``forumq ARGS`` on the directory's SQLite file; ``settings`` as FORUMQ_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUMQ_")}
    env["FORUMQ_DATABASE_URL"] = f"sqlite:///{cwd / 'cli.sqlite3'}"
    env.update({f"FORUMQ_{name.upper()}": value for name, value in settings.items()})
    env["COLUMNS"] = "200"  # keep rich from wrapping error lines
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
