"""Operators' view: /metrics counts accepted jobs and shows the backlog; /api/health."""

from tests.support import Stack


def test_metrics_and_health(stack: Stack) -> None:
    with stack.client(stack.admin_token) as client:
        client.post(
            "/api/v1/topics",
            json={"title": "Measured", "content": "Counted by metrics", "cid": stack.cid},
        )
        metrics = client.get("/metrics")
        health = client.get("/api/health")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'forumq_jobs_accepted_total{kind="topics.create"}' in text
    assert 'forumq_jobs_unfinished{state="queued"}' in text
    assert "forumq_accept_group_size_count" in text
    assert health.status_code == 200 and health.json() == {"status": "ok"}
