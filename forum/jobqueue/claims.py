"""Claiming jobs: a worker takes the oldest queued jobs from the jobs table, as many as
it can apply in one transaction, whatever message woke it up.

A claim is its own short transaction: the jobs become ``running`` and their delivery is
counted (``attempts``) before anything is applied, so a job that kills its worker is
seen to, and fails after ``max_attempts``; a job claimed again after its delivery died
is claimed alone, so that no other job is counted for its deaths. A job whose ordering key has
an earlier unfinished job outside the claim (another worker holds it, or it waits for
recovery) is left queued: writes to one object are applied in ``seq`` order, and the
claim that holds the earlier job claims again once it has committed.

PostgreSQL skips the rows other claims are locking (``FOR UPDATE SKIP LOCKED``);
SQLite's single writer serialises claims.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Select, case, exists, select, text, update
from sqlalchemy.orm import Session, aliased

from forum.clock import now_ms
from forum.jobqueue.store import QUEUED, RUNNING, UNFINISHED
from forum.models import Job


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    seq: int
    # Deliveries counted, this one included: above 1, an earlier delivery of the job
    # died (or is still alive elsewhere: its apply transaction holds the row).
    attempts: int


def claim(
    session: Session | Connection,
    wanted: Sequence[str],
    limit: int,
    *,
    other_than: Sequence[str] = (),
    counted: Sequence[str] = (),
) -> list[Claimed]:
    """Claim up to ``limit`` queued jobs in ``seq`` order (kinds other than ``other_than``)
    and the unfinished jobs among ``wanted`` (a message's, or a retry's own jobs: queued,
    or ``running`` with no live worker holding them); in ``seq`` order. A delivery is
    counted for each, except for the ``counted`` ones (claimed by a try that the database
    failed: the retry is the same delivery)."""
    columns = (Job.id, Job.seq, Job.ordering_key, Job.attempts)
    postgresql = _dialect(session) == "postgresql"
    if postgresql:
        found = session.execute(_OLDEST_PG, {"other_than": list(other_than), "limit": limit})
    else:
        found = session.execute(_oldest(limit, other_than))
    rows = {row.id: row for row in found}
    blocked = {row.id for row in rows.values() if row.held}
    wanted = [job_id for job_id in (*wanted, *counted) if job_id not in rows]
    if wanted:  # (usually among the oldest queued already)
        mine = select(*columns).where(Job.id.in_(wanted), Job.state.in_(UNFINISHED))
        more = session.execute(mine.order_by(Job.seq).with_for_update(skip_locked=True)).all()
        if more:
            rows.update((row.id, row) for row in more)
            blocked = _blocked(session, sorted(rows.values(), key=lambda row: row.seq))
    if not rows:
        return []
    candidates = sorted(rows.values(), key=lambda row: row.seq)
    taken = [row for row in candidates if row.id not in blocked]
    # A job claimed before whose delivery died may be what kills its worker: it is
    # claimed alone, and nothing after it, so no other job is counted for its deaths.
    suspect = next((i for i, row in enumerate(taken) if row.attempts and row.id not in counted),
                   None)  # fmt: skip
    if suspect is not None:
        taken = taken[: suspect or 1]
    if not taken:
        return []
    now = now_ms()
    if not counted and postgresql:
        session.execute(_RUN_PG, {"ids": [row.id for row in taken], "now": now})
        return [Claimed(row.id, row.seq, row.attempts + 1) for row in taken]
    values: dict[str, object] = {"state": RUNNING, "started_at": now, "enqueued_at": now}
    values["attempts"] = (
        Job.attempts + case((Job.id.in_(counted), 0), else_=1) if counted else (Job.attempts + 1)
    )
    session.execute(
        update(Job)
        .where(Job.id.in_([row.id for row in taken]))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return [Claimed(row.id, row.seq, row.attempts + (row.id not in counted)) for row in taken]


# PostgreSQL, the hot path: plain SQL (no statement built per claim). The oldest queued
# jobs, and whether each waits behind an unfinished job on its key outside them (on the
# partial index of unfinished jobs); the claim's commit need not wait for its fsync (see
# workers.apply.claim), set within the statement: no round trip of its own.
_OLDEST_PG = text("""
WITH oldest AS (
  SELECT id, seq, ordering_key, attempts FROM jobs
  WHERE state = 'queued' AND kind <> ALL(CAST(:other_than AS text[]))
  ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED)
SELECT id, seq, ordering_key, attempts, EXISTS (
  SELECT 1 FROM jobs AS earlier
  WHERE earlier.ordering_key = oldest.ordering_key AND earlier.state IN ('queued', 'running')
    AND earlier.seq < oldest.seq AND earlier.id NOT IN (SELECT id FROM oldest)) AS held,
  set_config('synchronous_commit', 'off', true)
FROM oldest ORDER BY seq""")
_RUN_PG = text("""
UPDATE jobs SET state = 'running', started_at = :now, enqueued_at = :now,
  attempts = attempts + 1
WHERE id = ANY(CAST(:ids AS text[]))""")


def _oldest(limit: int, other_than: Sequence[str]) -> Select:  # type: ignore[type-arg]
    """``_OLDEST_PG`` for other databases (SQLite: its one writer serialises claims)."""
    queued = select(Job.id, Job.seq, Job.ordering_key, Job.attempts).where(Job.state == QUEUED)
    if other_than:
        queued = queued.where(Job.kind.not_in(other_than))
    oldest = queued.order_by(Job.seq).limit(limit).cte()
    earlier = aliased(Job)
    held = exists().where(
        earlier.ordering_key == oldest.c.ordering_key,
        earlier.state.in_(UNFINISHED),
        earlier.seq < oldest.c.seq,
        earlier.id.not_in(select(oldest.c.id)),
    )
    return select(*oldest.c, held.label("held")).order_by(oldest.c.seq)


def _dialect(session: Session | Connection) -> str:
    bind = session.get_bind() if isinstance(session, Session) else session
    return bind.dialect.name


def _blocked(session: Session | Connection, candidates: list) -> set[str]:  # type: ignore[type-arg]
    """Candidates behind an earlier unfinished job, outside the candidates, on their
    ordering key (one query on the partial index of unfinished jobs)."""
    last: dict[str, int] = {}
    for row in candidates:
        if row.ordering_key:
            last[row.ordering_key] = max(last.get(row.ordering_key, 0), row.seq)
    if not last:
        return set()
    ids = [row.id for row in candidates]
    first_held: dict[str, int] = {}
    for key, seq in session.execute(
        select(Job.ordering_key, Job.seq).where(
            Job.ordering_key.in_(last),
            Job.state.in_(UNFINISHED),
            Job.seq < max(last.values()),
            Job.id.not_in(ids),
        )
    ):
        first_held[key] = min(first_held.get(key, seq), seq)
    return {
        row.id
        for row in candidates
        if row.ordering_key in first_held and row.seq > first_held[row.ordering_key]
    }


def any_queued(session: Session | Connection, other_than: Sequence[str] = ()) -> bool:
    """Is a job of these kinds waiting to be claimed?"""
    condition = exists().where(Job.state == QUEUED)
    if other_than:
        condition = condition.where(Job.kind.not_in(other_than))
    return bool(session.scalar(select(condition)))
