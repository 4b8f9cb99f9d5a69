"""Order per object: replies to one topic are applied in the order they were accepted,
whatever the number of workers."""

import asyncio
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from devstack import databases, servers
from forum.db import engine_for
from forum.models import Job, Post
from tests.faults import harness
from tests.support import require_postgres


def test_replies_to_one_topic_apply_in_acceptance_order(redis_url: str, tmp_path: Path) -> None:
    require_postgres()
    with databases.fresh_database() as database_url:
        seed = databases.seed(database_url, topics=1)
        token, tid = seed.admin_token, seed.tids[0]
        env = harness.fault_env(database_url, redis_url)
        # One job per message and eight worker processes racing for them: without the
        # ordering rule, replies would land in whatever order the workers reach them.
        env["FORUMQ_BATCH_MAX_JOBS"] = "1"
        workers = [
            servers.start_worker(env, tmp_path / f"worker{i}.log", 4, own_group=True)
            for i in range(2)
        ]
        tag = uuid.uuid4().hex[:8]
        headers = {"Authorization": f"Bearer {token}", "Prefer": "respond-async"}
        try:
            with servers.running_api(env, tmp_path / "api.log") as base_url:

                async def send() -> list[str]:
                    # 300 requests at once against eight busy workers on two cores: wait
                    # for a pooled connection as long as it takes, not httpx's 5 s.
                    async with httpx.AsyncClient(
                        base_url=base_url, headers=headers, timeout=60
                    ) as client:
                        responses = await asyncio.gather(
                            *(client.post(f"/api/v1/topics/{tid}",
                                          json={"content": f"{tag} reply {i:04d}"})
                              for i in range(300))
                        )  # fmt: skip
                    assert {r.status_code for r in responses} == {202}
                    return [r.json()["payload"]["job_id"] for r in responses]

                job_ids = asyncio.run(send())
                harness.wait_for_jobs(database_url, expected=300, timeout=120)
        finally:
            for worker in workers:
                servers.kill_group(worker)
        with engine_for(database_url).connect() as conn:
            accepted = (
                conn.execute(select(Job.command).where(Job.id.in_(job_ids)).order_by(Job.seq))
                .scalars()
                .all()
            )
            states = set(conn.execute(select(Job.state).where(Job.id.in_(job_ids))).scalars())
            applied = conn.execute(
                select(Post.content).where(Post.tid == tid, Post.content.like(f"{tag} %"))
                .order_by(Post.pid)
            ).scalars().all()  # fmt: skip
    assert states == {"succeeded"}
    assert len(applied) == 300
    assert applied == [command["content"] for command in accepted]
