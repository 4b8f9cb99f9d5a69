"""``/api/health`` is liveness; ``/api/ready`` says whether writes can be accepted."""

from pathlib import Path

import httpx

from devstack import servers
from forum.migrate import head_revision, upgrade
from tests.support import Stack


def test_a_running_stack_is_ready(any_stack: Stack) -> None:
    ready = httpx.get(f"{any_stack.base_url}/api/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {
            "database": {"ok": True},
            "migrations": {"ok": True, "revision": head_revision(), "head": head_revision()},
            "broker": {"ok": True},
        },
    }
    assert httpx.get(f"{any_stack.base_url}/api/health").json() == {"status": "ok"}


def test_not_ready_names_the_reason_while_health_stays_ok(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'forumq.sqlite3'}"
    env = {  # a database nobody migrated, a broker nobody runs
        "FORUMQ_DATABASE_URL": database_url,
        "FORUMQ_BROKER_URL": f"redis://127.0.0.1:{servers.free_port()}/0",
    }
    with servers.running_api(env, tmp_path / "api.log") as base_url:
        assert httpx.get(f"{base_url}/api/health").status_code == 200
        before = httpx.get(f"{base_url}/api/ready", timeout=30)
        upgrade(database_url)
        after = httpx.get(f"{base_url}/api/ready", timeout=30)
    assert before.status_code == 503
    checks = before.json()["checks"]
    assert before.json()["status"] == "unavailable"
    assert checks["database"] == {"ok": True}
    assert checks["migrations"] == {
        "ok": False, "revision": None, "head": head_revision(),
        "reason": "at no revision: run forumq migrate",
    }  # fmt: skip
    assert checks["broker"]["ok"] is False
    assert "Connection refused" in checks["broker"]["reason"]
    assert after.status_code == 503
    assert after.json()["checks"]["migrations"]["ok"] is True
    assert after.json()["checks"]["broker"]["ok"] is False
